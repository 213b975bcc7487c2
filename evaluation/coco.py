"""MS-COCO FID-30k and CLIP score as in Di[M]O's text-to-image evaluation (docs/paper-scale.md).

- Captions: T2IBenchmark's fixed 30,000 captions of COCO val2014 (`MS-COCO_val2014_30k_captions.csv`, columns
  image_id, text); one generated image per caption, image i for caption row i.
- FID: pytorch-fid's Inception (evaluation/fid_inception.py) on T2IBenchmark's 'clean' preprocessing, against
  T2IBenchmark's precomputed statistics of the real images (`MS-COCO_val2014_fid_stats.npz`, mu / sigma).
- CLIP score: Di[M]O's gigagan_eval_clip.py: the "A photo depicts " prefix, cosine similarity averaged over the
  same images, in the configured model and image path (t2i_paper.eval.clip_score; evaluation/clip_scorers.py).

    python -m evaluation.coco --samples S.npz --captions captions.csv --stats stats.npz \
        --inception pt_inception-2015-12-05-6726825d.pth --clip open_clip_vit_g_14.bin --clip-arch ViT-g-14 \
        --clip-quick-gelu false --clip-images gigagan_pil --out metrics.json
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from evaluation.fid_inception import FIDInceptionV3, to_network_input
from evaluation.frechet import FRECHET_SQRT, feature_stats, frechet_distance
from softdimo.io import add_expect_argument, check_samples, expectations, git_commit, write_json
from softdimo.pretrained import require_file
from softdimo.errors import cli

N_CAPTIONS = 30_000


def load_captions(path) -> list[tuple[int, str]]:
    """(image_id, caption) rows in file order: the order in which images are generated."""
    with open(require_file(path), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"image_id", "text"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: expected columns image_id and text, found {reader.fieldnames}")
        return [(int(row["image_id"]), row["text"]) for row in reader]


def load_stats(path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(require_file(path)) as f:
        if not {"mu", "sigma"} <= set(f.files):
            raise ValueError(f"{path} lacks mu / sigma: not an FID statistics file")
        return f["mu"].astype(np.float64), f["sigma"].astype(np.float64)


@torch.no_grad()
def fid_features(images: np.ndarray, net: FIDInceptionV3, batch_size: int, device) -> np.ndarray:
    feats = [net(to_network_input(images[i:i + batch_size]).to(device)).double().cpu()
             for i in tqdm(range(0, len(images), batch_size), desc="FID inception", mininterval=5.0)]
    return torch.cat(feats).numpy()


@torch.no_grad()
def clip_score(images: np.ndarray, captions: list[str], scorer, batch_size: int, device,
               image_path: str = "tensor_bicubic") -> float:
    """Mean cosine of image and prefixed caption; image_path: t2i_paper.eval.clip_score.images."""
    from evaluation.clip_scorers import gigagan_pil_pixels

    scores = []
    for i in tqdm(range(0, len(images), batch_size), desc="CLIP score", mininterval=5.0):
        text = scorer.encode_text(captions[i:i + batch_size])
        if image_path == "gigagan_pil":
            emb = scorer.encode_pixels(gigagan_pil_pixels(images[i:i + batch_size], scorer.size))
            scores.append((emb * text).sum(-1).double().cpu())
        else:
            x = torch.from_numpy(images[i:i + batch_size]).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
            scores.append(scorer(x, text).double().cpu())
    return float(torch.cat(scores).mean())


def evaluate(images: np.ndarray, captions: list[str], *, stats, inception, clip, batch_size=100, device="cpu",
             n_captions: int = N_CAPTIONS, clip_arch: str = "ViT-B-32", frechet_sqrt: str = "scipy_sqrtm",
             clip_quick_gelu: bool = True, clip_images: str = "tensor_bicubic") -> dict:
    """n_captions: the caption count the run is configured for (t2i_paper.eval.coco_captions; 30,000 is the
    protocol, paper_smoke's stand-in file has a few)."""
    from evaluation.clip_scorers import clip_score_model

    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images for {len(captions)} captions: image i belongs to caption row i")
    if len(images) != n_captions:
        raise ValueError(f"COCO FID needs {n_captions} images (t2i_paper.eval.coco_captions), got {len(images)}")
    t0 = time.time()
    mu, sigma = load_stats(stats)
    feats = fid_features(images, FIDInceptionV3(inception).to(device), batch_size, device)
    fid = frechet_distance(*feature_stats(feats), mu, sigma, method=frechet_sqrt)
    scorer = clip_score_model(clip, arch=clip_arch, quick_gelu=clip_quick_gelu).to(device)
    score = clip_score(images, captions, scorer, batch_size, device, image_path=clip_images)
    return {"coco_fid": fid, "clip_score": score, "n_images": len(images), "frechet_sqrt": frechet_sqrt,
            "clip_arch": clip_arch, "clip_quick_gelu": clip_quick_gelu, "clip_images": clip_images,
            "protocol": f"T2IBenchmark COCO-30k (pytorch-fid Inception, clean resize); CLIP {clip_arch} "
                        f"'A photo depicts', images {clip_images}",
            "seconds": time.time() - t0, "git_commit": git_commit()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", required=True, help="npz with arr_0: uint8 NHWC, one image per caption row")
    parser.add_argument("--captions", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--inception", required=True)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--clip-arch", required=True, help="open_clip architecture of --clip "
                                                           "(t2i_paper.eval.clip_score.arch; the official ViT-g-14)")
    parser.add_argument("--clip-quick-gelu", choices=["true", "false"], required=True,
                        help="t2i_paper.eval.clip_score.quick_gelu (OpenAI's weights: true; LAION's: false)")
    parser.add_argument("--clip-images", choices=["gigagan_pil", "tensor_bicubic"], required=True,
                        help="t2i_paper.eval.clip_score.images (the official: gigagan_pil)")
    parser.add_argument("--n-captions", type=int, default=N_CAPTIONS,
                        help="caption rows the run is configured for (t2i_paper.eval.coco_captions)")
    parser.add_argument("--frechet-sqrt", choices=FRECHET_SQRT, default="scipy_sqrtm",
                        help="t2i_paper.eval.frechet_sqrt (pytorch-fid: scipy_sqrtm)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--out", required=True)
    add_expect_argument(parser)
    args = parser.parse_args(argv)
    if args.expect:
        check_samples(args.samples, expectations(args.expect))
    from softdimo.runtime import setup_torch

    setup_torch(torch.get_num_threads())
    # the reference evaluators run PyTorch's defaults: fp32 matrix products, not setup_torch's TF32 (GPU only)
    torch.backends.cuda.matmul.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with np.load(args.samples) as f:
        images = f["arr_0"]
    captions = [text for _, text in load_captions(args.captions)]
    out = evaluate(images, captions, stats=args.stats, inception=args.inception, clip=args.clip,
                   batch_size=args.batch_size, device=device, n_captions=args.n_captions, clip_arch=args.clip_arch,
                   frechet_sqrt=args.frechet_sqrt, clip_quick_gelu=args.clip_quick_gelu == "true",
                   clip_images=args.clip_images)
    write_json(Path(args.out), {**out, "samples": args.samples})
    print(out)


if __name__ == "__main__":
    cli(main)
