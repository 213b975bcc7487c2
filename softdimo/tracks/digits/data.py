"""Datasets as uint8 NHWC arrays: the tiny preset's real handwritten digits.

Digits stay at their native 8x8: upsampling adds no information, and every pixel we add is paid for in the
tokenizer, the classifier and every decode during distillation. The 2x-downsampling tokenizer turns them
into a 4x4 token grid, small enough for the full pipeline to train on two CPU cores in minutes.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from softdimo.config import DataCfg, load_config
from softdimo.io import atomic_savez, write_json
from softdimo.errors import cli


def load_digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled UCI digits: (1797, 8, 8, 1) uint8 in [0, 255] and int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, bunch.target.astype(np.int64)


def split_indices(n: int, holdout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train / held-out split, stratification-free (digits are balanced)."""
    order = np.random.default_rng(seed).permutation(n)
    n_holdout = int(round(n * holdout_fraction))
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def prepare(cfg: DataCfg, out_dir: Path) -> dict:
    if cfg.source != "sklearn_digits":
        raise SystemExit(
            f"data.source={cfg.source!r}: only 'sklearn_digits' can be prepared by this command; "
            "ImageNet tokenisation belongs to the paper-scale class-to-image track (issue 5)."
        )
    images, labels = load_digits_uint8()
    train_idx, holdout_idx = split_indices(len(images), cfg.holdout_fraction, cfg.split_seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_savez(out_dir / "train.npz", arr_0=images[train_idx], labels=labels[train_idx])
    atomic_savez(out_dir / "holdout.npz", arr_0=images[holdout_idx], labels=labels[holdout_idx])
    summary = {
        "source": cfg.source,
        "n_train": int(len(train_idx)),
        "n_holdout": int(len(holdout_idx)),
        "image_shape": list(images.shape[1:]),
        "class_counts_train": np.bincount(labels[train_idx], minlength=10).tolist(),
    }
    write_json(out_dir / "data.json", summary)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the train / held-out splits as uint8 NHWC .npz files.")
    parser.add_argument("--config", required=True, help="resolved config YAML")
    parser.add_argument("--out", required=True, help="output folder (train.npz, holdout.npz, data.json)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    print(json.dumps(prepare(cfg.c2i.data, Path(args.out)), indent=1))


if __name__ == "__main__":
    cli(main)
