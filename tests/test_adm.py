"""Paper-scale metrics on small random image sets: the real Inception-v3 architecture under random weights."""
import json
from unittest import mock

import numpy as np
import pytest
import torch

from evaluation import adm
from evaluation.frechet import feature_stats, frechet_distance
from softdimo.errors import ArtefactError
from softdimo.io import write_samples


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """torch-fidelity's TF-compatible Inception-v3 with random weights, saved as its weight file would be."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(0)
    with mock.patch.object(fe, "load_state_dict_from_url", return_value=None), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict"):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():  # variance-preserving random weights, so features do not vanish with depth
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "inception.pth"
    torch.save(net.state_dict(), path)
    return path


pytestmark = pytest.mark.usefixtures("fast_frechet")

# the paper preset's
CONVENTIONS = {"is_convention": "adm", "prc_arithmetic": "adm_fp16", "frechet_sqrt": "scipy_sqrtm"}


def images(seed, n=8, side=64):  # 8 images: Inception-v3 at 299 px costs ~0.3 s per image on 2 cores
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def ref_batch(tmp_path_factory, inception_weights):
    """An ADM-format reference batch: 8 images, and mu / sigma of *other* images (as ADM's describe the whole
    training set, not the 10,000 images stored with them)."""
    stats_of = adm.inception_features(images(5), inception_weights, batch_size=6)["2048"]
    mu, sigma = feature_stats(stats_of)
    path = tmp_path_factory.mktemp("ref") / "VIRTUAL_test.npz"
    np.savez(path, arr_0=images(0), mu=mu, sigma=sigma)
    return path


@pytest.fixture(scope="module")
def ref(ref_batch, inception_weights):
    return adm.reference(ref_batch, inception_weights, batch_size=6, device="cpu")


def test_fid_against_stored_statistics_precision_recall_against_images(ref_batch, ref, inception_weights):
    real = np.load(ref_batch)["arr_0"]
    m = adm.adm_metrics(real, ref, inception_weights, batch_size=4, k=3, device="cpu", **CONVENTIONS)
    assert m["precision"] == 1.0 and m["recall"] == 1.0 and m["is"] >= 1.0  # the 8 images against themselves
    mu, sigma = feature_stats(adm.inception_features(real, inception_weights, batch_size=5)["2048"])
    assert m["fid"] > 1e-3  # not recomputed from the stored images
    assert m["fid"] == pytest.approx(frechet_distance(mu, sigma, ref["mu"], ref["sigma"]), rel=1e-6)


def test_precision_recall_direction(ref_batch, ref, inception_weights):
    """Copies of a few real images: every sample lies on the real manifold (precision 1), most of the real
    images are not covered (recall 2/8); the two would swap if generated and real were confused. In float32:
    random-weight Inception features of noise images sit close together far from the origin, where ADM's float16
    squared distances cancel to rounding noise (tests/test_conventions.py checks that arithmetic itself)."""
    real = np.load(ref_batch)["arr_0"]
    m = adm.adm_metrics(np.concatenate([real[:2]] * 4), ref, inception_weights, batch_size=6, k=3, device="cpu",
                       **{**CONVENTIONS, "prc_arithmetic": "fp32"})
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(0.25)


def test_calc_cli_writes_metrics_and_refuses_fewer_samples(ref_batch, inception_weights, tmp_path):
    adm.main(["reference", "--ref-batch", str(ref_batch), "--extractor", str(inception_weights), "--batch-size", "6",
              "--out", str(tmp_path / "ref.npz")])
    samples = tmp_path / "s.npz"
    write_samples(samples, {"method": "teacher", "steps": 64, "nfe": 128, "eval_seed": 0, "images_per_s": 1.0},
                  arr_0=images(2, n=12), labels=np.arange(12))  # torch-fidelity's IS needs >= 10 (its splits)
    args = ["calc", "--samples", str(samples), "--ref", str(tmp_path / "ref.npz"), "--extractor", str(inception_weights),
            "--prc-neighborhood", "3", "--batch-size", "6", "--out", str(tmp_path / "m.json")]
    adm.main(args + ["--num", "12"])
    out = json.loads((tmp_path / "m.json").read_text())
    assert out["n_samples"] == 12 and out["reference"] == "adm_ref_batch" and np.isfinite(out["fid"])
    # ADM's conventions by default (the paper preset's), torch-fidelity's Inception Score labelled beside it
    assert (out["is_convention"], out["prc_arithmetic"], out["is_splits"]) == ("adm", "adm_fp16", 1)
    assert out["is"] == out["is_adm"] and np.isfinite(out["is_torch_fidelity"])
    with pytest.raises(ArtefactError, match="fewer than"):
        adm.main(args + ["--num", "50000"])


def test_missing_reference_names_the_rule(tmp_path):
    with pytest.raises(SystemExit, match="download_adm_reference"):
        adm.load_ref_batch(tmp_path / "VIRTUAL_imagenet256_labeled.npz")


class StandInInception(torch.nn.Module):
    """Same call signature as StyleGAN2-ADA's TorchScript Inception (the real file cannot be fetched here)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Identity()
        self.proj = torch.nn.Linear(3 * 4 * 4, 2048)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.proj(torch.nn.functional.adaptive_avg_pool2d(x / 255, 4).flatten(1))


def test_cleanfid_crosscheck_plumbing(tmp_path, monkeypatch):
    """clean-fid's legacy_tensorflow path: features of [0, 255] NCHW floats, Frechet distance to the reference.
    clean-fid's own 2048-d sqrtm (40 s here) is swapped for the trace-exact one of `fast_frechet`: what is tested
    is what reaches it."""
    import cleanfid.fid

    from evaluation import frechet

    monkeypatch.setattr(cleanfid.fid, "frechet_distance", lambda *stats: frechet.frechet_distance(*stats))
    torch.manual_seed(0)
    net = torch.jit.script(StandInInception())
    net.save(str(tmp_path / "inception-2015-12-05.pt"))
    fake, real = images(3, n=20), images(4, n=20)
    feats = lambda x: net(torch.from_numpy(x).permute(0, 3, 1, 2).float(), True).detach().double().numpy()
    mu_r, sigma_r = feature_stats(feats(real))
    got = adm.cleanfid_legacy_tf_fid(fake, mu_r, sigma_r, tmp_path, batch_size=7, device="cpu",
                                     frechet_sqrt="scipy_sqrtm")
    mu_f, sigma_f = feature_stats(feats(fake))
    assert got == pytest.approx(frechet_distance(mu_f, sigma_f, mu_r, sigma_r), rel=1e-4)
    monkeypatch.setattr(cleanfid.fid, "frechet_distance", None)  # symmetric_eigh: our distance of the same features
    eigh = adm.cleanfid_legacy_tf_fid(fake, mu_r, sigma_r, tmp_path, batch_size=7, device="cpu",
                                      frechet_sqrt="symmetric_eigh")
    assert eigh == pytest.approx(got, rel=1e-6)
