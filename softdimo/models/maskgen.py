"""MaskGen (VQ) text-to-image generator at paper size, with the official checkpoints' parameter names.

Architecture facts from bytedance/1d-tokenizer (modeling/maskgen.py, configs/infer/MaskGen/maskgen_vq_l.yaml)
and the SD3-style joint block it takes from diffusers (JointTransformerBlock), written here: image tokens and
projected OpenCLIP penultimate-layer text tokens attend jointly; every block is modulated (adaLN-zero) by the
pooled text vector concatenated with a sinusoidal embedding of the aesthetic score (x 100); the last block
only reads the text; the head is tied to the embedding table (8192 codes + mask + 1000 class rows + 1).

Behind the masked-model interface of softdimo.models (one group per position: S = 1, C = codebook size); the
condition is a prompt id into an attached bank of text features (`attach_text`), whose empty prompt is the
unguided branch. The soft embedding is the expected table row, probs @ embeddings[:C].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)


class AdaNormZero(nn.Module):
    """LayerNorm modulated by the condition: 6 vectors (shift, scale, gate for attention and for the MLP)."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)
        self.norm = layer_norm(dim)

    def forward(self, x, c):
        shift, scale, gate, shift_mlp, scale_mlp, gate_mlp = self.linear(F.silu(c)).chunk(6, dim=1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None], gate, shift_mlp, scale_mlp, gate_mlp


class AdaNormContinuous(nn.Module):
    """LayerNorm modulated by the condition: scale then shift (the order of the official weights)."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = layer_norm(dim)

    def forward(self, x, c):
        scale, shift = self.linear(F.silu(c)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None]


class GeluProj(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.proj = nn.Linear(dim, hidden)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.ModuleList([GeluProj(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class JointAttention(nn.Module):
    """Image (to_*) and text (add_*) projections, one attention over both sequences, image tokens first."""

    def __init__(self, dim: int, heads: int, text_out: bool):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, dim) for _ in range(3))
        self.add_q_proj, self.add_k_proj, self.add_v_proj = (nn.Linear(dim, dim) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])
        if text_out:
            self.to_add_out = nn.Linear(dim, dim)

    def forward(self, x, c):
        n = x.shape[1]
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)
        q = torch.cat([split(self.to_q(x)), split(self.add_q_proj(c))], dim=2)
        k = torch.cat([split(self.to_k(x)), split(self.add_k_proj(c))], dim=2)
        v = torch.cat([split(self.to_v(x)), split(self.add_v_proj(c))], dim=2)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        x_out, c_out = out[:, :n], out[:, n:]
        return self.to_out[0](x_out), (self.to_add_out(c_out) if hasattr(self, "to_add_out") else None)


class JointBlock(nn.Module):
    def __init__(self, dim: int, heads: int, last: bool):
        super().__init__()
        self.last = last  # the last block reads the text but no longer updates it
        self.norm1 = AdaNormZero(dim)
        self.norm1_context = AdaNormContinuous(dim) if last else AdaNormZero(dim)
        self.attn = JointAttention(dim, heads, text_out=not last)
        self.norm2 = layer_norm(dim)
        self.ff = FeedForward(dim)
        if not last:
            self.norm2_context = layer_norm(dim)
            self.ff_context = FeedForward(dim)

    def forward(self, x, c, pooled):
        h, gate, shift_mlp, scale_mlp, gate_mlp = self.norm1(x, pooled)
        if self.last:
            hc = self.norm1_context(c, pooled)
        else:
            hc, c_gate, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(c, pooled)
        a, ac = self.attn(h, hc)
        x = x + gate[:, None] * a
        x = x + gate_mlp[:, None] * self.ff(self.norm2(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None])
        if self.last:
            return None, x
        c = c + c_gate[:, None] * ac
        c = c + c_gate_mlp[:, None] * self.ff_context(self.norm2_context(c) * (1 + c_scale_mlp[:, None])
                                                      + c_shift_mlp[:, None])
        return c, x


class TiedHead(nn.Module):
    """Holds the embedding table's weight under the name the official files use (lm_head.weight)."""

    def __init__(self, embeddings: nn.Embedding, codebook_size: int):
        super().__init__()
        self.weight = embeddings.weight
        self.codebook_size = codebook_size

    def forward(self, x):
        return x @ self.weight[:self.codebook_size].T


