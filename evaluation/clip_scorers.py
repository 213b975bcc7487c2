"""Paper-scale text-image scores through open_clip with local weight files: CLIP score and HPS v2.1.

Both are differentiable in the images, so the same objects serve as metrics, as fine-tuning rewards and for
best-of-N / TTEO, behind the tiny track's reward interface: `encode_text(captions)` once per prompt set,
then `scorer(images, text_features)` -> one score per image, images float NCHW in [-1, 1].

- CLIP score (Di[M]O's protocol, GigaGAN style): captions prefixed "A photo depicts ", the cosine similarity
  (0-1 scale, e.g. 0.318). The reward's model is OpenAI CLIP ViT-B/32 on images resized (bicubic) and
  centre-cropped to 224 in torch (differentiable); Table 2's column uses t2i_paper.eval.clip_score (by default
  the official script's ViT-g-14 and its PIL image path, gigagan_pil_pixels).
- HPS v2.1: open_clip ViT-H-14 with the HPS v2.1 checkpoint (`state_dict` inside the file) loaded over it;
  HPS's own preprocessing (longer side to 224, pad to a square with zeros); 100 x the cosine similarity.
"""
import torch
import torch.nn.functional as F

from softdimo.open_clip_archs import ensure
from softdimo.pretrained import require_file

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resize_center_crop(x01: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x01.shape[-2:]
    scale = size / min(h, w)
    x = F.interpolate(x01, size=(round(h * scale), round(w * scale)), mode="bicubic", align_corners=False,
                      antialias=True)
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top:top + size, left:left + size]


def resize_max_pad(x01: torch.Tensor, size: int) -> torch.Tensor:
    """HPS's ResizeMaxSize: the longer side to `size`, then zero padding to a centred square."""
    h, w = x01.shape[-2:]
    scale = size / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    x = F.interpolate(x01, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    top, left = (size - nh) // 2, (size - nw) // 2
    return F.pad(x, (left, size - nw - left, top, size - nh - top))


PREPROCESS = {"center_crop": resize_center_crop, "resize_max_pad": resize_max_pad}


def gigagan_pil_pixels(images_uint8, size: int) -> torch.Tensor:
    """Di[M]O's gigagan_eval_clip.py image path, for evaluation only (PIL, not differentiable): centre crop to the
    short side, LANCZOS to 256 x 256, then the CLIP model's own PIL preprocessing (bicubic to `size`, centre crop,
    normalise). Returns the normalised NCHW batch."""
    import open_clip
    from PIL import Image
    from torchvision.transforms.functional import center_crop

    transform = open_clip.image_transform(size, is_train=False, mean=CLIP_MEAN, std=CLIP_STD)
    out = []
    for array in images_uint8:
        image = Image.fromarray(array)
        image = center_crop(image, min(image.size)).resize((256, 256), Image.LANCZOS)
        out.append(transform(image))
    return torch.stack(out)


class OpenCLIPScorer(torch.nn.Module):
    def __init__(self, arch: str, weights, *, preprocess: str, prefix: str, scale: float, state_dict_key=None,
                 quick_gelu: bool = False):
        super().__init__()
        import open_clip

        ensure(arch)
        make = dict(force_quick_gelu=quick_gelu)  # OpenAI's weights need QuickGELU; open_clip sets it only by tag
        if weights is None:  # random weights: tests only
            self.model = open_clip.create_model(arch, pretrained=None, **make)
        elif state_dict_key is None:
            self.model = open_clip.create_model(arch, pretrained=str(require_file(weights)), **make)
        else:  # HPS: its checkpoint overwrites every weight of the base architecture
            self.model = open_clip.create_model(arch, pretrained=None, **make)
            state = torch.load(require_file(weights), map_location="cpu", weights_only=True)[state_dict_key]  # data only
            self.model.load_state_dict(state)
        self.model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.size = self.model.visual.image_size
        self.size = self.size[0] if isinstance(self.size, (tuple, list)) else self.size
        self.preprocess, self.prefix, self.scale = PREPROCESS[preprocess], prefix, scale
        self.register_buffer("mean", torch.tensor(CLIP_MEAN)[:, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD)[:, None, None], persistent=False)

    @torch.no_grad()
    def encode_text(self, captions: list[str]) -> torch.Tensor:
        tokens = self.tokenizer([self.prefix + c for c in captions]).to(self.mean.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def encode_images(self, images_m11: torch.Tensor) -> torch.Tensor:
        x = self.preprocess((images_m11.float().clamp(-1, 1) + 1) / 2, self.size)
        return F.normalize(self.model.encode_image((x - self.mean) / self.std).float(), dim=-1)

    @torch.no_grad()
    def encode_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of an already preprocessed, normalised batch (gigagan_pil_pixels)."""
        return F.normalize(self.model.encode_image(x.to(self.mean.device)).float(), dim=-1)

    def forward(self, images_m11: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        return self.scale * (self.encode_images(images_m11) * text_features).sum(-1)


def clip_score_model(weights, arch: str = "ViT-B-32", quick_gelu: bool = True) -> OpenCLIPScorer:
    """quick_gelu: OpenAI's weights (the reward's ViT-B-32) need it, LAION's (ViT-g-14) do not."""
    return OpenCLIPScorer(arch, weights, preprocess="center_crop", prefix="A photo depicts ", scale=1.0,
                          quick_gelu=quick_gelu)


HPS_VERSION = "v2.1"


def hps_model(weights, arch: str = "ViT-H-14") -> OpenCLIPScorer:
    return OpenCLIPScorer(arch, weights, preprocess="resize_max_pad", prefix="", scale=100.0,
                          state_dict_key="state_dict")


def configured_scorer(name: str, weights, scorers) -> OpenCLIPScorer:
    """The CLIP-score ('clip') or HPS ('hps') scorer of a t2i_paper.scorers section, in its configured
    architecture (clip_arch / hps_arch)."""
    build = {"clip": clip_score_model, "hps": hps_model}[name]  # looked up per call: tests may swap them
    return build(weights, arch=getattr(scorers, f"{name}_arch"))
