"""Class-conditional masked transformer over VQ tokens with an embedding table (the tiny MaskGit-style teacher).

Tokens enter through `tok_emb`, whose rows are the `codebook_size` codes and, last, the mask token (not a code);
the output head is weight-tied to the code rows (MaskGit's tied head over the embedding table) plus a bias, so
logits never cover the mask token. The class enters as one extra token whose last row is the null class of
classifier-free guidance. The soft embedding is the expected code row under the predicted distribution,
probs @ tok_emb[:codebook_size].
"""
import torch
import torch.nn as nn

from softdimo.models.bit_transformer import Block


class MaskedVQTransformer(nn.Module):
    # what Di[M]O keeps fixed in its copies: embedding table (so the tied head too), class token, positions, bias
    FROZEN_FOR_DISTILLATION = ("tok_emb.", "class_emb.", "pos_emb", "head_bias")
    OUTPUT_PROJECTION = ()  # the head is the frozen embedding table

    def __init__(self, *, seq_len: int, codebook_size: int, num_classes: int, dim: int, depth: int, heads: int,
                 mlp_ratio: float, dropout: float):
        super().__init__()
        self.seq_len, self.splits, self.classes_per_split = seq_len, 1, codebook_size
        self.mask_id = codebook_size
        self.num_classes, self.null_class = num_classes, num_classes
        self.tok_emb = nn.Embedding(codebook_size + 1, dim)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        self.class_emb = nn.Embedding(num_classes + 1, dim)
        self.pos_emb = nn.Parameter(torch.randn(1, seq_len + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head_bias = nn.Parameter(torch.zeros(codebook_size))

    def codes(self) -> torch.Tensor:
        """(codebook_size, dim): the embedding rows of the codes, the mask row left out."""
        return self.tok_emb.weight[:self.classes_per_split]

    def mask_embedding(self) -> torch.Tensor:
        """The input embedding of a masked position (the GAN discriminator masks its inputs with it)."""
        return self.tok_emb.weight[self.mask_id]

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tok_emb(tokens[..., 0])

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return probs[..., 0, :].to(self.tok_emb.weight.dtype) @ self.codes()

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        """Logits (B, L, 1, codebook_size); with return_hidden also every block's output (for feature taps)."""
        x = torch.cat([self.class_emb(cond)[:, None], e], dim=1) + self.pos_emb
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        logits = (self.norm(x[:, 1:]) @ self.codes().T + self.head_bias)[:, :, None]
        return (logits, hidden) if return_hidden else logits

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
