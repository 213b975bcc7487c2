"""Prompt sets of the text-to-image benchmarks as one JSON format {"set", "prompts", ...}: GenEval adds each
prompt's metadata line, HPS v2.1 the style of each prompt, COCO the image ids; `train` is a plain list.
"""
import csv
import json
from pathlib import Path

HPS_STYLES = ("anime", "concept-art", "paintings", "photo")


def prompt_set(kind: str, source, n: int | None = None) -> dict:
    source = Path(source)
    if not source.exists():
        raise SystemExit(f"prompt source not found: {source}")
    if kind == "geneval":
        metadata = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        return {"set": kind, "prompts": [m["prompt"] for m in metadata], "metadata": metadata}
    if kind == "hps":
        prompts, styles = [], []
        for style in HPS_STYLES:
            items = json.loads((source / f"{style}.json").read_text())
            prompts += items
            styles += [style] * len(items)
        return {"set": kind, "prompts": prompts, "styles": styles}
    if kind == "coco":
        with open(source, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {"set": kind, "prompts": [r["text"] for r in rows], "image_ids": [int(r["image_id"]) for r in rows]}
    if kind == "train":
        lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        if n is not None and len(lines) < n:
            raise SystemExit(f"{source} holds {len(lines)} prompts; t2i_paper.prompts.n_train asks for {n}")
        return {"set": kind, "prompts": lines[:n]}
    raise SystemExit(f"unknown prompt set {kind!r}")


def load_prompt_set(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"prompt set not found: {path}; it is made by rule t2i_paper_prompts")
    return json.loads(path.read_text())
