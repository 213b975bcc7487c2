"""Data parallelism with two CPU processes (gloo): ranks stay identical, sampling splits by seed."""
import subprocess
import sys

import numpy as np
import torch

from softdimo.io import atomic_torch_save
from softdimo.models import build_model

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def run(cmd, cwd):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_two_ranks_train_identically_and_sample_like_one_process(root, digits_split, tmp_path):
    from softdimo.config import load_config
    from softdimo.stages import build_stage

    run(TORCHRUN + ["tests/ddp_worker.py", str(tmp_path), str(digits_split)], root)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    for r in (0, 1):  # averaged half-batch gradients equal the whole batch's (not summed, not one rank's)
        assert float((tmp_path / f"grad_gap{r}.txt").read_text()) < 1e-5
    init = build_stage("digits.tokenizer", load_config(root / "config/smoke.yaml"), {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    torch.manual_seed(0)
    init.build("cpu")
    assert not all(torch.equal(init.modules["tokenizer"].state_dict()[k], r0[k]) for k in r0)  # steps were taken

    tok = torch.load(tmp_path / "tokenizer.pt", weights_only=False)
    from softdimo.tokenizers import build_tokenizer

    seq_len = build_tokenizer(tok["arch"], **tok["kwargs"]).seq_len
    kwargs = dict(seq_len=seq_len, bits=tok["kwargs"]["bits"], splits=tok["kwargs"]["splits"], num_classes=10, dim=32,
                  depth=1, heads=2, mlp_ratio=2.0, dropout=0.0)
    atomic_torch_save({"kind": "teacher", "arch": "tiny_bit_bert", "kwargs": kwargs,
                       "state_dict": build_model("tiny_bit_bert", **kwargs).state_dict()}, tmp_path / "teacher.pt")
    args = ["-m", "softdimo.sample", "--config", "config/smoke.yaml", "--teacher", str(tmp_path / "teacher.pt"),
            "--tokenizer", str(tmp_path / "tokenizer.pt"), "--steps", "2", "--seed", "1", "--threads", "1"]
    run([sys.executable] + args + ["--out", str(tmp_path / "one.npz")], root)
    run(TORCHRUN + args + ["--out", str(tmp_path / "two.npz")], root)
    one, two = np.load(tmp_path / "one.npz")["arr_0"], np.load(tmp_path / "two.npz")["arr_0"]
    assert one.shape[0] == 100 and np.array_equal(one, two)
    assert not list(tmp_path.glob("two.rank*.npy"))
