"""Load the artefacts the training stages export: {'kind', 'arch', 'kwargs', 'state_dict', 'summary', ...}.

Generators and tokenizers are built from this library's registries; the networks a track defines for its own
evaluation (the digits CNN, the shapes judges) are found by import path, so the library imports no track.
"""
import importlib
from pathlib import Path

import torch

PROVIDERS = {
    "tokenizer": "snakemake --cores all results/<c2i|t2i>/tokenizer.pt",
    "classifier": "snakemake --cores all results/c2i/classifier.pt",
    "teacher": "snakemake --cores all results/<c2i|t2i>/teacher.pt",
    "student": "snakemake --cores all results/<c2i|t2i>/students/<method>/seed<k>/generator.pt",
    "judge": "snakemake --cores all results/t2i/judges/<clip|reward|preference|shapes_cnn>.pt",
}
# kind -> "module:function(arch, **kwargs)" of the track that defines that kind's networks
TRACK_BUILDERS = {
    "classifier": "softdimo.tracks.digits.classifier:build_classifier",
    "judge": "softdimo.tracks.shapes.judges:build_judge",
}


def builder(kind: str):
    if kind == "tokenizer":
        from softdimo.tokenizers import build_tokenizer

        return build_tokenizer
    if kind in ("teacher", "student"):
        from softdimo.models import build_model

        return build_model
    module, _, name = TRACK_BUILDERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def load_artefact(path, kind: str, device="cpu"):
    """Rebuild the module saved at `path` (in eval mode, no grad) and return (module, payload)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{kind} weights not found: {path}. Make them with `{PROVIDERS.get(kind, 'the workflow')}`.")
    payload = torch.load(path, map_location=device, weights_only=False)
    if payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r}, not a {kind!r}")
    module = builder(kind)(payload["arch"], **payload["kwargs"])
    module.load_state_dict(payload["state_dict"])
    return module.to(device).eval().requires_grad_(False), payload
