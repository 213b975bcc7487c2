"""Meissonic's VQ tokenizer (MeissonFlow/Meissonic `vqvae/`): diffusers' own VQModel, the class the official
files were written by, so they load strictly; this wrapper adds the tokenizer interface of softdimo.tokenizers.

The official decoder outputs images in [0, 1] (upstream clips there before writing uint8); decode returns them
rescaled to [-1, 1], the suite's convention (softdimo.tokenizers.lfq.to_uint8). Training is data-free and
evaluation decodes only, so the wrapper has no `encode` (the encoder's input range is not documented upstream).

Parameter names: the wrapper holds the model as `vq`, so artefacts carry `vq.` before every official name;
`official_state` adds it when converting.
"""
import torch
import torch.nn as nn


def official_state(state: dict) -> dict:
    """Official vqvae/ safetensors names -> this wrapper's names."""
    return {f"vq.{k}": v for k, v in state.items()}


class MeissonicVQ(nn.Module):
    def __init__(self, *, grid: int, codebook_size: int, latent_channels: int, block_out_channels: tuple,
                 layers_per_block: int, norm_num_groups: int):
        super().__init__()
        from diffusers import VQModel

        n = len(block_out_channels)
        self.grid, self.codebook_size = grid, codebook_size
        self.vq = VQModel(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * n,
                          up_block_types=["UpDecoderBlock2D"] * n, block_out_channels=list(block_out_channels),
                          layers_per_block=layers_per_block, act_fn="silu", latent_channels=latent_channels,
                          num_vq_embeddings=codebook_size, norm_num_groups=norm_num_groups,
                          mid_block_add_attention=False, lookup_from_codebook=True, force_upcast=True)

    @property
    def seq_len(self) -> int:
        return self.grid * self.grid

    @property
    def codes(self) -> torch.Tensor:
        return self.vq.quantize.embedding.weight

    def decode_latent(self, quant: torch.Tensor) -> torch.Tensor:
        """(B, latent, grid, grid) codebook vectors -> images in [-1, 1] (the tail of VQModel.decode)."""
        return self.vq.decoder(self.vq.post_quant_conv(quant)) * 2 - 1

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, 1) or (B, L) codes -> (B, 3, H, W) images in [-1, 1] (H = grid x 2^(blocks - 1): 1024 at paper size)."""
        b = tokens.shape[0]
        rows = self.codes[tokens.reshape(b, -1).clamp(0, self.codebook_size - 1)]
        return self.decode_latent(rows.reshape(b, self.grid, self.grid, -1).permute(0, 3, 1, 2))

    def decode_soft(self, probs: torch.Tensor) -> torch.Tensor:
        """(B, L, 1, C) probabilities -> images from the expected codebook vector p @ codebook (differentiable)."""
        b = probs.shape[0]
        rows = probs[..., 0, :].to(self.codes.dtype) @ self.codes
        return self.decode_latent(rows.reshape(b, self.grid, self.grid, -1).permute(0, 3, 1, 2))


def paper_kwargs() -> dict:
    """The aMUSEd-style f16 VQ of MeissonFlow/Meissonic vqvae/ (146,244,675 parameters = the 585 MB file)."""
    return dict(grid=64, codebook_size=8192, latent_channels=64, block_out_channels=(128, 256, 256, 512, 768),
                layers_per_block=2, norm_num_groups=32)
