"""Meissonic's masked text-to-image transformer (MeissonFlow/Meissonic `transformer/`), under the official
parameter names, behind the masked-model interface of softdimo.models.

The official class lives in the Meissonic repository (src/transformer.py), not in diffusers (the upstreaming
pull request was never merged), and is assembled from diffusers blocks. This module assembles the same diffusers
blocks (pinned in pyproject.toml) in its own forward, so the official safetensors load strictly and the
numerics are the library's own; docs/meissonic.md says why and what was checked.

Layout: 64 x 64 VQ tokens -> embedding table (8256 rows: 8192 codes, specials, mask 8255) -> RMSNorm -> 1x1
conv; a 2x2 conv halves the grid to 32 x 32 = 1024 positions; 14 dual-stream (MM-DiT) blocks over text and
image, 28 single-stream blocks over their concatenation, with Flux RoPE (text ids zero) and adaLN modulation by
timestep + pooled text + the five sinusoidal micro-conditions; a transposed conv restores 64 x 64 and a conv
head gives 8192 logits per position.

Interface boundary (why `embed` is more than a table lookup): Di[M]O perturbs the conv-embedded feature map
(noise_emb_perturb), so `embed(tokens)` returns the output of the embedding module (table, RMSNorm, 1x1 conv)
and `soft_embed(p)` the same module applied to the expected table row p @ E[:8192] (the Soft-Di[M]O soft
embedding). `forward_embeddings` takes that feature map as (B, 4096, 1024).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def _blocks():
    """The diffusers building blocks, imported late so the library imports without the paper extras."""
    from diffusers.models.attention import FeedForward
    from diffusers.models.embeddings import CombinedTimestepTextProjEmbeddings, TimestepEmbedding, get_timestep_embedding
    from diffusers.models.normalization import AdaLayerNormZero, AdaLayerNormZeroSingle, RMSNorm
    from diffusers.models.resnet import Downsample2D, Upsample2D
    from diffusers.models.transformers.transformer_flux import FluxAttention, FluxPosEmbed

    return dict(FeedForward=FeedForward, CombinedTimestepTextProjEmbeddings=CombinedTimestepTextProjEmbeddings,
                FluxPosEmbed=FluxPosEmbed, TimestepEmbedding=TimestepEmbedding,
                get_timestep_embedding=get_timestep_embedding, AdaLayerNormZero=AdaLayerNormZero,
                AdaLayerNormZeroSingle=AdaLayerNormZeroSingle, RMSNorm=RMSNorm, Downsample2D=Downsample2D,
                Upsample2D=Upsample2D, FluxAttention=FluxAttention)


class DualBlock(nn.Module):
    """MM-DiT block: text and image streams, each modulated (adaLN-zero), one joint attention."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        b = _blocks()
        self.norm1, self.norm1_context = b["AdaLayerNormZero"](dim), b["AdaLayerNormZero"](dim)
        self.attn = b["FluxAttention"](query_dim=dim, added_kv_proj_dim=dim, dim_head=head_dim, heads=heads,
                                       out_dim=dim, context_pre_only=False, bias=True, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = b["FeedForward"](dim=dim, dim_out=dim, activation_fn="gelu-approximate")
        self.norm2_context = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff_context = b["FeedForward"](dim=dim, dim_out=dim, activation_fn="gelu-approximate")

    def forward(self, x, c, temb, rope):
        h, gate, shift_mlp, scale_mlp, gate_mlp = self.norm1(x, emb=temb)
        hc, c_gate, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(c, emb=temb)
        a, ac = self.attn(hidden_states=h, encoder_hidden_states=hc, image_rotary_emb=rope)
        x = x + gate[:, None] * a
        x = x + gate_mlp[:, None] * self.ff(self.norm2(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None])
        c = c + c_gate[:, None] * ac
        c = c + c_gate_mlp[:, None] * self.ff_context(self.norm2_context(c) * (1 + c_scale_mlp[:, None])
                                                      + c_shift_mlp[:, None])
        if c.dtype == torch.float16:  # as upstream: keep fp16 text features finite
            c = c.clip(-65504, 65504)
        return c, x


class SingleBlock(nn.Module):
    """Single-stream block over [text; image]: parallel attention and MLP, one gated output projection."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        b = _blocks()
        hidden = int(dim * mlp_ratio)
        self.norm = b["AdaLayerNormZeroSingle"](dim)
        self.proj_mlp = nn.Linear(dim, hidden)
        self.proj_out = nn.Linear(dim + hidden, dim)
        self.attn = b["FluxAttention"](query_dim=dim, dim_head=head_dim, heads=heads, out_dim=dim, bias=True,
                                       eps=1e-6, pre_only=True)

    def forward(self, x, temb, rope):
        h, gate = self.norm(x, emb=temb)
        mlp = F.gelu(self.proj_mlp(h), approximate="tanh")
        x = x + gate[:, None] * self.proj_out(torch.cat([self.attn(hidden_states=h, image_rotary_emb=rope), mlp], 2))
        return x.clip(-65504, 65504) if x.dtype == torch.float16 else x


class ConvEmbed(nn.Module):
    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, dim)
        self.layer_norm = _blocks()["RMSNorm"](dim, 1e-6, True)
        self.conv = nn.Conv2d(dim, dim, kernel_size=1, bias=False)

    def project(self, rows):
        """(..., D) table rows -> RMSNorm -> the 1x1 conv as a matrix product over channels."""
        return self.layer_norm(rows) @ self.conv.weight[:, :, 0, 0].T.to(rows.dtype)

    def forward(self, tokens):
        """The interface's model.embed(tokens): (B, L, 1) ids -> (B, L, D) conv-embedded features."""
        return self.project(self.embeddings(tokens[..., 0]))


class ConvHead(nn.Module):
    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, kernel_size=1, bias=False)
        self.layer_norm = _blocks()["RMSNorm"](dim, 1e-6, True)
        self.conv2 = nn.Conv2d(dim, codebook_size, kernel_size=1, bias=False)

    def forward(self, x):
        x = self.layer_norm(self.conv1(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.conv2(x)


class Resample(nn.Module):
    """Holds Downsample2D / Upsample2D under the official names down_block.downsample, up_block.upsample."""

    def __init__(self, dim: int, down: bool):
        super().__init__()
        b = _blocks()
        if down:
            self.downsample = b["Downsample2D"](dim, use_conv=True, padding=0, name="Conv2d_0", kernel_size=2,
                                                norm_type="rms_norm", eps=1e-6, elementwise_affine=True, bias=False)
        else:
            self.upsample = b["Upsample2D"](dim, use_conv_transpose=True, kernel_size=2, padding=0, name="conv",
                                            norm_type="rms_norm", eps=1e-6, elementwise_affine=True, bias=False,
                                            interpolate=False)

    def forward(self, x):
        return self.downsample(x) if hasattr(self, "downsample") else self.upsample(x)


def image_ids(side: int) -> torch.Tensor:
    """RoPE positions of the (side/2)^2 downsampled grid: (0, row, column), as the upstream pipeline makes them."""
    half = side // 2
    ids = torch.zeros(half, half, 3)
    ids[..., 1] = torch.arange(half)[:, None]
    ids[..., 2] = torch.arange(half)[None, :]
    return ids.reshape(half * half, 3)


class MeissonicTransformer(nn.Module):
    FROZEN_FOR_DISTILLATION = ("embed.", "mlm_layer.")  # Di[M]O's fix_emb_layer for Meissonic
    OUTPUT_PROJECTION = ()  # mlm_layer is frozen above in any case (the official run)

    def __init__(self, *, grid: int, vocab_size: int, codebook_size: int, heads: int, head_dim: int,
                 dual_layers: int, single_layers: int, text_dim: int, pooled_dim: int, axes_dims_rope: tuple,
                 micro_conds: tuple, micro_cond_dim: int = 256):
        super().__init__()
        b = _blocks()
        dim = heads * head_dim
        self.grid, self.seq_len, self.splits, self.classes_per_split = grid, grid * grid, 1, codebook_size
        self.mask_id = vocab_size - 1  # 8255: the last row of the table, not codebook_size
        self.micro_conds, self.micro_cond_dim = tuple(float(m) for m in micro_conds), micro_cond_dim
        self.pos_embed = b["FluxPosEmbed"](theta=10000, axes_dim=list(axes_dims_rope))
        self.time_text_embed = b["CombinedTimestepTextProjEmbeddings"](embedding_dim=dim, pooled_projection_dim=dim)
        self.context_embedder = nn.Linear(text_dim, dim)
        self.transformer_blocks = nn.ModuleList(DualBlock(dim, heads, head_dim) for _ in range(dual_layers))
        self.single_transformer_blocks = nn.ModuleList(SingleBlock(dim, heads, head_dim) for _ in range(single_layers))
        self.embed = ConvEmbed(vocab_size, dim)
        self.mlm_layer = ConvHead(dim, codebook_size)
        self.cond_embed = b["TimestepEmbedding"](len(micro_conds) * micro_cond_dim + pooled_dim, dim,
                                                 sample_proj_bias=False)
        self.encoder_proj_layer_norm = b["RMSNorm"](dim, 1e-6, True)
        self.project_to_hidden_norm = b["RMSNorm"](dim, 1e-6, True)
        self.project_to_hidden = nn.Linear(dim, dim, bias=False)
        self.project_from_hidden_norm = b["RMSNorm"](dim, 1e-6, True)
        self.project_from_hidden = nn.Linear(dim, dim, bias=False)
        self.down_block = Resample(dim, down=True)
        self.up_block = Resample(dim, down=False)
        self.gradient_checkpointing = False
        self.timestep = 0.0  # used when a call gives none: Di[M]O's int(ratio) * 1000 is 0 (config recipe.timestep)
        self.text, self.num_classes, self.null_class = None, 0, None
        self._rope = None

    # -- text ------------------------------------------------------------------------------------------------------
    def attach_text(self, bank) -> "MeissonicTransformer":
        """A bank of CLIP features per prompt; its `null_prompt` (the negative prompt, or '') is the CFG branch."""
        null = getattr(bank, "null_prompt", "")
        if null not in bank.prompts:
            raise ValueError(f"the text bank lacks its null prompt {null!r} (the unguided branch of CFG)")
        self.text = bank.to(self.embed.embeddings.weight.device)
        self.num_classes, self.null_class = len(bank.prompts) - 1, bank.prompts.index(null)
        return self

    # -- masked-model interface -----------------------------------------------------------------------------------
    # `embed(tokens)` is the `embed` submodule itself (the official name of the embedding module)
    def soft_embed(self, probs: torch.Tensor) -> torch.Tensor:
        table = self.embed.embeddings.weight
        return self.embed.project(probs[..., 0, :].to(table.dtype) @ table[:self.classes_per_split])

    def _rotary(self, text_len: int, device):
        key = (text_len, str(device))
        if self._rope is None or self._rope[0] != key:
            ids = torch.cat([torch.zeros(text_len, 3), image_ids(self.grid)]).to(device)
            self._rope = (key, self.pos_embed(ids))
        return self._rope[1]

    def _run(self, block, *args):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def forward_features(self, e, text_tokens, pooled, timestep=None, micro_conds=None, return_hidden: bool = False):
        """(B, L, D) embedded tokens, (B, T, text_dim), (B, pooled_dim) -> (B, L, 1, codebook) logits.
        timestep: the raw value the upstream forward multiplies by 1000 (Di[M]O passes 0; the pipeline the step
        index); micro_conds: (B, 5), default the configured [w, h, crop_top, crop_left, aesthetic score]."""
        b, dev = len(e), e.device
        get_emb = _blocks()["get_timestep_embedding"]
        if micro_conds is None:
            micro_conds = torch.tensor(self.micro_conds, device=dev).expand(b, -1)
        if timestep is None:
            timestep = torch.full((b,), float(self.timestep), device=dev)
        m = get_emb(micro_conds.flatten(), self.micro_cond_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        cond = self.cond_embed(torch.cat([pooled, m.reshape(b, -1)], 1).to(e.dtype)).to(text_tokens.dtype)
        c = self.encoder_proj_layer_norm(self.context_embedder(text_tokens))
        x = e.transpose(1, 2).reshape(b, -1, self.grid, self.grid)
        x = self.down_block(x)
        _, ch, h, w = x.shape
        x = self.project_to_hidden(self.project_to_hidden_norm(x.permute(0, 2, 3, 1).reshape(b, h * w, ch)))
        temb = self.time_text_embed(timestep.to(x.dtype) * 1000, cond)
        rope = self._rotary(c.shape[1], dev)
        hidden = []
        for block in self.transformer_blocks:
            c, x = self._run(block, x, c, temb, rope)
            hidden.append(x)
        x = torch.cat([c, x], 1)
        for block in self.single_transformer_blocks:
            x = self._run(block, x, temb, rope)
            hidden.append(x[:, c.shape[1]:])
        x = self.project_from_hidden(self.project_from_hidden_norm(x[:, c.shape[1]:]))
        x = self.up_block(x.reshape(b, h, w, ch).permute(0, 3, 1, 2))
        logits = self.mlm_layer(x).flatten(2).transpose(1, 2)[:, :, None]
        return (logits, hidden) if return_hidden else logits

    def forward_embeddings(self, e: torch.Tensor, cond: torch.Tensor, return_hidden: bool = False, timestep=None):
        if self.text is None:
            raise RuntimeError("no text bank attached: call model.attach_text(bank)")
        tokens, _, pooled = self.text(cond)
        return self.forward_features(e, tokens, pooled, timestep, return_hidden=return_hidden)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, timestep=None) -> torch.Tensor:
        return self.forward_embeddings(self.embed(tokens), cond, timestep=timestep)


def paper_kwargs() -> dict:
    """MeissonFlow/Meissonic transformer/config.json in this module's terms (1024 px, VQ factor 16)."""
    return dict(grid=64, vocab_size=8256, codebook_size=8192, heads=8, head_dim=128, dual_layers=14,
                single_layers=28, text_dim=1024, pooled_dim=1024, axes_dims_rope=(16, 56, 56),
                micro_conds=(1024, 1024, 0, 0, 6.0))

