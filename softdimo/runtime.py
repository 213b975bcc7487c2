"""Process-wide torch settings every CLI applies first: thread count and deterministic kernels.

Multithreaded CPU convolution backward passes are not bit-reproducible run to run (measured: the VQ
tokenizer's weights after 30 steps differ between two 2-thread runs); deterministic algorithms make every
training and sampling job reproduce exactly for a given thread count. On CUDA cuBLAS needs a fixed workspace.
"""
import os

import torch


def setup_torch(threads: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
