"""A small CNN trained on the digits' train split: the tiny presets' stand-in for Inception.

Penultimate features (feature_dim) serve FID and precision/recall; its 10-way logits serve IS.
Input: uint8 NCHW with 1 (grey) or 3 (RGB, averaged) channels, as torch-fidelity and clean-fid hand it over.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DigitsCNN(nn.Module):
    def __init__(self, *, width: int, feature_dim: int, num_classes: int = 10, image_size: int = 8):
        super().__init__()
        w = width
        self.convs = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
        )
        side = (image_size + 1) // 2
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * side * side, feature_dim), nn.ReLU())
        self.classify = nn.Linear(feature_dim, num_classes)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 or float-in-[0,255] NCHW -> (features, logits)."""
        x = images.float() / 127.5 - 1
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)
        f = self.features(self.convs(x))
        return f, self.classify(f)


def random_shift(images: torch.Tensor, max_shift: int = 1) -> torch.Tensor:
    """Translate each uint8 NCHW image by up to max_shift pixels (zero fill): cheap augmentation."""
    b, c, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, b))
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])


def build_classifier(arch: str, **kwargs) -> DigitsCNN:
    if arch != "digits_cnn":
        raise SystemExit(f"classifier arch {arch!r} is unknown; known: ['digits_cnn']")
    return DigitsCNN(**kwargs)