def aesthetic_embedding(score: torch.Tensor, dim: int, max_period: float = 1000.0) -> torch.Tensor:
    """Sinusoidal embedding of 100 x score: sines then cosines, frequencies exp(-ln(max_period) i / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=score.device) / half)
    angles = (score.float() * 100)[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class MaskGenVQ(nn.Module):
    FROZEN_FOR_DISTILLATION = ("embeddings.", "lm_head.", "pos_embed", "text_embed_proj.", "cond_pooled_proj.")
    OUTPUT_PROJECTION = ()  # tied to the frozen embedding table

    def __init__(self, *, seq_len: int, codebook_size: int, num_classes: int, text_dim: int, dim: int, depth: int,
                 heads: int, micro_condition_dim: int, aesthetic_score: float):
        super().__init__()
        self.seq_len, self.splits, self.classes_per_split = seq_len, 1, codebook_size
        self.mask_id = codebook_size
        self.micro_condition_dim, self.aesthetic_score = micro_condition_dim, aesthetic_score
        self.text_embed_proj = nn.Linear(text_dim, dim)
        self.cond_pooled_proj = nn.Linear(text_dim + micro_condition_dim, dim)
        self.blocks = nn.ModuleList(JointBlock(dim, heads, last=i == depth - 1) for i in range(depth))
        self.norm = AdaNormContinuous(dim)
        self.embeddings = nn.Embedding(codebook_size + 1 + num_classes + 1, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, seq_len, dim))
        self.lm_head = TiedHead(self.embeddings, codebook_size)
        for m in self.modules():  # the official initialisation; only matters for random-weight tests
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.text, self.num_classes, self.null_class = None, 0, None

    def attach_text(self, bank) -> "MaskGenVQ":
        """A bank of OpenCLIP features per prompt (penultimate tokens, pooled projection); '' is the null prompt."""
        if "" not in bank.prompts:
            raise ValueError("the text bank needs the empty prompt '' (the unguided branch of CFG)")
        self.text = bank.to(self.embeddings.weight.device)
        self.num_classes, self.null_class = len(bank.prompts) - 1, bank.prompts.index("")
        return self

    def mask_embedding(self) -> torch.Tensor:
        """The input embedding of a masked position (the GAN discriminator masks its inputs with it)."""
        return self.embeddings.weight[self.mask_id]

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embeddings(tokens[..., 0])

    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        return probs[..., 0, :].to(self.embeddings.weight.dtype) @ self.embeddings.weight[:self.classes_per_split]

    def forward_features(self, e, text_tokens, pooled, aesthetic=None, return_hidden: bool = False):
        """(B, L, D) embeddings, (B, T, text_dim) text tokens, (B, text_dim) pooled -> (B, L, 1, C) logits."""
        if aesthetic is None:
            aesthetic = torch.full((len(e),), self.aesthetic_score, device=e.device)
        c = self.text_embed_proj(text_tokens)
        p = self.cond_pooled_proj(torch.cat([pooled, aesthetic_embedding(aesthetic, self.micro_condition_dim)], -1))
        x = e + self.pos_embed[:, :e.shape[1]]
        hidden = []
        for block in self.blocks:
            c, x = block(x, c, p)
            hidden.append(x)
        logits = self.lm_head(self.norm(x, p))[:, :, None]
        return (logits, hidden) if return_hidden else logits

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False):
        if self.text is None:
            raise RuntimeError("no text bank attached: call model.attach_text(bank)")
        tokens, _, pooled = self.text(cond)
        return self.forward_features(e, tokens, pooled, return_hidden=return_hidden)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond)
