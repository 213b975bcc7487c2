"""Process-wide torch settings every CLI applies first: thread count and deterministic kernels; autocast.

Multithreaded CPU convolution backward passes are not bit-reproducible run to run (measured: the VQ
tokenizer's weights after 30 steps differ between two 2-thread runs); deterministic algorithms make every
training and sampling job reproduce exactly for a given thread count. On CUDA cuBLAS needs a fixed workspace.
"""
import contextlib
import os

import torch


def setup_torch(threads: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # only the download rules (softdimo.pretrained, which never calls this) may reach the hub; holds for hub
    # libraries imported after this call (they read it at import)
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = True  # MaskBit's own setting; no effect on the CPU
    torch.backends.cudnn.allow_tf32 = True


def autocast(precision: str, device):
    """bf16 autocast of forwards on CUDA (the paper runs in bf16); fp32 does nothing."""
    if precision == "bf16" and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}")
    return contextlib.nullcontext()
