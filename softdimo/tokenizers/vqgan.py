"""The taming-transformers VQGAN (ImageNet f16, 1024 codes) that MaskGIT-pytorch tokenises with, with the
parameter names and shapes of its checkpoint (`state_dict` of VQGAN/last.ckpt, built from model.yaml).

Architecture facts from CompVis/taming-transformers (modules/diffusionmodules/model.py Encoder / Decoder,
modules/vqvae/quantize.py VectorQuantizer2, models/vqgan.py VQModel) and the copy Di[M]O vendors, written here:
GroupNorm(32, eps 1e-6) + swish residual blocks (1x1 `nin_shortcut` where the width changes), single-head
1x1-conv self-attention at the resolutions listed in attn_resolutions and in the middle, stride-2 convs after a
(0, 1, 0, 1) zero pad down, nearest x2 + conv up, the decoder has one more block per level than the encoder;
1x1 quant_conv / post_quant_conv around a Euclidean nearest-row codebook. Images are [-1, 1] inside.

Tokens are (B, 256, 1) (S = 1, C = 1024); decode_soft(probs) decodes probs @ codebook (the soft embedding).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.tokenizers.lfq import to_unit


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.dropout, self.conv2 = norm(cout), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x)


class AttnBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = norm(channels)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q, k, v = (f(h).flatten(2).transpose(1, 2) for f in (self.q, self.k, self.v))  # (B, HW, C)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]  # softmax(q k^T / sqrt(c)) v
        return x + self.proj_out(out.transpose(1, 2).reshape(b, c, hh, ww))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """`block.<j>`, `attn.<j>` and an optional `downsample` / `upsample` of one resolution."""

    def __init__(self, cin: int, cout: int, blocks: int, attn: bool, resample: str | None, dropout: float):
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(cin if j == 0 else cout, cout, dropout) for j in range(blocks))
        self.attn = nn.ModuleList(AttnBlock(cout) for _ in range(blocks)) if attn else nn.ModuleList()
        if resample == "down":
            self.downsample = Downsample(cout)
        elif resample == "up":
            self.upsample = Upsample(cout)

    def forward(self, x):
        for j, block in enumerate(self.block):
            x = block(x)
            if len(self.attn):
                x = self.attn[j](x)
        for name in ("downsample", "upsample"):
            if hasattr(self, name):
                x = getattr(self, name)(x)
        return x


class Mid(nn.Module):
    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    def __init__(self, *, ch, ch_mult, num_res_blocks, attn_resolutions, resolution, in_channels, z_channels, dropout):
        super().__init__()
        widths, res, last = [ch * m for m in (1, *ch_mult)], resolution, len(ch_mult) - 1
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        levels = []
        for i in range(len(ch_mult)):
            levels.append(Level(widths[i], widths[i + 1], num_res_blocks, res in attn_resolutions,
                                None if i == last else "down", dropout))
            res = res if i == last else res // 2
        self.down = nn.ModuleList(levels)
        self.mid = Mid(widths[-1], dropout)
        self.norm_out, self.conv_out = norm(widths[-1]), nn.Conv2d(widths[-1], z_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for level in self.down:
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(self.mid(x))))


class Decoder(nn.Module):
    def __init__(self, *, ch, ch_mult, num_res_blocks, attn_resolutions, resolution, out_channels, z_channels,
                 dropout):
        super().__init__()
        width = ch * ch_mult[-1]
        res = resolution // 2 ** (len(ch_mult) - 1)
        self.conv_in = nn.Conv2d(z_channels, width, 3, padding=1)
        self.mid = Mid(width, dropout)
        levels = {}
        for i in reversed(range(len(ch_mult))):  # built from the lowest resolution up; stored as up.<i>
            levels[i] = Level(width, ch * ch_mult[i], num_res_blocks + 1, res in attn_resolutions,
                              "up" if i else None, dropout)
            width, res = ch * ch_mult[i], res * 2 if i else res
        self.up = nn.ModuleList(levels[i] for i in range(len(ch_mult)))
        self.norm_out, self.conv_out = norm(width), nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, z):
        x = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Quantizer(nn.Module):
    def __init__(self, n_embed: int, embed_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)


class TamingVQGAN(nn.Module):
    def __init__(self, *, image_size: int, ch: int, ch_mult: tuple[int, ...], num_res_blocks: int,
                 attn_resolutions: tuple[int, ...], z_channels: int, embed_dim: int, n_embed: int, dropout: float):
        super().__init__()
        arch = dict(ch=ch, ch_mult=tuple(ch_mult), num_res_blocks=num_res_blocks,
                    attn_resolutions=tuple(attn_resolutions), resolution=image_size, z_channels=z_channels,
                    dropout=dropout)
        self.image_size, self.splits, self.classes_per_split = image_size, 1, n_embed
        self.latent_side = image_size // 2 ** (len(ch_mult) - 1)
        self.encoder = Encoder(in_channels=3, **arch)
        self.decoder = Decoder(out_channels=3, **arch)
        self.quantize = Quantizer(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)

    @property
    def seq_len(self) -> int:
        return self.latent_side**2

    def codes(self) -> torch.Tensor:
        return self.quantize.embedding.weight

    @torch.no_grad()
    def encode(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> (B, L, 1) long tokens, row-major: the nearest codebook row (Euclidean)."""
        z = self.quant_conv(self.encoder(to_unit(images_uint8))).flatten(2).transpose(1, 2)
        return torch.cdist(z, self.codes()[None].expand(len(z), -1, -1)).argmin(-1)[..., None]

    def decode_code(self, code: torch.Tensor) -> torch.Tensor:
        """(B, L, embed_dim) code vectors -> NCHW in about [-1, 1]."""
        grid = code.transpose(1, 2).unflatten(2, (self.latent_side, self.latent_side))
        return self.decoder(self.post_quant_conv(grid))

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        # a sampled mask id (1024) becomes the last code, as MaskGIT-pytorch clamps before decoding
        return self.decode_code(self.quantize.embedding(tokens[..., 0].clamp(0, self.classes_per_split - 1)))

    def decode_soft(self, probs: torch.Tensor) -> torch.Tensor:
        return self.decode_code(probs[..., 0, :].to(self.codes().dtype) @ self.codes())
