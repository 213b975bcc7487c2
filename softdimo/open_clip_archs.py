"""open_clip architectures of our own: `softdimo-smoke-clip`, the CLIP text encoder, CLIP-score and HPS scorer of
the paper_smoke preset and of the tests. It is open_clip's CLIP class (tokenizer, text pooling, 224-pixel vision
tower) at a width of 64 with text width = embedding width, as ViT-L-14-336's 768 / 768, so the MaskGen-L track's
conditioning code runs unchanged; ViT-B-32 takes ~2 s and ViT-H-14 ~1 min to build on 2 cores.

Only downloads: stand_in configs may name it (softdimo.config checks)."""
from pathlib import Path

SMOKE_CLIP = "softdimo-smoke-clip"
_CONFIGS = Path(__file__).with_name("open_clip_configs")


def ensure(arch: str) -> str:
    """Register our configs with open_clip before `arch` is built (a no-op for open_clip's own names)."""
    import open_clip

    if arch not in open_clip.list_models() and (_CONFIGS / f"{arch}.json").is_file():
        open_clip.add_model_config(_CONFIGS)
    return arch
