"""ImageNet for the paper preset: check the train folder, ADM centre crop to 256, tokenise once.

The GAN of Soft-Di[M]O needs real tokens; tokenising 1.28M images once (one GPU job) is cheaper than
encoding them in every training step. Labels follow the sorted class-folder order (the standard ImageNet
label index, the one the MaskBit generator's class embedding was trained with).

    python -m softdimo.tracks.maskbit.imagenet check --path /data/imagenet/train --num-classes 1000 --out imagenet_index.json
    python -m softdimo.tracks.maskbit.imagenet tokenize --config CFG --index imagenet_index.json --tokenizer tokenizer.pt \
        --out results/c2i/data/train_tokens.npz
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from softdimo.images import center_crop_adm
from softdimo.io import atomic_savez, write_json
from softdimo.errors import cli

EXTENSIONS = {".jpeg", ".jpg", ".png"}


def check(path, num_classes: int) -> dict:
    """Index an ImageFolder-style train folder, or stop with what is wrong with it."""
    root = Path(path)
    if not root.is_dir():
        raise SystemExit(f"c2i.data.path: ImageNet train folder {root} does not exist. Set it in config/paper.yaml "
                         "to your copy (one subfolder per class, e.g. n01440764/).")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) != num_classes:
        raise SystemExit(f"c2i.data.path: {root} has {len(classes)} class folders, the teacher has {num_classes} "
                         "classes; point it at the train split (not val, not its parent).")
    files, labels = [], []
    for label, name in enumerate(classes):
        images = sorted(str(p.relative_to(root)) for p in (root / name).iterdir() if p.suffix.lower() in EXTENSIONS)
        if not images:
            raise SystemExit(f"c2i.data.path: class folder {root / name} holds no images")
        files += images
        labels += [label] * len(images)
    return {"path": str(root), "classes": classes, "files": files, "labels": labels, "n_images": len(files)}


class CroppedImages(torch.utils.data.Dataset):
    def __init__(self, index: dict, size: int):
        self.root, self.files, self.size = Path(index["path"]), index["files"], size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.root / self.files[i]) as image:
            return torch.from_numpy(center_crop_adm(image, self.size).copy())


@torch.no_grad()
def tokenize(index: dict, tokenizer, size: int, batch_size: int, workers: int, device) -> np.ndarray:
    loader = torch.utils.data.DataLoader(CroppedImages(index, size), batch_size=batch_size, num_workers=workers)
    out = []
    for images in tqdm(loader, total=math.ceil(len(index["files"]) / batch_size), desc="tokenise", mininterval=10):
        out.append(tokenizer.encode(images.to(device)).to(torch.int16).cpu().numpy())
    return np.concatenate(out)


def main(argv=None):
    from softdimo.checkpoints import load_artefact
    from softdimo.config import load_config
    from softdimo.runtime import setup_torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--path", required=True)
    c.add_argument("--num-classes", type=int, required=True)
    c.add_argument("--out", required=True)
    t = sub.add_parser("tokenize")
    t.add_argument("--config", required=True)
    t.add_argument("--index", required=True)
    t.add_argument("--tokenizer", required=True)
    t.add_argument("--batch-size", type=int, required=True)
    t.add_argument("--workers", type=int, required=True)
    t.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "check":
        index = check(args.path, args.num_classes)
        write_json(args.out, index)
        print(f"{index['n_images']} images in {len(index['classes'])} classes")
        return
    cfg = load_config(args.config)
    setup_torch(cfg.torch_threads)
    index = json.loads(Path(args.index).read_text())
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", cfg.device)
    tokens = tokenize(index, tokenizer, cfg.c2i.data.resolution, args.batch_size, args.workers, cfg.device)
    atomic_savez(args.out, tokens=tokens, labels=np.asarray(index["labels"], dtype=np.int16))
    write_json(Path(args.out).with_suffix(".json"), {"n_images": len(tokens), "shape": list(tokens.shape),
                                                     "resolution": cfg.c2i.data.resolution, "crop": "adm_center"})


if __name__ == "__main__":
    cli(main)
