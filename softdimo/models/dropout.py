"""Dropout of the tiny transformers, with a cheaper way to draw its masks on the CPU (config key
`dropout_draws`, docs/speed.md).

torch's CPU dropout draws every mask element as a double from its Mersenne Twister: two 32-bit draws per
element, about a third of a tiny student's training step. `bits16` cuts every 64-bit draw of the same generator
into four 16-bit uniforms and keeps an element when its uniform is below round((1 - p) * 65536): the keep
probability is exact to within 2^-17 (0.9 -> 0.899994), kept values are scaled by 1 / (1 - p) as torch does,
and torch.manual_seed still fixes every mask. Other random numbers, so other weights than `torch`'s. CUDA
always runs torch's dropout (its Philox generator is cheap), and so does the attention where it hands a mask
that leaves a query no key to torch's kernels (bit_transformer.attention).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DRAWS = ("torch", "bits16")
_draws = "torch"


def set_dropout_draws(draws: str) -> None:
    """Choose, for this process, how `dropout` draws its masks on the CPU (the training CLI sets it from the
    config; a library user who never calls it gets torch's dropout)."""
    global _draws
    if draws not in DRAWS:
        raise ValueError(f"dropout_draws={draws!r}: expected one of {', '.join(DRAWS)}")
    _draws = draws


def dropout_draws() -> str:
    return _draws


def bits16_keep_mask(shape, p: float, device="cpu") -> torch.Tensor:
    """Bool mask of `shape`, True with probability round((1 - p) * 65536) / 65536, four per 64-bit draw."""
    n, keep = math.prod(shape), round((1.0 - p) * 65536)
    if keep >= 65536:  # p below 2^-17 rounds to keeping everything (and 32768 would wrap around in int16)
        return torch.ones(shape, dtype=torch.bool, device=device)
    # from=-2**63 with no upper bound asks torch for its full 64-bit range (the default range stops at 2**63 - 1,
    # which would fix the sign bit of every fourth uniform)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2**63, None)
    uniforms = words.view(torch.int16)[:n].view(shape)  # each in [-32768, 32767]
    return uniforms < keep - 32768


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    if _draws == "torch" or x.device.type != "cpu":
        return F.dropout(x, p, True)
    if not 0.0 < p < 1.0:
        raise ValueError(f"dropout probability {p} must be in [0, 1)")
    # the scaled mask first, then one product: autograd keeps only the mask for the backward pass
    return x * (bits16_keep_mask(x.shape, p, x.device).to(x.dtype) * (1.0 / (1.0 - p)))


class Dropout(nn.Module):
    """nn.Dropout through `dropout` (no parameters: state dicts are those of nn.Dropout)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
