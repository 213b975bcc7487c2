"""Reconstruction quality of the tokenizer on held-out real images: MSE, PSNR and rFID / precision / recall.

    python -m evaluation.reconstruction --tokenizer tokenizer.pt --ref holdout.npz --extractor classifier.pt \
        --evaluator digits_cnn --batch-size 500 --prc-neighborhood 3 --out tokenizer_eval.json
"""
import argparse
import math

import torch

from evaluation.fid import compute_metrics, load_images, sha256
from softdimo.checkpoints import load_artefact
from softdimo.io import git_commit, write_json
from softdimo.tokenizers.lfq import to_uint8
from softdimo.errors import cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--extractor", required=True)
    parser.add_argument("--evaluator", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--prc-neighborhood", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tokenizer, payload = load_artefact(args.tokenizer, "tokenizer")
    real = load_images(args.ref)
    with torch.no_grad():
        rec = to_uint8(tokenizer.decode(tokenizer.encode(torch.from_numpy(real)))).numpy()
    mse = float((((rec.astype(float) - real) / 255) ** 2).mean())
    metrics = compute_metrics(rec, real, evaluator=args.evaluator, extractor_path=args.extractor,
                              batch_size=args.batch_size, prc_neighborhood=args.prc_neighborhood)
    out = {f"r{k}" if k in ("fid", "is") else k: v for k, v in metrics.items()}
    out.update({"mse": mse, "psnr_db": 10 * math.log10(1 / mse), "n_images": int(len(real)),
                "bits": tokenizer.bits, "splits": tokenizer.splits, "seq_len": tokenizer.seq_len,
                "evaluator": args.evaluator, "reference_sha256": sha256(args.ref),
                "train_summary": payload["summary"], "git_commit": git_commit()})
    write_json(args.out, out)
    print(out)


if __name__ == "__main__":
    cli(main)
