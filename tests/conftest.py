import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(2)

ROOT = Path(__file__).resolve().parents[1]
# `python -m ...` inside workflow jobs must resolve to this interpreter
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def _failing_scontrol(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("no-slurm-controller")
    (folder / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (folder / "scontrol").chmod(0o755)
    return folder


@pytest.fixture(autouse=True)
def _own_environment(request, _failing_scontrol):
    """Each test gets the environment the session started with: a Snakefile parsed in-process (the API tests)
    exports SOFTDIMO_CPU_KERNELS=avx2 into this process, and a later CLI test in the same worker would then
    demand AVX2 kernels from a torch that already runs its native ones.

    Outside the cluster tests, `scontrol` fails at once: the SLURM executor plugin runs `scontrol show config`
    whenever Snakemake starts, and where a SLURM client is installed with no controller running (a machine
    that ran `make test-cluster` keeps its client) that waits 9 s in every one of the suite's Snakemake runs;
    with no client at all it fails at once as well, so the tests see the same either way."""
    saved = dict(os.environ)
    if request.node.get_closest_marker("cluster") is None and shutil.which("scontrol"):
        os.environ["PATH"] = f"{_failing_scontrol}{os.pathsep}{os.environ['PATH']}"
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def tiny_clip_arch() -> str:
    """The 64-wide open_clip architecture of paper_smoke (softdimo/open_clip_archs.py): the CLIP-score and HPS
    scorers' code path (open_clip's CLIP class, tokenizer, 224-pixel preprocessing); ViT-B-32 takes ~2 s to build
    on 2 cores."""
    from softdimo.open_clip_archs import SMOKE_CLIP, ensure

    return ensure(SMOKE_CLIP)


@pytest.fixture
def tiny_scorers(monkeypatch, tiny_clip_arch):
    """CLIP score and HPS with their own protocols (prefix, preprocessing, scale, checkpoint key) on the tiny
    architecture, whatever architecture the caller names; the real ones are ViT-B-32 and ViT-H-14 (1B
    parameters)."""
    import evaluation.clip_scorers as scorers

    for name in ("clip_score_model", "hps_model"):
        build = getattr(scorers, name)
        monkeypatch.setattr(scorers, name, lambda weights, arch=None, build=build, **kw: build(weights, arch=tiny_clip_arch,
                                                                                              **kw))
    return tiny_clip_arch


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def smoke_raw() -> dict:
    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


@pytest.fixture
def smoke_cfg(smoke_raw):
    from softdimo.config import from_dict

    return from_dict(smoke_raw)


@pytest.fixture(scope="session")
def digits_split(tmp_path_factory):
    """The real data split (train.npz / holdout.npz) prepared once for the session."""
    from softdimo.config import load_config
    from softdimo.tracks.digits.data import prepare

    out = tmp_path_factory.mktemp("data")
    prepare(load_config(ROOT / "config" / "smoke.yaml").c2i.data, out)
    return out


@pytest.fixture
def workdir(root, tmp_path):
    """A copy of the workflow files only, so test runs never touch the checkout's results/."""
    for name in ("Snakefile", "config", "workflow", "profiles"):
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    return tmp_path


@pytest.fixture
def fast_frechet(monkeypatch):
    """Plumbing tests of 2048-d Inception features from a dozen images: scipy's sqrtm of a 2048 x 2048 product
    takes 20-40 s on 2 cores. frechet_distance only takes the trace of the root, so the scipy path's root becomes a
    1 x 1 matrix holding that trace by the library's symmetric_eigh method (equal to 1e-7; the scipy path itself
    stays checked against references in tests/test_metrics.py)."""
    from evaluation import frechet

    monkeypatch.setattr(frechet, "covariance_sqrt",
                        lambda sigma1, sigma2: np.array([[frechet.trace_sqrt_symmetric(sigma1, sigma2)]]))
