"""Differentiable paths from student logits to embeddings: soft embeddings and Gumbel straight-through.

Soft embedding (Soft-Di[M]O): the expected embedding under softmax(z) — for the embedding-free bit model
the expected ±1 bit vector per split. Deterministic, fully differentiable, bias second order in the
off-peak mass. Gumbel straight-through (the baseline): the forward pass uses a hard one-hot Gumbel-max
sample, the backward pass the gradient of softmax((z + g) / tau).
"""
import torch
import torch.nn.functional as F


def soft_probs(logits: torch.Tensor) -> torch.Tensor:
    return logits.float().softmax(-1)


def gumbel_straight_through(logits: torch.Tensor, rngs, tau: float = 1.0) -> torch.Tensor:
    y_soft = ((logits.float() + rngs.gumbel(*logits.shape[1:])) / tau).softmax(-1)
    y_hard = F.one_hot(y_soft.argmax(-1), logits.shape[-1]).to(y_soft.dtype)
    return y_hard + y_soft - y_soft.detach()


ESTIMATORS = ("soft", "gumbel_st")


def relaxed_probs(logits: torch.Tensor, estimator: str, rngs, tau: float = 1.0) -> torch.Tensor:
    if estimator == "soft":
        return soft_probs(logits)
    if estimator == "gumbel_st":
        return gumbel_straight_through(logits, rngs, tau)
    raise ValueError(f"unknown estimator {estimator!r}; known: {ESTIMATORS}")
