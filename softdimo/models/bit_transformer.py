"""Embedding-free class-conditional masked transformer over bit tokens (MaskBit LFQBert style).

Tokens enter as their ±1 bit vectors (a masked group is all-zero bits) through a linear input projection;
the class enters as one extra token whose last row is the null class of classifier-free guidance.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.bits import expected_bits, tokens_to_bits
from softdimo.models.dropout import Dropout, dropout


def attention(q, k, v, attn_mask=None, dropout_p: float = 0.0):
    """F.scaled_dot_product_attention, with the same numbers in less time where it trains on a CPU.

    With dropout, torch runs its composite "math" attention on the CPU, whose safe softmax also tests every row
    of scores for all -inf; that test is about a tenth of a tiny student's step (docs/speed.md). Where every
    query may attend to some key (always, for the tiny models' padding masks) the same ops in the same order
    without it give bit-identical outputs and gradients (tests/test_models.py); elsewhere torch's kernels run.
    """
    if not dropout_p or q.device.type != "cpu" or (attn_mask is not None and not attn_mask.any(-1).all()):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
    scale = math.sqrt(1.0 / math.sqrt(q.shape[-1]))  # torch scales q and k by sqrt(1 / sqrt(d)) each
    scores = torch.matmul(q * scale, k.transpose(-2, -1) * scale)
    if attn_mask is not None:
        scores = scores + torch.zeros_like(attn_mask, dtype=q.dtype).masked_fill_(~attn_mask, -math.inf)
    return torch.matmul(dropout(scores.softmax(-1), dropout_p), v)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = Dropout(dropout)

    def forward(self, x, attn_mask=None):
        """attn_mask: optional (B, 1, 1, N) bool, True where a key may be attended to."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v, attn_mask, self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.mlp(self.norm2(x)))


class MaskedBitTransformer(nn.Module):
    # what Di[M]O keeps fixed in its copies: input embedding, class embedding, positions, output bias
    FROZEN_FOR_DISTILLATION = ("input_proj.", "class_emb.", "pos_emb", "head.bias")
    OUTPUT_PROJECTION = ("head.weight",)  # frozen too under distill.freeze_output

    def __init__(self, *, seq_len: int, bits: int, splits: int, num_classes: int, dim: int, depth: int,
                 heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.seq_len, self.bits, self.splits = seq_len, bits, splits
        self.bits_per_split = bits // splits
        self.classes_per_split = 2**self.bits_per_split
        self.mask_id = self.classes_per_split
        self.num_classes = num_classes
        self.null_class = num_classes
        self.input_proj = nn.Linear(bits, dim)
        self.class_emb = nn.Embedding(num_classes + 1, dim)
        self.pos_emb = nn.Parameter(torch.randn(1, seq_len + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, splits * self.classes_per_split)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens_to_bits(tokens, self.bits_per_split, mask_id=self.mask_id)

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return expected_bits(probs)

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        """Logits (B, L, S, C); with return_hidden also the list of every block's output (for feature taps)."""
        x = torch.cat([self.class_emb(cond)[:, None], self.input_proj(e)], dim=1) + self.pos_emb
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        logits = self.head(self.norm(x[:, 1:])).unflatten(-1, (self.splits, self.classes_per_split))
        return (logits, hidden) if return_hidden else logits

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
