"""Tiny lookup-free quantisation (LFQ) tokenizer in the MaskBit style.

Each latent position carries `bits` signs; there is no codebook to look up, the code of a position *is* its
±1 vector. The decoder accepts any real code vector, which is how soft embeddings (expected bits) decode.
Images are uint8 NHWC in [0, 255] at the boundary and float NCHW in [-1, 1] inside.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.bits import bits_to_tokens, expected_bits, tokens_to_bits


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(1, ch), nn.GELU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.GroupNorm(1, ch), nn.GELU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def conv_encoder(channels: int, hidden: int, downsample: int, out: int) -> nn.Sequential:
    """Image -> latent grid: a stem, `downsample` stride-2 stages with residual blocks, a 1x1 projection."""
    layers = [nn.Conv2d(channels, hidden, 3, padding=1)]
    for _ in range(downsample):
        layers += [ResBlock(hidden), nn.Conv2d(hidden, hidden, 4, stride=2, padding=1)]
    return nn.Sequential(*layers, ResBlock(hidden), nn.GroupNorm(1, hidden), nn.GELU(), nn.Conv2d(hidden, out, 1))


def conv_decoder(code_dim: int, hidden: int, downsample: int, channels: int) -> nn.Sequential:
    """Latent grid -> image: the mirror of conv_encoder with nearest-neighbour upsampling."""
    layers = [nn.Conv2d(code_dim, hidden, 1), ResBlock(hidden)]
    for _ in range(downsample):
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(hidden, hidden, 3, padding=1),
                   ResBlock(hidden)]
    return nn.Sequential(*layers, nn.GroupNorm(1, hidden), nn.GELU(), nn.Conv2d(hidden, channels, 3, padding=1))


def to_unit(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1]."""
    return images_uint8.permute(0, 3, 1, 2).float() / 127.5 - 1


QUANTIZE = ("round", "truncate")


def to_uint8(x: torch.Tensor, quantize: str = "round") -> torch.Tensor:
    """float NCHW in [-1, 1] -> uint8 NHWC.

    round: the nearest of the 256 levels, round((clamp(x, -1, 1) + 1) * 127.5).
    truncate: the official MaskBit evaluation and MaskGen README conversion of their [0, 1] decoder output,
    (clamp(x01, 0, 1) * 255).to(uint8) with x01 = (x + 1) / 2: the level below, so about half of all pixels
    are one level darker than under round (docs/metrics.md; the sampling.quantize config keys).
    """
    if quantize == "round":
        levels = ((x.clamp(-1, 1) + 1) * 127.5).round()
    elif quantize == "truncate":
        levels = ((x.float() + 1) / 2).clamp(0, 1) * 255  # .to(uint8) truncates toward zero: floor on [0, 255]
    else:
        raise ValueError(f"unknown quantize {quantize!r}; one of {QUANTIZE}")
    return levels.to(torch.uint8).permute(0, 2, 3, 1)


class BitTokenizer(nn.Module):
    """The token side every bit tokenizer shares: a position's tokens are its latent code's signs, split into
    groups (bit order LSB_FIRST); subclasses give network_input (uint8 NHWC -> what the encoder reads),
    encode_continuous and decode_code."""
    LSB_FIRST = False

    @property
    def seq_len(self) -> int:
        return self.latent_side**2

    @property
    def classes_per_split(self) -> int:
        return 2**self.bits_per_split

    def grid(self, code: torch.Tensor) -> torch.Tensor:
        """(B, L, bits) -> (B, bits, side, side), positions row-major."""
        b, L, c = code.shape
        return code.transpose(1, 2).reshape(b, c, self.latent_side, self.latent_side)

    @torch.no_grad()
    def encode(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> (B, L, splits) long tokens."""
        return bits_to_tokens(self.encode_continuous(self.network_input(images_uint8)), self.splits,
                              lsb_first=self.LSB_FIRST)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, splits) long -> float NCHW in [-1, 1]."""
        return self.decode_code(tokens_to_bits(tokens, self.bits_per_split, lsb_first=self.LSB_FIRST))

    def decode_soft(self, probs: torch.Tensor) -> torch.Tensor:
        """(B, L, splits, 2**b) probabilities -> image decoded from the expected ±1 bits (differentiable)."""
        return self.decode_code(expected_bits(probs, lsb_first=self.LSB_FIRST))


class LFQTokenizer(BitTokenizer):
    def __init__(self, *, image_size: int, channels: int, bits: int, splits: int, hidden_channels: int,
                 downsample: int):
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.bits, self.splits = bits, splits
        self.bits_per_split = bits // splits
        self.latent_side = image_size // 2**downsample
        self.encoder = conv_encoder(channels, hidden_channels, downsample, bits)
        self.decoder = conv_decoder(bits, hidden_channels, downsample, channels)

    @staticmethod
    def network_input(images_uint8: torch.Tensor) -> torch.Tensor:
        return to_unit(images_uint8)

    # -- continuous side -------------------------------------------------------------------------------
    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """float NCHW [-1, 1] -> (B, L, bits) pre-quantisation activations."""
        h = self.encoder(x)
        return h.flatten(2).transpose(1, 2)

    def decode_code(self, code: torch.Tensor) -> torch.Tensor:
        """(B, L, bits) real code vectors (±1 for hard tokens) -> float NCHW image in about [-1, 1]."""
        return self.decoder(self.grid(code))

    # -- training -------------------------------------------------------------------------------------
    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction through straight-through signs, commitment to the signs, per-bit usage entropy."""
        h = self.encode_continuous(x)
        q = torch.where(h > 0, 1.0, -1.0)
        rec = self.decode_code(h + (q - h).detach())
        p_one = torch.sigmoid(2 * h).flatten(0, 1).mean(0)  # batch usage of +1 per bit
        usage_entropy = -(p_one * p_one.clamp_min(1e-6).log() + (1 - p_one) * (1 - p_one).clamp_min(1e-6).log())
        return {
            "rec": F.mse_loss(rec, x),
            "commit": F.mse_loss(h, q),
            "entropy": usage_entropy.mean() / math.log(2),  # in bits, 1 = perfectly balanced
        }
