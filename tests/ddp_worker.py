"""Run under torchrun by tests/test_distributed.py: a few data-parallel steps of the smoke tokenizer."""
import sys
from pathlib import Path

import torch

from softdimo import distributed
from softdimo.config import load_config, replace
from softdimo.io import atomic_torch_save
from softdimo.stages import build_stage
from softdimo.train import train

out, split = Path(sys.argv[1]), Path(sys.argv[2])
distributed.init("cpu")
torch.set_num_threads(1)
cfg = load_config("config/smoke.yaml")
stage = build_stage("digits.tokenizer", cfg, {"train": split / "train.npz", "holdout": split / "holdout.npz"})
stage.train_cfg = replace(stage.train_cfg, steps=4, batch_size=distributed.per_rank_batch(32))
train(stage, stage.train_cfg, out / "work", out / "curve.csv")
torch.save(stage.modules["tokenizer"].state_dict(), out / f"rank{distributed.rank()}.pt")

# one step's gradients: two ranks on half a batch each, averaged, equal one process on the whole batch
model = stage.modules["tokenizer"]
x = stage.data[:16]


def grads(batch):
    model.zero_grad()
    terms = model.loss_terms(batch)
    (terms["rec"] + terms["commit"]).backward()  # per-element means: the whole-batch mean is the mean of halves
    return [p.grad.clone() for p in model.parameters()]


half = x[8 * distributed.rank():8 * (distributed.rank() + 1)]
model.zero_grad()
terms = model.loss_terms(half)
(terms["rec"] + terms["commit"]).backward()
distributed.average_gradients(model)
averaged = [p.grad.clone() for p in model.parameters()]
whole = grads(x)
gap = max(float((a - w).abs().max()) for a, w in zip(averaged, whole))
(out / f"grad_gap{distributed.rank()}.txt").write_text(str(gap))
if distributed.is_main():
    atomic_torch_save(stage.export(), out / "tokenizer.pt")
