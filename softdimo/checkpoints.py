"""Load the artefacts the training stages export: {'kind', 'arch', 'kwargs', 'state_dict', 'summary', ...}.

Generators and tokenizers are built from this library's registries; the networks a track defines for its own
evaluation (the digits CNN, the shapes judges) are found by import path, so the library imports no track.
"""
import importlib
from pathlib import Path

import torch

from softdimo.errors import ArtefactError

PROVIDERS = {
    "tokenizer": "snakemake --cores all results/<c2i|t2i>/tokenizer.pt",
    "classifier": "snakemake --cores all results/c2i/classifier.pt",
    "teacher": "snakemake --cores all results/<c2i|t2i>/teacher.pt",
    "student": "snakemake --cores all results/<c2i|t2i>/students/<method>/seed<k>/generator.pt",
    "judge": "snakemake --cores all results/t2i/judges/<clip|reward|preference|shapes_cnn>.pt",
}
# kind -> "module:function(arch, **kwargs)" of the track that defines that kind's networks
TRACK_BUILDERS = {
    "classifier": "softdimo.tracks.digits.classifier:build_classifier",
    "judge": "softdimo.tracks.shapes.judges:build_judge",
}


def builder(kind: str):
    if kind == "tokenizer":
        from softdimo.tokenizers import build_tokenizer

        return build_tokenizer
    if kind in ("teacher", "student"):
        from softdimo.models import build_model

        return build_model
    module, _, name = TRACK_BUILDERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def read_payload(path, kind: str, device="cpu") -> dict:
    """The dict saved at `path`, loaded as data only (weights_only: a tampered file cannot run code); a missing,
    truncated or corrupt file is an ArtefactError that names it and says how to rebuild it."""
    path = Path(path)
    make = PROVIDERS.get(kind, "the workflow")
    if not path.exists():
        raise ArtefactError(f"{kind} weights not found: {path}. Make them with `{make}`.")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for damaged files
        raise ArtefactError(f"{path} is unreadable as a {kind} ({type(error).__name__}: {str(error)[:200]}); it is "
                            f"truncated, corrupt or not made by softdimo: delete it and rebuild it with `{make}`") from None
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise ArtefactError(f"{path} holds a {found!r}, not a {kind!r}: a swapped or misnamed file; delete it and "
                            f"rebuild it with `{make}`")
    return payload


def load_artefact(path, kind: str, device="cpu"):
    """Rebuild the module saved at `path` (in eval mode, no grad) and return (module, payload)."""
    payload = read_payload(path, kind, device)
    module = builder(kind)(payload["arch"], **payload["kwargs"])
    module.load_state_dict(payload["state_dict"])
    return module.to(device).eval().requires_grad_(False), payload


def check_row(row: str, payload: dict | None, prefix: str = "", student_path=None) -> None:
    """A sampling command's --method (the row name its samples' sidecar records, which the evaluators check)
    must be the row of the model it samples: `<prefix>teacher` without a student, `<prefix><the student's own
    method>` with one. Otherwise a sidecar could vouch for the wrong model."""
    want = prefix + (payload["method"] if payload is not None else "teacher")
    if row != want:
        what = f"the student {payload['method']!r} ({student_path})" if payload is not None else "the teacher"
        raise ArtefactError(f"--method {row!r} does not name the row of {what}: expected {want!r}")
