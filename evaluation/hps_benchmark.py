"""HPS v2.1 on HPS v2's benchmark prompts (anime, concept-art, paintings, photo; 800 each), one image per
prompt, as hpsv2's evaluate: per style the mean of 100 x cos(image, prompt) with HPS's preprocessing (the
official script averages 10 chunks of 80, which equals the mean; their spread is reported beside it), and
the average of the four styles.

    python -m evaluation.hps_benchmark --samples S.npz --prompts hps.json --weights HPS_v2.1_compressed.pt --out J
"""
import argparse
import time

import numpy as np
import torch
from tqdm import tqdm

from evaluation.clip_scorers import HPS_VERSION, hps_model
from softdimo.io import add_expect_argument, check_samples, expectations, git_commit, write_json
from softdimo.errors import cli

CHUNKS = 10


@torch.no_grad()
def hps_scores(images: np.ndarray, prompts: list[str], scorer, batch_size: int, device) -> np.ndarray:
    out = []
    for i in tqdm(range(0, len(images), batch_size), desc="HPS v2.1", mininterval=10.0):
        x = torch.from_numpy(images[i:i + batch_size]).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
        out.append(scorer(x, scorer.encode_text(prompts[i:i + batch_size])).double().cpu())
    return torch.cat(out).numpy()


def summarize(scores: np.ndarray, styles: list[str]) -> dict:
    styles = np.asarray(styles)
    out = {}
    for style in dict.fromkeys(styles.tolist()):
        s = scores[styles == style]
        chunks = [c.mean() for c in np.array_split(s, CHUNKS)]
        out[style] = {"hps": float(s.mean()), "chunk_std": float(np.std(chunks)), "n": int(len(s))}
    out["average"] = float(np.mean([v["hps"] for v in out.values()]))
    return out


def main(argv=None):
    from softdimo.runtime import setup_torch
    from evaluation.prompt_sets import load_prompt_set

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", required=True, help="npz arr_0: one uint8 image per prompt of the HPS set")
    parser.add_argument("--prompts", required=True, help="the HPS prompt set (softdimo.tracks.maskgen.pipeline prompts --set hps)")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--arch", default="ViT-H-14", help="open_clip architecture the weights load into "
                                                            "(t2i_paper.scorers.hps_arch; the protocol's is ViT-H-14)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--out", required=True)
    add_expect_argument(parser)
    args = parser.parse_args(argv)
    if args.expect:
        check_samples(args.samples, expectations(args.expect))
    setup_torch(torch.get_num_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pset = load_prompt_set(args.prompts)
    with np.load(args.samples) as f:
        images = f["arr_0"]
    if len(images) != len(pset["prompts"]):
        raise SystemExit(f"{args.samples}: {len(images)} images for {len(pset['prompts'])} HPS prompts (one each)")
    t0 = time.time()
    scores = hps_scores(images, pset["prompts"], hps_model(args.weights, arch=args.arch).to(device), args.batch_size, device)
    out = {"hps_version": HPS_VERSION, "arch": args.arch, **summarize(scores, pset["styles"]), "seconds": time.time() - t0,
           "samples": args.samples, "git_commit": git_commit()}
    write_json(args.out, out)
    print(out)


if __name__ == "__main__":
    cli(main)
