"""Text-conditioned masked transformer over VQ tokens (MaskGen style) with an embedding table.

Image tokens enter through `tok_emb` (codebook_size + 1 rows, the last is the mask token) and the output
head is weight-tied to it (MaskGen's LM head), plus a bias. The frozen text encoder's token features are
projected and prepended, so image and text tokens attend jointly (padding keys masked out); the pooled
sentence vector is added to every image token as the global condition. The condition is a prompt id into
the attached text bank (softdimo/text_bank.py); `null_class` is the empty prompt of classifier-free guidance.
The soft embedding is the expected table row under the predicted distribution, probs @ tok_emb.
"""
import torch
import torch.nn as nn

from softdimo.models.bit_transformer import Block


class TextMaskedTransformer(nn.Module):
    # what Di[M]O keeps fixed in its copies: input embedding (tied head), text projections, positions, bias
    FROZEN_FOR_DISTILLATION = ("tok_emb.", "text_proj.", "pooled_proj.", "text_type", "pos_emb", "head_bias")
    OUTPUT_PROJECTION = ()  # tied to the frozen embedding table

    def __init__(self, *, seq_len: int, codebook_size: int, num_prompts: int, null_prompt: int, text_dim: int,
                 dim: int, depth: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.seq_len, self.splits, self.classes_per_split = seq_len, 1, codebook_size
        self.mask_id = codebook_size
        self.num_classes, self.null_class = num_prompts, null_prompt
        self.tok_emb = nn.Embedding(codebook_size + 1, dim)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        self.pos_emb = nn.Parameter(torch.randn(1, seq_len, dim) * 0.02)
        self.text_proj = nn.Linear(text_dim, dim)
        self.pooled_proj = nn.Linear(text_dim, dim)
        self.text_type = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head_bias = nn.Parameter(torch.zeros(codebook_size))
        self.text = None

    def attach_text(self, bank) -> "TextMaskedTransformer":
        if len(bank.prompts) != self.num_classes + 1:
            raise ValueError(f"text bank holds {len(bank.prompts)} prompts; this model was trained with "
                             f"{self.num_classes} + the empty prompt")
        self.text = bank.to(self.tok_emb.weight.device)
        return self

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tok_emb(tokens[..., 0])

    def mask_embedding(self) -> torch.Tensor:
        """The embedding of a masked position (the table's last row), for inputs masked outside the model."""
        return self.tok_emb.weight[self.mask_id]

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return probs[..., 0, :].to(self.tok_emb.weight.dtype) @ self.tok_emb.weight[:self.classes_per_split]

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        if self.text is None:
            raise RuntimeError("no text bank attached: call model.attach_text(softdimo.text_bank.load_bank(path))")
        tokens, mask, pooled = self.text(cond)
        t = tokens.shape[1]
        x = torch.cat([self.text_proj(tokens) + self.text_type, e + self.pos_emb + self.pooled_proj(pooled)[:, None]], 1)
        keys = torch.cat([mask, torch.ones(len(e), self.seq_len, dtype=torch.bool, device=e.device)], 1)
        attn_mask = keys[:, None, None, :]
        hidden = []
        for block in self.blocks:
            x = block(x, attn_mask)
            hidden.append(x[:, t:])
        h = self.norm(x[:, t:])
        logits = (h @ self.tok_emb.weight[:self.classes_per_split].T + self.head_bias)[:, :, None]
        return (logits, hidden) if return_hidden else logits

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
