"""GAN refinement (Soft-Di[M]O §2.3): a discriminator made of the frozen teacher backbone and light heads.

Real inputs are embedded tokens of real images, fake inputs the student's soft embeddings; both have a
random fraction r in [0, r_max] of their positions replaced by the mask embedding, and r is told to D
(r_max: students.<method>.gan_r_max). The paper does not say how the heads look, which layers they tap or
how r is drawn; our choice (config keys under `gan:`): one head per tapped block = LayerNorm -> Linear -> GELU -> Linear(1) per token, with a
learned embedding of r added to the block's tokens, averaged over tokens and summed over heads; r uniform.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.sampling import random_positions


class Head(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.r_emb = nn.Linear(1, dim)
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return self.net(h + self.r_emb(r[:, None, None])).mean(dim=(1, 2))


class Discriminator(nn.Module):
    """Only the heads are parameters of this module; the teacher backbone stays frozen outside it."""

    def __init__(self, dim: int, layers: tuple[int, ...], hidden: int):
        super().__init__()
        self.layers = tuple(layers)
        self.heads = nn.ModuleList(Head(dim, hidden) for _ in self.layers)

    def forward(self, backbone, e: torch.Tensor, labels: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        _, hidden = backbone.forward_embeddings(e, labels, return_hidden=True)
        return sum(head(hidden[i], r) for head, i in zip(self.heads, self.layers))


def mask_positions(e: torch.Tensor, r: torch.Tensor, mask_embedding: torch.Tensor | None = None) -> torch.Tensor:
    """Replace round(L * r_b) random positions of row b by the mask embedding: zeros for the bit model, the mask
    row of the embedding table for an embedding-table model (its `mask_embedding()`)."""
    masked = random_positions((r * e.shape[1]).round().long(), e.shape[1])
    if mask_embedding is None:
        return e * ~masked[..., None]
    return torch.where(masked[..., None], mask_embedding.to(e.dtype), e)


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating BCE: -log D(real) - log(1 - D(fake))."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(fake)."""
    return F.softplus(-d_fake).mean()
