"""Load the artefacts the training stages export: {'kind', 'arch', 'kwargs', 'state_dict', 'summary', ...}."""
from pathlib import Path

import torch

PROVIDERS = {
    "tokenizer": "snakemake --cores all results/<c2i|t2i>/tokenizer.pt",
    "classifier": "snakemake --cores all results/c2i/classifier.pt",
    "teacher": "snakemake --cores all results/<c2i|t2i>/teacher.pt",
    "student": "snakemake --cores all results/<c2i|t2i>/students/<method>/seed<k>/generator.pt",
    "judge": "snakemake --cores all results/t2i/judges/<clip|reward|preference|shapes_cnn>.pt",
}


def load_artefact(path, kind: str, device="cpu"):
    """Rebuild the module saved at `path` (in eval mode, no grad) and return (module, payload)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{kind} weights not found: {path}. Make them with `{PROVIDERS.get(kind, 'the workflow')}`.")
    payload = torch.load(path, map_location=device, weights_only=False)
    if payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r}, not a {kind!r}")
    if kind == "tokenizer":
        from softdimo.tokenizers import build_tokenizer as build
    elif kind in ("teacher", "student"):
        from softdimo.models import build_model as build
    elif kind == "judge":
        from evaluation.judges import build_judge as build
    else:
        from evaluation.digits_cnn import build_classifier as build
    module = build(payload["arch"], **payload["kwargs"])
    module.load_state_dict(payload["state_dict"])
    return module.to(device).eval().requires_grad_(False), payload
