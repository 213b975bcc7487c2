"""The GAN students' real data on MaskGen-L: your image-caption pairs, cropped and tokenised once by TA-TiTok's
encoder (tokenising in every training step would cost an encoder pass per batch for the same tokens).

    python -m softdimo.tracks.maskgen.real_pairs --config CFG --tokenizer results/t2i_paper/tokenizer.pt \
        --pairs pairs.csv --workers 8 --out results/t2i_paper/gan_real/tokens.npz \
        --prompts-out results/t2i_paper/gan_real/captions.json

The CSV has a header with the columns `image` and `caption`; a relative image path is read from the CSV's
folder. The first t2i_paper.gan_data.n_pairs rows are used. Outputs: tokens.npz {"tokens": (N, 128, 1) int16,
"row": (N,) CSV row} with a .json summary, and a prompt set {"set": "gan_real", "prompts": captions} that the
training text bank includes, so the discriminator reads each real image with its own caption.
"""
import argparse
import csv
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from softdimo.errors import cli, nonnegative_int
from softdimo.images import center_crop_adm
from softdimo.io import atomic_savez, write_json

COLUMNS = ("image", "caption")


def read_pairs(path, n: int) -> list[tuple[Path, str]]:
    """The first n (image path, caption) rows, or stop naming what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"t2i_paper.gan_data.pairs: {path} does not exist. Set it in the config to your CSV of "
                         "image,caption pairs (e.g. COCO train2014 images with one caption each).")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark is no column
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: needs the header columns {', '.join(COLUMNS)}; missing {', '.join(missing)} "
                             f"(found {reader.fieldnames})")
        rows = [r for _, r in zip(range(n), reader)]
    if len(rows) < n:
        raise SystemExit(f"{path} holds {len(rows)} pairs; t2i_paper.gan_data.n_pairs asks for {n}")
    pairs = []
    for i, r in enumerate(rows):
        if r["image"] is None or r["caption"] is None:
            raise SystemExit(f"{path}, data row {i + 1}: needs both an image and a caption")
        image, caption = Path(r["image"]), r["caption"].strip()
        image = image if image.is_absolute() else path.parent / image
        if not caption:
            raise SystemExit(f"{path}, data row {i + 1}: empty caption (the empty prompt is the unguided branch)")
        if not image.is_file():
            raise SystemExit(f"{path}, data row {i + 1}: image {image} does not exist")
        pairs.append((image, caption))
    return pairs


class CroppedPairs(torch.utils.data.Dataset):
    def __init__(self, images: list[Path], size: int):
        self.images, self.size = images, size

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        with Image.open(self.images[i]) as image:
            return torch.from_numpy(center_crop_adm(image, self.size).copy())


@torch.no_grad()
def tokenize(images: list[Path], tokenizer, size: int, batch_size: int, workers: int, device) -> np.ndarray:
    """(N, L, 1) int16 tokens of the cropped images; an image's tokens depend on that image only."""
    loader = torch.utils.data.DataLoader(CroppedPairs(images, size), batch_size=batch_size, num_workers=workers)
    out = []
    for batch in tqdm(loader, total=math.ceil(len(images) / batch_size), desc="tokenise pairs", mininterval=10):
        out.append(tokenizer.encode(batch.to(device)).to(torch.int16).cpu().numpy())
    return np.concatenate(out)


def main(argv=None):
    from softdimo.checkpoints import load_artefact
    from softdimo.config import load_config
    from softdimo.runtime import setup_torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--config", "--tokenizer", "--pairs", "--out", "--prompts-out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--workers", type=nonnegative_int, default=0, help="image decoding processes")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    if cfg.t2i_paper is None:
        raise SystemExit(f"{args.config} has no t2i_paper section (the paper preset has)")
    data = cfg.t2i_paper.gan_data
    pairs = read_pairs(args.pairs, data.n_pairs)
    setup_torch(cfg.torch_threads)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", cfg.device)
    size = cfg.t2i_paper.tokenizer.kwargs["image_size"]
    tokens = tokenize([p for p, _ in pairs], tokenizer, size, data.batch_size, args.workers, cfg.device)
    atomic_savez(args.out, tokens=tokens, row=np.arange(len(pairs)))
    write_json(Path(args.out).with_suffix(".json"), {"n_pairs": len(pairs), "shape": list(tokens.shape),
                                                     "resolution": size, "crop": data.crop, "source": args.pairs})
    write_json(args.prompts_out, {"set": "gan_real", "prompts": [c for _, c in pairs]})
    print(f"{len(pairs)} pairs -> tokens {tokens.shape}")


if __name__ == "__main__":
    cli(main)
