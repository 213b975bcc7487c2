"""MaskBit's LFQ-BERT generator at paper size, with parameter names and shapes of the official checkpoints.

Architecture facts from markweberdev/maskbit (modeling/bert.py, configs/generator/*.yaml), written here:
post-norm BERT (LayerNorm eps 1e-12) with torch's MultiheadAttention, tokens enter as their ±1 bits through
`input_proj` (the official files may call it `token_emb`; softdimo.pretrained renames), the class token is
appended *after* the image tokens, and a linear `prediction_layer` gives `splits x 2**(bits/splits)` logits
per position. Within a split, bit j of a group value is its 2**j digit (least significant first), the order of
the LFQ tokenizer's latent channels, so the expected bits of a soft token are what the decoder takes.

Behind the masked-model interface of softdimo.models (embed / soft_embed / forward_embeddings).
"""
import torch
import torch.nn as nn

from softdimo.bits import expected_bits, tokens_to_bits


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True, bias=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x):
        return self.norm(x + self.dropout(self.mha(x, x, x, need_weights=False)[0]))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Dropout(dropout))
        self.norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x):
        return self.norm(x + self.net(x))


class Layers(nn.Module):
    """`transformer.layers.<i>.0` attention, `.1` feed-forward: the official key layout."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, heads, dropout), FeedForward(dim, mlp_dim, dropout)]) for _ in range(depth))


class MaskBitGenerator(nn.Module):
    LSB_FIRST = True
    FROZEN_FOR_DISTILLATION = ("input_proj.", "class_emb.", "pos_emb", "prediction_layer.bias")
    OUTPUT_PROJECTION = ("prediction_layer.weight",)  # frozen too under distill.freeze_output

    def __init__(self, *, seq_len: int, bits: int, splits: int, num_classes: int, dim: int, depth: int, heads: int,
                 mlp_ratio: float, dropout: float):
        super().__init__()
        self.seq_len, self.bits, self.splits = seq_len, bits, splits
        self.bits_per_split = bits // splits
        self.classes_per_split = 2**self.bits_per_split
        self.mask_id = self.classes_per_split
        self.num_classes = self.null_class = num_classes
        self.register_buffer("bits_to_indices", (2 ** torch.arange(self.bits_per_split)).int())
        self.class_emb = nn.Embedding(num_classes + 1, dim)
        self.input_proj = nn.Linear(bits, dim)
        self.pos_emb = nn.Parameter(torch.zeros(1, seq_len + 1, dim))
        self.first_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-12), nn.Dropout(dropout))
        self.transformer = Layers(dim, depth, heads, int(dim * mlp_ratio), dropout)
        self.last_layer = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.prediction_layer = nn.Linear(dim, splits * self.classes_per_split)
        self.apply(self._init)
        nn.init.trunc_normal_(self.pos_emb, std=0.02)

    @staticmethod
    def _init(m):
        # MaskBit's initialisation (truncated normal 0.02, zero biases); only matters for random-weight tests
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens_to_bits(tokens, self.bits_per_split, mask_id=self.mask_id, lsb_first=True)

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return expected_bits(probs, lsb_first=True)

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        """(B, L, bits) bit vectors (zeros where masked), (B,) classes -> (B, L, S, C) logits."""
        x = torch.cat([self.input_proj(e), self.class_emb(cond)[:, None]], dim=1) + self.pos_emb
        x = self.first_layer(x)
        hidden = []
        for attention, feed_forward in self.transformer.layers:
            x = feed_forward(attention(x))
            hidden.append(x)
        logits = self.prediction_layer(self.last_layer(x[:, :self.seq_len]))
        logits = logits.unflatten(-1, (self.splits, self.classes_per_split))
        return (logits, hidden) if return_hidden else logits

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
