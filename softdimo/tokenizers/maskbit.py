"""MaskBit's VQGAN+ tokenizer with lookup-free quantisation, names and shapes of the official checkpoints.

Architecture facts from markweberdev/maskbit (modeling/modules/autoencoder.py, quantizer/lookup_free.py,
configs/tokenizer/*.yaml), written here: TF-style 'same' padded convs, GroupNorm(32, eps 1e-6) + SiLU residual
blocks, four stride-2 conv downsamplings (256 -> 16), nearest-neighbour x2 + conv upsamplings. A latent channel
k is bit k of the token index (2**k digit); split i holds bits [i*b, (i+1)*b). The official networks take and
return images in [0, 1]; at this module's boundary images are uint8 NHWC (encode) and [-1, 1] NCHW (decode),
as for the tiny tokenizers.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.tokenizers.lfq import BitTokenizer


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (extra pixel on the right / bottom), as the checkpoints expect."""

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(cin), SameConv(cin, cout, 3, bias=False)
        self.norm2, self.conv2 = group_norm(cout), SameConv(cout, cout, 3, bias=False)
        self.changes_width = cin != cout
        if self.changes_width:
            self.nin_shortcut = SameConv(cout, cout, 1, bias=False)

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        # the official block feeds its own output (not x) to the width-changing shortcut; kept for the weights
        return h + (self.nin_shortcut(h) if self.changes_width else x)


class Stage(nn.Module):
    """`res_blocks` then an optional resampling: 'down' (stride-2 conv) or 'up' (x2 nearest + conv)."""

    def __init__(self, cin: int, cout: int, blocks: int, resample: str | None = None):
        super().__init__()
        self.res_blocks = nn.ModuleList(ResBlock(cin if i == 0 else cout, cout) for i in range(blocks))
        self.resample = resample
        if resample == "down":
            self.down_conv = SameConv(cout, cout, 3, stride=2)
        elif resample == "up":
            self.upsample_conv = SameConv(cout, cout, 3)

    def forward(self, x):
        for block in self.res_blocks:
            x = block(x)
        if self.resample == "down":
            return self.down_conv(x)
        if self.resample == "up":
            return self.upsample_conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class Encoder(nn.Module):
    def __init__(self, channels: int, hidden: int, mult: tuple[int, ...], blocks: int, bits: int):
        super().__init__()
        widths = [hidden * m for m in (1, *mult)]
        self.conv_in = SameConv(channels, hidden, 3, bias=False)
        last = len(mult) - 1
        self.down = nn.ModuleList(Stage(widths[i], widths[i + 1], blocks, None if i == last else "down")
                                  for i in range(len(mult)))
        self.mid = Stage(widths[-1], widths[-1], blocks)
        self.norm_out, self.conv_out = group_norm(widths[-1]), SameConv(widths[-1], bits, 1)

    def forward(self, x):
        x = self.conv_in(x)
        for stage in self.down:
            x = stage(x)
        return self.conv_out(F.silu(self.norm_out(self.mid(x))))


class Decoder(nn.Module):
    def __init__(self, channels: int, hidden: int, mult: tuple[int, ...], blocks: int, bits: int):
        super().__init__()
        widths = [hidden * m for m in (*mult, mult[-1])]
        self.conv_in = SameConv(bits, widths[-1], 3)
        self.mid = Stage(widths[-1], widths[-1], blocks)
        self.up = nn.ModuleList(Stage(widths[i + 1], widths[i], blocks, "up" if i > 0 else None)
                                for i in reversed(range(len(mult))))
        self.norm_out, self.conv_out = group_norm(widths[0]), SameConv(widths[0], channels, 3)

    def forward(self, z):
        x = self.mid(self.conv_in(z))
        for stage in self.up:
            x = stage(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Quantizer(nn.Module):
    """No parameters; the two buffers are in the official state dict, so they are here too."""

    def __init__(self, bits: int):
        super().__init__()
        self.register_buffer("bits_to_indices", (2 ** torch.arange(bits)).int())
        values = torch.arange(2**bits)
        self.register_buffer("codebook", ((values[:, None] // 2 ** torch.arange(bits)) % 2).float() * 2 - 1)


class MaskBitTokenizer(BitTokenizer):
    LSB_FIRST = True

    def __init__(self, *, image_size: int, channels: int, bits: int, splits: int, hidden_channels: int,
                 channel_mult: tuple[int, ...], num_res_blocks: int):
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.bits, self.splits = bits, splits
        self.bits_per_split = bits // splits
        self.latent_side = image_size // 2 ** (len(channel_mult) - 1)
        mult = tuple(channel_mult)
        self.encoder = Encoder(channels, hidden_channels, mult, num_res_blocks, bits)
        self.decoder = Decoder(channels, hidden_channels, mult, num_res_blocks, bits)
        self.quantize = Quantizer(bits)

    @staticmethod
    def network_input(images_uint8: torch.Tensor) -> torch.Tensor:
        return images_uint8.permute(0, 3, 1, 2).float() / 255

    def encode_continuous(self, x01: torch.Tensor) -> torch.Tensor:
        """float NCHW in [0, 1] -> (B, L, bits) pre-quantisation activations (row-major positions)."""
        return self.encoder(x01).flatten(2).transpose(1, 2)

    def decode_code(self, code: torch.Tensor) -> torch.Tensor:
        """(B, L, bits) code vectors (±1 for hard tokens) -> float NCHW in about [-1, 1]."""
        return self.decoder(self.grid(code)) * 2 - 1
