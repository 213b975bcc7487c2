"""Metric reference tests: torch-fidelity's FID with our extractor against a plain numpy/scipy Fréchet
distance and against clean-fid's custom_feat_extractor path; FID(x, x) = 0; sample-count enforcement."""

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.fid import ImageArray, compute_metrics, extract_features, load_images
from evaluation.frechet import feature_stats, frechet_distance
from softdimo.io import atomic_savez, atomic_torch_save
from softdimo.stages import build_stage
from softdimo.train import train
from softdimo.errors import ArtefactError


@pytest.fixture(scope="module")
def extractor(tmp_path_factory, digits_split):
    from softdimo.config import load_config, replace
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "config" / "smoke.yaml")
    out = tmp_path_factory.mktemp("extractor")
    stage = build_stage("digits.classifier", cfg, {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    # long enough for features that separate the classes (the smoke run's 40 steps leave them near-degenerate)
    train(stage, replace(cfg.c2i.classifier.train, steps=300), out / "work", out / "curve.csv")
    atomic_torch_save(stage.export(), out / "classifier.pt")
    return out / "classifier.pt"


@pytest.fixture(scope="module")
def images(digits_split):
    real = load_images(digits_split / "holdout.npz")
    rng = np.random.default_rng(0)
    fake = np.clip(load_images(digits_split / "train.npz")[:300].astype(int) + rng.integers(-40, 40, (300, 8, 8, 1)),
                   0, 255).astype(np.uint8)
    return real, fake


def metrics(fake, real, extractor):
    return compute_metrics(fake, real, evaluator="digits_cnn", extractor_path=extractor, batch_size=128,
                           prc_neighborhood=3)


def test_fid_matches_numpy_scipy_reference(images, extractor):
    real, fake = images
    ours = metrics(fake, real, extractor)["fid"]
    f_fake = extract_features(fake, evaluator="digits_cnn", extractor_path=extractor, batch_size=128)
    f_real = extract_features(real, evaluator="digits_cnn", extractor_path=extractor, batch_size=128)
    reference = frechet_distance(*feature_stats(f_fake), *feature_stats(f_real))
    assert ours > 1.0
    assert ours == pytest.approx(reference, rel=1e-4)


def test_fid_matches_clean_fid_custom_extractor(images, extractor, tmp_path):
    from cleanfid import fid as cleanfid

    from softdimo.checkpoints import load_artefact

    real, fake = images
    for name, arr in (("real", real), ("fake", fake)):
        (tmp_path / name).mkdir()
        for i, im in enumerate(arr):
            Image.fromarray(im[..., 0]).save(tmp_path / name / f"{i:06d}.png")
    model, _ = load_artefact(extractor, "classifier")

    def features(batch):  # float NCHW in [0, 255], RGB
        return model(batch)[0].double()

    theirs = cleanfid.compute_fid(str(tmp_path / "fake"), str(tmp_path / "real"), mode="clean",
                                  custom_feat_extractor=features, custom_fn_resize=lambda x: x,
                                  device=torch.device("cpu"), num_workers=0, verbose=False)
    assert metrics(fake, real, extractor)["fid"] == pytest.approx(theirs, rel=1e-4)


def test_fid_of_a_set_with_itself_is_zero(images, extractor):
    real, _ = images
    out = metrics(real, real, extractor)
    assert abs(out["fid"]) < 1e-6
    assert out["precision"] == pytest.approx(1.0) and out["recall"] == pytest.approx(1.0)


def test_is_rises_with_class_diversity(images, extractor, digits_split):
    real, _ = images
    _, labels = np.load(digits_split / "holdout.npz")["arr_0"], np.load(digits_split / "holdout.npz")["labels"]
    one_class = real[labels == 3]
    assert metrics(one_class, real, extractor)["is"] < metrics(real, real, extractor)["is"]


def test_tiny_path_names_its_conventions_and_offers_adm_s(images, extractor):
    """The tiny presets keep torch-fidelity's Inception Score splits and float32 precision / recall (labelled in
    the record); ADM's conventions on the same path give ADM's numbers (evaluation/adm_conventions.py)."""
    from evaluation.adm_conventions import inception_score, precision_recall

    real, fake = images
    default = metrics(fake, real, extractor)
    assert (default["is_convention"], default["prc_arithmetic"]) == ("torch_fidelity", "fp32")
    adm = compute_metrics(fake, real, evaluator="digits_cnn", extractor_path=extractor, batch_size=128,
                          prc_neighborhood=3, is_convention="adm", prc_arithmetic="adm_fp16")
    assert adm["fid"] == default["fid"] and adm["is_torch_fidelity"] == default["is"]
    feats = [extract_features(x, evaluator="digits_cnn", extractor_path=extractor, batch_size=128) for x in (fake, real)]
    logits = extract_features(fake, evaluator="digits_cnn", extractor_path=extractor, batch_size=128, layer="logits")
    assert adm["is"] == inception_score(logits, "adm")["mean"] and adm["is_splits"] == 1  # 300 images: one part
    assert (adm["precision"], adm["recall"]) == precision_recall(*feats, 3, "adm_fp16")


def test_fewer_samples_than_configured_is_an_error(tmp_path):
    atomic_savez(tmp_path / "s.npz", arr_0=np.zeros((10, 8, 8, 1), np.uint8))
    with pytest.raises(ArtefactError, match="holds 10 images, fewer than the 20"):
        load_images(tmp_path / "s.npz", 20)
    assert len(load_images(tmp_path / "s.npz", 10)) == 10


def test_samples_must_be_uint8_nhwc(tmp_path):
    atomic_savez(tmp_path / "s.npz", arr_0=np.zeros((10, 8, 8, 1), np.float32))
    with pytest.raises(ArtefactError, match="uint8 NHWC"):
        load_images(tmp_path / "s.npz")


def test_dataset_hands_torch_fidelity_uint8_chw(images):
    real, _ = images
    item = ImageArray(real)[0]
    assert item.dtype == torch.uint8 and item.shape == (1, 8, 8)


@pytest.mark.parametrize("dim, n1, n2", [(64, 500, 500), (256, 12, 300), (256, 300, 12)])
def test_symmetric_eigh_frechet_equals_the_scipy_sqrtm_one(dim, n1, n2):
    """c2i.eval.frechet_sqrt: the trace from two symmetric eigendecompositions equals the reference evaluators'
    sqrtm trace, for full-rank covariances and for a covariance of fewer images than dimensions (either side);
    an unknown method is refused."""
    rng = np.random.default_rng(dim + n1)
    a, b = rng.normal(size=(n1, dim)), rng.normal(size=(n2, dim)) * 1.3 + 0.2
    stats = (*feature_stats(a), *feature_stats(b))
    reference = frechet_distance(*stats, "scipy_sqrtm")
    assert frechet_distance(*stats) == reference  # the default is the reference evaluators' method
    assert frechet_distance(*stats, "symmetric_eigh") == pytest.approx(reference, rel=1e-6)
    assert frechet_distance(*stats[:2], *stats[:2], "symmetric_eigh") == pytest.approx(0, abs=1e-6 * reference)
    with pytest.raises(ValueError, match="unknown Frechet"):
        frechet_distance(*stats, "sqrtm")
    broken = np.diag([1.0, -0.1])  # not a covariance: the scipy path's imaginary part, this one's negative eigenvalue
    for method in ("scipy_sqrtm", "symmetric_eigh"):
        with pytest.raises(ValueError, match="imaginary|positive semi-definite"):
            frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), broken, method)
