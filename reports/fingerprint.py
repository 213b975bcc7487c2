"""Fingerprint of a results folder: one sha256 per artefact, blind to what legitimately varies run to run.

Weights are hashed tensor by tensor (a `.pt` file also stores the git commit), samples array by array,
metrics JSON and CSV tables with their timing and provenance fields removed (wall time, images/s, speed-ups,
git commit, absolute paths). Two runs of the same code and settings give the same fingerprint; a refactor
that keeps behaviour keeps it; the first artefact that differs says where numerics changed.

    python -m reports.fingerprint make results --out fingerprint.json
    python -m reports.fingerprint compare before.json after.json
"""
import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch

from softdimo.errors import cli

# names of values that measure the machine or the checkout, not the result. A resume fingerprint names the
# stage by its command-line name, which a refactor may rename without changing any weight; a recorded sha256
# of a weight file covers the commit stored in it (the weights themselves are hashed tensor by tensor); the
# step a run started at tells a resumed run from a straight one, which end with the same weights.
VOLATILE = re.compile(r"(seconds|_per_s|speedup|git_commit|^time$|wall|^processes$|^path$|_path$|^fingerprint$|sha256$|^started_at_step$)")
SKIP_SUFFIXES = {".log", ".tsv", ".html", ".png", ".tmp"}


def _update(h, obj) -> None:
    """Feed a nested structure of tensors, arrays, dicts, lists and scalars into the hash, volatile keys out."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"A{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            if isinstance(k, str) and VOLATILE.search(k):
                continue
            h.update(f"K{k}".encode())
            _update(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for v in obj:
            _update(h, v)
    else:
        h.update(f"V{obj!r}".encode())


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def artefact_hash(path: Path) -> str:
    h = hashlib.sha256()
    suffix = path.suffix
    if suffix == ".pt":
        _update(h, torch.load(path, map_location="cpu", weights_only=False))
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            _update(h, {k: f[k] for k in f.files})
    elif suffix == ".json":
        _update(h, json.loads(path.read_text()))
    elif suffix == ".jsonl":
        _update(h, [json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    elif suffix == ".csv":
        _update(h, _csv_rows(path))
    elif suffix == ".md":  # Markdown tables carry timings and the commit inline: keep lines without digits of speed
        text = re.sub(r"commit [0-9a-f]{7,40}(-dirty)?", "commit X", path.read_text())
        h.update(text.encode())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def make(results: Path, skip_md: bool = True) -> dict[str, str]:
    out = {}
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        if path.suffix in SKIP_SUFFIXES or path.name.startswith(".") or (skip_md and path.suffix == ".md"):
            continue
        out[str(path.relative_to(results))] = artefact_hash(path)
    return out


def compare(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines describing every difference; empty when the fingerprints agree."""
    lines = [f"only before: {k}" for k in sorted(set(before) - set(after))]
    lines += [f"only after: {k}" for k in sorted(set(after) - set(before))]
    lines += [f"differs: {k}" for k in sorted(set(before) & set(after)) if before[k] != after[k]]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fingerprint a results folder, or compare two fingerprints.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make", help="hash every artefact under a results folder")
    p.add_argument("results", type=Path, help="results folder (e.g. results)")
    p.add_argument("--out", type=Path, required=True, help="fingerprint JSON to write")
    c = sub.add_parser("compare", help="compare two fingerprint JSON files; exit 1 when they differ")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "make":
        if not args.results.is_dir():
            parser.error(f"no results folder at {args.results}")
        fp = make(args.results)
        args.out.write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
        print(f"{len(fp)} artefacts fingerprinted into {args.out}")
        return
    diff = compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    print("\n".join(diff) if diff else "identical")
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    cli(main)
