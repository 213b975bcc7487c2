"""Tiny vector-quantised tokenizer with a codebook (the role TA-TiTok's VQ tokenizer plays for MaskGen).

Latent vectors and codes are L2-normalised before the nearest-code lookup (cosine VQ, as in ViT-VQGAN and
TiTok), which keeps the codebook in use; codes unused over a window are restarted on random encoder outputs.
Tokens are (B, L, 1): one categorical of `codebook_size` values per position. `decode_soft` decodes the
expected code vector probs @ codebook, the soft-embedding path of reward fine-tuning and TTEO.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from softdimo.tokenizers.lfq import conv_decoder, conv_encoder, to_unit


class VQTokenizer(nn.Module):
    def __init__(self, *, image_size: int, channels: int, codebook_size: int, code_dim: int, hidden_channels: int,
                 downsample: int):
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.codebook_size, self.code_dim = codebook_size, code_dim
        self.splits, self.classes_per_split = 1, codebook_size
        self.latent_side = image_size // 2**downsample
        self.encoder = conv_encoder(channels, hidden_channels, downsample, code_dim)
        self.decoder = conv_decoder(code_dim, hidden_channels, downsample, channels)
        self.codebook = nn.Parameter(torch.randn(codebook_size, code_dim))
        self.register_buffer("usage", torch.zeros(codebook_size))  # assignments since the last restart

    @property
    def seq_len(self) -> int:
        return self.latent_side**2

    def codes(self) -> torch.Tensor:
        return F.normalize(self.codebook, dim=-1)

    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """float NCHW [-1, 1] -> (B, L, code_dim) unit latent vectors."""
        return F.normalize(self.encoder(x).flatten(2).transpose(1, 2), dim=-1)

    def nearest(self, h: torch.Tensor) -> torch.Tensor:
        return (h @ self.codes().T).argmax(-1)

    def decode_code(self, code: torch.Tensor) -> torch.Tensor:
        """(B, L, code_dim) code vectors -> float NCHW image in about [-1, 1]."""
        b, L, c = code.shape
        return self.decoder(code.transpose(1, 2).reshape(b, c, self.latent_side, self.latent_side))

    @torch.no_grad()
    def encode(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> (B, L, 1) long tokens."""
        return self.nearest(self.encode_continuous(to_unit(images_uint8)))[..., None]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decode_code(self.codes()[tokens[..., 0]])

    def decode_soft(self, probs: torch.Tensor) -> torch.Tensor:
        """(B, L, 1, K) probabilities -> image decoded from the expected code vector (differentiable)."""
        return self.decode_code(probs[..., 0, :].to(self.codebook.dtype) @ self.codes())

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction through the straight-through quantiser, codebook and commitment terms."""
        h = self.encode_continuous(x)
        idx = self.nearest(h.detach())
        q = self.codes()[idx]
        rec = self.decode_code(h + (q - h).detach())
        with torch.no_grad():
            self.usage += torch.bincount(idx.flatten(), minlength=self.codebook_size).float()
        return {"rec": F.mse_loss(rec, x), "codebook": F.mse_loss(q, h.detach()), "commit": F.mse_loss(h, q.detach()),
                "codes_used": (self.usage > 0).float().mean()}

    @torch.no_grad()
    def restart_dead_codes(self, x: torch.Tensor) -> int:
        """Move every code unused since the last call onto a random latent of the images x (before the step's
        forward pass, so autograd never sees the codebook change under it)."""
        dead = (self.usage == 0).nonzero()[:, 0]
        if len(dead):
            pool = self.encode_continuous(x).flatten(0, 1)
            self.codebook[dead] = pool[torch.randint(0, len(pool), (len(dead),), device=pool.device)]
        self.usage.zero_()
        return int(len(dead))
