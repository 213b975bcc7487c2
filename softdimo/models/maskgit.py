"""The MaskGIT-pytorch transformer (valeoai Halton-MaskGIT v1.0, the teacher Di[M]O distils), with the parameter
names and shapes of its checkpoints (`model_state_dict` of MaskGIT_ImageNet_256.pth, Di[M]O's released student).

Architecture facts from that repository and Di[M]O's copy of it (Network/transformer.py), written here: one
embedding table holds the 1024 codes, the mask token (1024), the 1000 classes (id 1025 + class) and the null
class (2025); the class token is appended after the 256 image tokens; learned positions; an MLP stem and head
(LayerNorm eps 1e-12); pre-norm blocks (LayerNorm eps 1e-5) with torch's MultiheadAttention; the output is
tied to the embedding table plus a free bias per (position, table row), sliced to 256 positions and the 1025
rows codes + mask.

Behind the masked-model interface of softdimo.models (S = 1, C = 1024 codes): forward_embeddings drops the
mask row, which is not a code; `logits_with_mask` keeps it for the sampler as MaskGIT-pytorch runs it. The
soft embedding is probs @ E over the 1024 code rows.
"""
import torch
import torch.nn as nn


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm, self.fn = nn.LayerNorm(dim), fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True, bias=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class Encoder(nn.Module):
    """`transformer.layers.<i>.0` attention, `.1` feed-forward, each behind its own LayerNorm."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleList([PreNorm(dim, Attention(dim, heads, dropout)),
                                                   PreNorm(dim, FeedForward(dim, mlp_dim, dropout))])
                                    for _ in range(depth))


class MaskGitTransformer(nn.Module):
    FROZEN_FOR_DISTILLATION = ("tok_emb.", "pos_emb", "bias")  # Di[M]O's fix_emb_layer (the top-level bias only)
    OUTPUT_PROJECTION = ()  # the head is tied to the frozen tok_emb

    def __init__(self, *, image_tokens: int, codebook_size: int, num_classes: int, dim: int, depth: int, heads: int,
                 mlp_dim: int, dropout: float):
        super().__init__()
        self.seq_len, self.splits, self.classes_per_split = image_tokens, 1, codebook_size
        self.mask_id = codebook_size
        self.num_classes = num_classes
        self.null_class = num_classes  # class index whose token is the table's last row (id 1025 + 1000)
        rows = codebook_size + 1 + num_classes + 1
        self.tok_emb = nn.Embedding(rows, dim)
        self.pos_emb = nn.Parameter(nn.init.trunc_normal_(torch.zeros(1, image_tokens + 1, dim), 0.0, 0.02))
        self.first_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-12), nn.Dropout(dropout), nn.Linear(dim, dim),
                                         nn.GELU(), nn.LayerNorm(dim, eps=1e-12), nn.Dropout(dropout),
                                         nn.Linear(dim, dim))
        self.transformer = Encoder(dim, depth, heads, mlp_dim, dropout)
        self.last_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-12), nn.Dropout(dropout), nn.Linear(dim, dim),
                                        nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.bias = nn.Parameter(torch.zeros(image_tokens + 1, rows))

    def class_tokens(self, cond: torch.Tensor) -> torch.Tensor:
        return cond + self.classes_per_split + 1

    def mask_embedding(self) -> torch.Tensor:
        """The input embedding of a masked position (the GAN discriminator masks its inputs with it)."""
        return self.tok_emb.weight[self.mask_id]

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tok_emb(tokens[..., 0])

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return probs[..., 0, :].to(self.tok_emb.weight.dtype) @ self.tok_emb.weight[:self.classes_per_split]

    def logits_with_mask(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        """(B, L, D) image-token embeddings, (B,) classes -> (B, L, C + 1) logits: the codes and the mask row."""
        x = torch.cat([e, self.tok_emb(self.class_tokens(cond))[:, None]], dim=1) + self.pos_emb
        x = self.first_layer(x)
        hidden = []
        for attention, feed_forward in self.transformer.layers:
            x = x + attention(x)
            x = x + feed_forward(x)
            hidden.append(x)
        logits = self.last_layer(x) @ self.tok_emb.weight.T + self.bias
        logits = logits[:, :self.seq_len, :self.classes_per_split + 1]
        return (logits, hidden) if return_hidden else logits

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        """(B, L, D), (B,) -> (B, L, 1, C) logits over the codes (mask row dropped)."""
        logits, hidden = self.logits_with_mask(e, cond, return_hidden=True)
        logits = logits[..., :self.classes_per_split][:, :, None]
        return (logits, hidden) if return_hidden else logits

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
