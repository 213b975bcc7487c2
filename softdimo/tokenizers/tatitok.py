"""TA-TiTok (VQ) 1-D tokenizer at paper size, with the official checkpoints' parameter names and shapes.

Architecture facts from bytedance/1d-tokenizer (modeling/tatitok.py, titok.py, modules/blocks.py,
configs/infer/TA-TiTok/tatitok_bl128_vq.yaml), written here: a ViT encoder reads 16x16 patches plus 128
learned latent tokens and projects the latents to 64-d codes, quantised to the nearest of 8192 codebook rows
(Euclidean, no normalisation); a ViT decoder reads the codes, 256 mask tokens and the 77 OpenCLIP text tokens
of the caption (text-aware decoding), and writes 16x16x3 pixels per patch, then a 3x3 conv. Pre-norm
residual blocks with torch's MultiheadAttention and exact GELU. The official networks work in [0, 1].

Tokens are (B, 128, 1) (S = 1); decoding needs the caption's text features (B, 77, text_dim), so decode /
decode_soft take them as a second argument. decode_soft(probs) decodes probs @ codebook (soft embedding).
"""
import torch
import torch.nn as nn

# width, layers, heads; "smoke" is ours: paper_smoke's stand-in size (TA-TiTok's smallest is 512 wide)
WIDTHS = {"smoke": (64, 2, 2), "small": (512, 8, 8), "base": (768, 12, 12), "large": (1024, 24, 16)}


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    """The parts encoder and decoder share: class token, patch positions, latent positions, blocks, norms."""

    def __init__(self, size: str, grid: int, num_latent: int):
        super().__init__()
        width, layers, heads = WIDTHS[size]
        self.width, self.grid = width, grid
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(1, width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.latent_token_positional_embedding = nn.Parameter(scale * torch.randn(num_latent, width))
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.transformer = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def blocks(self, x):
        x = self.ln_pre(x)
        for block in self.transformer:
            x = block(x)
        return x

    def with_class(self, patches):
        cls = self.class_embedding.expand(len(patches), 1, -1).to(patches.dtype)
        return torch.cat([cls, patches], dim=1) + self.positional_embedding.to(patches.dtype)


class Encoder(ViT):
    def __init__(self, size: str, patch: int, grid: int, num_latent: int, code_dim: int):
        super().__init__(size, grid, num_latent)
        self.patch_embed = nn.Conv2d(3, self.width, patch, stride=patch)
        self.conv_out = nn.Conv2d(self.width, code_dim, 1)

    def forward(self, x01, latent_tokens):
        patches = self.patch_embed(x01).flatten(2).transpose(1, 2)
        latents = latent_tokens.expand(len(x01), -1, -1) + self.latent_token_positional_embedding
        x = self.blocks(torch.cat([self.with_class(patches), latents], dim=1))
        latents = self.ln_post(x[:, 1 + self.grid * self.grid:])
        return self.conv_out(latents.transpose(1, 2)[..., None])[..., 0].transpose(1, 2)  # (B, N, code_dim)


class Decoder(ViT):
    def __init__(self, size: str, patch: int, grid: int, num_latent: int, code_dim: int, text_dim: int,
                 text_length: int):
        super().__init__(size, grid, num_latent)
        scale = self.width**-0.5
        self.patch = patch
        self.decoder_embed = nn.Linear(code_dim, self.width)
        self.mask_token = nn.Parameter(scale * torch.randn(1, 1, self.width))
        self.text_guidance_proj = nn.Linear(text_dim, self.width)
        self.text_guidance_positional_embedding = nn.Parameter(scale * torch.randn(text_length, self.width))
        self.ffn = nn.Sequential(nn.Conv2d(self.width, patch * patch * 3, 1))
        self.conv_out = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, codes, text):
        b, n, _ = codes.shape
        latents = self.decoder_embed(codes) + self.latent_token_positional_embedding[:n]
        masks = self.with_class(self.mask_token.expand(b, self.grid * self.grid, -1))
        words = self.text_guidance_proj(text) + self.text_guidance_positional_embedding
        x = self.blocks(torch.cat([masks, latents, words], dim=1))
        x = self.ln_post(x[:, 1:1 + self.grid * self.grid])
        x = self.ffn(x.transpose(1, 2).reshape(b, self.width, self.grid, self.grid))
        p = self.patch  # channels are (p1, p2, rgb) per patch
        x = x.reshape(b, p, p, 3, self.grid, self.grid).permute(0, 3, 4, 1, 5, 2).reshape(b, 3, self.grid * p, -1)
        return self.conv_out(x)


class Quantizer(nn.Module):
    def __init__(self, codebook_size: int, code_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, code_dim)


class TATiTokVQ(nn.Module):
    def __init__(self, *, image_size: int, patch_size: int, encoder_size: str, decoder_size: str,
                 num_latent_tokens: int, codebook_size: int, code_dim: int, text_dim: int, text_length: int):
        super().__init__()
        grid = image_size // patch_size
        self.image_size, self.splits, self.classes_per_split = image_size, 1, codebook_size
        self.num_latent_tokens = num_latent_tokens
        self.latent_tokens = nn.Parameter(WIDTHS[encoder_size][0] ** -0.5
                                          * torch.randn(num_latent_tokens, WIDTHS[encoder_size][0]))
        self.encoder = Encoder(encoder_size, patch_size, grid, num_latent_tokens, code_dim)
        self.decoder = Decoder(decoder_size, patch_size, grid, num_latent_tokens, code_dim, text_dim, text_length)
        self.quantize = Quantizer(codebook_size, code_dim)

    @property
    def seq_len(self) -> int:
        return self.num_latent_tokens

    def codes(self) -> torch.Tensor:
        return self.quantize.embedding.weight

    @torch.no_grad()
    def encode(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> (B, N, 1) long tokens (nearest codebook row)."""
        z = self.encoder(images_uint8.permute(0, 3, 1, 2).float() / 255, self.latent_tokens)
        return torch.cdist(z, self.codes()[None].expand(len(z), -1, -1)).argmin(-1)[..., None]

    def decode_code(self, code: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B, N, code_dim) codes, (B, text_length, text_dim) caption features -> NCHW in about [-1, 1]."""
        return self.decoder(code, text) * 2 - 1

    def decode(self, tokens: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.decode_code(self.quantize.embedding(tokens[..., 0]), text)

    def decode_soft(self, probs: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.decode_code(probs[..., 0, :].to(self.codes().dtype) @ self.codes(), text)
