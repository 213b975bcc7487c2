import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(2)

ROOT = Path(__file__).resolve().parents[1]
# `python -m ...` inside workflow jobs must resolve to this interpreter
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


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
