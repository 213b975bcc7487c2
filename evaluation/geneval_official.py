"""The official GenEval detector's side of the protocol (paper scale): the folder layout its
evaluate_images.py reads, and the summary of the results.jsonl it writes.

The detector itself (Mask2Former Swin-S under mmdet 2.x plus a CLIP colour classifier) runs in its own conda
environment (workflow/envs/geneval.yaml) from the official code at a pinned commit; what it writes per image
({"tag", "prompt", "correct", "reason", "metadata", "details"}) is summarised here with the same scoring as the
tiny track (evaluation/geneval.summarize): each task's share of correct images, overall = mean of the six.

    python -m evaluation.geneval_official layout --samples S.npz --metadata evaluation_metadata.jsonl \
        --images-per-prompt 4 --out geneval_images/
    python -m evaluation.geneval_official summary --results results.jsonl --out geneval.json
"""
import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.geneval import summarize
from softdimo.io import add_expect_argument, atomic_write_bytes, check_samples, expectations, write_json
from softdimo.errors import cli

OFFICIAL_COMMIT = "af4902f24d3ca90ebbb446dd9891a59e0f82725f"  # djghosh13/geneval, 2025-03-03


def write_layout(images: np.ndarray, metadata: list[dict], images_per_prompt: int, out: Path) -> None:
    """<out>/<prompt index:05>/metadata.jsonl (one JSON object) and samples/<k:05>.png; image i belongs to
    prompt i // images_per_prompt, as our samplers order them."""
    if len(images) != len(metadata) * images_per_prompt:
        raise ValueError(f"{len(images)} images for {len(metadata)} prompts x {images_per_prompt}")
    for p, meta in enumerate(metadata):
        folder = out / f"{p:05d}"
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        (folder / "metadata.jsonl").write_text(json.dumps(meta))
        for k in range(images_per_prompt):
            Image.fromarray(images[p * images_per_prompt + k]).save(folder / "samples" / f"{k:05d}.png")


PLACEHOLDER = "placeholder verdict (paper_smoke): no detector ran"


def placeholder_results(images: Path) -> list[dict]:
    """Records in the official results.jsonl format for a layout folder, without the detector: each image's
    verdict is the parity of its file's sha256, so it is fixed by the image and means nothing. For paper_smoke's
    stand-ins only (the detector's mmdet environment cannot be installed offline); every record says so."""
    import hashlib

    records = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        meta = json.loads((folder / "metadata.jsonl").read_text())
        for png in sorted((folder / "samples").glob("*.png")):
            digest = hashlib.sha256(png.read_bytes()).hexdigest()
            records.append({"filename": str(png), "tag": meta["tag"], "prompt": meta["prompt"],
                            "correct": int(digest, 16) % 2 == 0, "reason": PLACEHOLDER,
                            "metadata": json.dumps(meta), "placeholder": True})
    if not records:
        raise SystemExit(f"{images}: no <prompt>/samples/*.png images (rule t2i_paper_geneval_layout makes them)")
    return records


def summarize_results(path) -> dict:
    """Six task scores and overall (as the official summary_scores.py), plus its image- and prompt-level shares."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not records:
        raise ValueError(f"{path} holds no results")
    summary = summarize([r["tag"] for r in records], [bool(r["correct"]) for r in records])
    by_prompt: dict[str, bool] = {}
    for r in records:
        by_prompt[r["metadata"]] = by_prompt.get(r["metadata"], False) or bool(r["correct"])
    summary.update(correct_images=float(np.mean([bool(r["correct"]) for r in records])),
                   correct_prompts=float(np.mean(list(by_prompt.values()))), n_prompts=len(by_prompt),
                   detector="official GenEval (Mask2Former Swin-S)", geneval_commit=OFFICIAL_COMMIT)
    if any(r.get("placeholder") for r in records):
        summary.update(detector=PLACEHOLDER, geneval_commit="none")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    lay = sub.add_parser("layout")
    lay.add_argument("--samples", required=True)
    lay.add_argument("--metadata", required=True, help="GenEval's evaluation_metadata.jsonl (one prompt per line)")
    lay.add_argument("--images-per-prompt", type=int, required=True)
    lay.add_argument("--out", required=True)
    add_expect_argument(lay)
    fake = sub.add_parser("placeholder-results", help="paper_smoke only: verdicts without the detector")
    fake.add_argument("--images", required=True, help="a layout folder (the layout command's --out)")
    fake.add_argument("--out", required=True)
    summ = sub.add_parser("summary")
    summ.add_argument("--results", required=True)
    summ.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "layout":
        if args.expect:
            check_samples(args.samples, expectations(args.expect))
        with np.load(args.samples) as f:
            images = f["arr_0"]
        metadata = [json.loads(line) for line in Path(args.metadata).read_text().splitlines() if line.strip()]
        write_layout(images, metadata, args.images_per_prompt, Path(args.out))
    elif args.cmd == "placeholder-results":
        records = placeholder_results(Path(args.images))
        atomic_write_bytes(Path(args.out), "".join(json.dumps(r) + "\n" for r in records).encode())
        print(f"{args.out}: {len(records)} placeholder verdicts ({PLACEHOLDER})")
    else:
        summary = summarize_results(args.results)
        write_json(args.out, summary)
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    cli(main)
