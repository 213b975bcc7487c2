"""Run under torchrun by tests/test_distributed.py: a few data-parallel steps of the smoke tokenizer."""
import dataclasses
import sys
from pathlib import Path

import torch

from softdimo import distributed
from softdimo.config import load_config
from softdimo.io import atomic_torch_save
from softdimo.stages import build_stage
from softdimo.train import train

out, split = Path(sys.argv[1]), Path(sys.argv[2])
distributed.init("cpu")
torch.set_num_threads(1)
cfg = load_config("config/smoke.yaml")
stage = build_stage("tokenizer", cfg, {"train": split / "train.npz", "holdout": split / "holdout.npz"})
stage.train_cfg = dataclasses.replace(stage.train_cfg, steps=4, batch_size=distributed.per_rank_batch(32))
train(stage, stage.train_cfg, out / "work", out / "curve.csv")
torch.save(stage.modules["tokenizer"].state_dict(), out / f"rank{distributed.rank()}.pt")
if distributed.is_main():
    atomic_torch_save(stage.export(), out / "tokenizer.pt")
