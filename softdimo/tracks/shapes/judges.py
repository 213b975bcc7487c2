"""The tiny text-to-image track's judges, each a small network trained by the workflow on shapes renders:

  ContrastiveScorer  CLIP-score model: an image tower and a projection of the frozen MiniLM sentence vector
                     into one space; score = cosine similarity. Trained as image -> prompt classification over
                     the whole prompt set with cosine logits (CLIP's loss with every prompt as a negative).
                     Trained twice on disjoint halves of the training scenes with different seeds and widths:
                     `clip` judges (CLIP score), `reward` is the differentiable training / best-of-N / TTEO reward.
  PreferenceModel    HPS-like preference score: a scalar for (image, prompt), trained with the Bradley-Terry loss
                     on pairs where a clean render of the prompt is preferred over a degraded one (blurred,
                     noised, washed out) or over a render of another prompt.
  ShapesCNN          FID feature extractor: predicts the content (empty, or shape x colour) of each grid cell;
                     the penultimate features feed torch-fidelity as `shapes-cnn`.
Images enter as float NCHW in [-1, 1] (the tokenizer's decode) or uint8 NHWC (`score_uint8`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ImageTower(nn.Module):
    def __init__(self, width: int, out_dim: int, image_size: int):
        super().__init__()
        w = width
        self.convs = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.GELU(), nn.Conv2d(w, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.GELU())
        side = (image_size + 1) // 2
        self.out = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * side * side, out_dim), nn.GELU())

    def forward(self, x):
        return self.out(self.convs(x))


def uint8_to_unit(images: torch.Tensor) -> torch.Tensor:
    return images.permute(0, 3, 1, 2).float() / 127.5 - 1


class ContrastiveScorer(nn.Module):
    def __init__(self, *, width: int, embed_dim: int, text_dim: int, image_size: int):
        super().__init__()
        self.image = nn.Sequential(ImageTower(width, 2 * embed_dim, image_size), nn.Linear(2 * embed_dim, embed_dim))
        self.text = nn.Linear(text_dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.5))

    def embed_images(self, x):
        return F.normalize(self.image(x), dim=-1)

    def embed_text(self, pooled):
        return F.normalize(self.text(pooled), dim=-1)

    def forward(self, x, pooled):
        """Cosine similarity of each image with its own prompt, (B,)."""
        return (self.embed_images(x) * self.embed_text(pooled)).sum(-1)

    def loss(self, x, prompt_ids, all_pooled):
        logits = self.logit_scale.exp() * self.embed_images(x) @ self.embed_text(all_pooled).T
        return F.cross_entropy(logits, prompt_ids), (logits.argmax(1) == prompt_ids).float().mean()


class PreferenceModel(nn.Module):
    def __init__(self, *, width: int, embed_dim: int, text_dim: int, image_size: int):
        super().__init__()
        self.image = ImageTower(width, embed_dim, image_size)
        self.text = nn.Linear(text_dim, embed_dim)
        self.head = nn.Sequential(nn.Linear(3 * embed_dim, embed_dim), nn.GELU(), nn.Linear(embed_dim, 1))

    def forward(self, x, pooled):
        i, t = self.image(x), self.text(pooled)
        return self.head(torch.cat([i, t, i * t], -1))[:, 0]


class ShapesCNN(nn.Module):
    def __init__(self, *, width: int, feature_dim: int, cells: int, cell_classes: int, image_size: int):
        super().__init__()
        self.cells, self.cell_classes = cells, cell_classes
        self.features = ImageTower(width, feature_dim, image_size)
        self.classify = nn.Linear(feature_dim, cells * cell_classes)

    def forward(self, images_uint8_nchw: torch.Tensor):
        """uint8 NCHW (torch-fidelity's input) -> (features, cell logits (B, cells, cell_classes))."""
        f = self.features(images_uint8_nchw.float() / 127.5 - 1)
        return f, self.classify(f).unflatten(-1, (self.cells, self.cell_classes))


JUDGES = {"contrastive": ContrastiveScorer, "preference": PreferenceModel, "shapes_cnn": ShapesCNN}


def build_judge(arch: str, **kwargs):
    if arch not in JUDGES:
        raise SystemExit(f"judge arch {arch!r} is unknown; known: {sorted(JUDGES)}")
    return JUDGES[arch](**kwargs)


def degrade(x: torch.Tensor, kind: torch.Tensor) -> torch.Tensor:
    """Per-image degradations of float NCHW images: 0 blur, 1 noise, 2 washed out (toward grey), 3 dimmed."""
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    noise = (x + 0.5 * torch.randn_like(x)).clamp(-1, 1)
    washed = 0.4 * x + 0.6 * x.mean(1, keepdim=True)
    dimmed = 0.5 * (x + 1) - 1
    options = torch.stack([blur, noise, washed, dimmed])
    return options[kind, torch.arange(len(x))]
