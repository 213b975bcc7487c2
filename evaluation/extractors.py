"""Feature extractors registered in torch-fidelity's registry (its metric code then runs unchanged).

`digits-cnn` wraps the classifier the workflow trains (softdimo/tracks/digits/classifier.py); its weights come only from
an explicit path (`feature_extractor_weights_path`), never from a download.
"""
import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor


class DigitsCNNExtractor(FeatureExtractorBase):
    KIND, PROVIDER = "classifier", "results/c2i/classifier.pt"

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{name} needs feature_extractor_weights_path (the workflow's {self.PROVIDER})")
        from softdimo.checkpoints import load_artefact

        self.model, _ = load_artefact(feature_extractor_weights_path, self.KIND)

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)

    def forward(self, x):
        features, logits = self.model(x)
        out = {"features": features.double(), "logits": logits.double()}
        return tuple(out[name] for name in self.features_list)


class ShapesCNNExtractor(DigitsCNNExtractor):
    """The shapes world's cell-content CNN (softdimo/tracks/shapes/judges.py); features only (no Inception Score)."""
    KIND, PROVIDER = "judge", "results/t2i/judges/shapes_cnn.pt"

    @staticmethod
    def get_provided_features_list():
        return ("features",)

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)

    def forward(self, x):
        return (self.model(x)[0].double(),)


# config name -> torch-fidelity registry name; inception_v3 is torch-fidelity's own TF-compatible network
EVALUATORS = {"digits_cnn": "digits-cnn", "inception_v3": "inception-v3-compat", "shapes_cnn": "shapes-cnn"}


def register_all() -> None:
    if "digits-cnn" not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor("digits-cnn", DigitsCNNExtractor)
    if "shapes-cnn" not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor("shapes-cnn", ShapesCNNExtractor)
