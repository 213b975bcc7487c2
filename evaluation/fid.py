"""FID, Inception Score and precision / recall through torch-fidelity, with the extractor from config.

    python -m evaluation.fid ref  --images holdout.npz --extractor classifier.pt --out ref_stats.npz
    python -m evaluation.fid calc --samples seed0.npz --ref holdout.npz --extractor classifier.pt \
        --num 1000 --out metrics.json

Samples are uint8 NHWC arrays under key arr_0 (the ADM evaluator's format). Fewer images than --num is an
error: an FID over fewer samples is a different (biased) number, not a noisier one.

Inception Score and precision / recall follow torch-fidelity by default (the tiny presets' c2i.eval.is_convention
= torch_fidelity, c2i.eval.prc_arithmetic = fp32); ADM's conventions (evaluation/adm_conventions.py) are
--is-convention adm / --prc-arithmetic adm_fp16. The record names the convention it used.
"""
import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch_fidelity

from evaluation.adm_conventions import IS_CONVENTIONS, PRC_ARITHMETIC, inception_score, precision_recall
from evaluation.extractors import EVALUATORS, register_all
from evaluation.frechet import feature_stats
from softdimo.io import add_expect_argument, atomic_savez, check_samples, expectations, git_commit, write_json
from softdimo.errors import ArtefactError, cli, positive_int, read_npz


class ImageArray(torch.utils.data.Dataset):
    """uint8 NHWC array -> uint8 CHW tensors, as torch-fidelity expects."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(np.ascontiguousarray(self.images[i].transpose(2, 0, 1)))


# what a table needs to know about a row of real images scored like samples
REAL_ROW = {"method": "real_train_images", "steps": 0, "nfe": 0, "eval_seed": 0, "images_per_s": float("nan")}


def load_images(path, num: int | None = None) -> np.ndarray:
    images = read_npz(path)["arr_0"]
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ArtefactError(f"{path}: arr_0 must be uint8 NHWC, got {images.dtype} {images.shape}")
    if images.shape[-1] not in (1, 3):
        layout = " (channels first? the format is NHWC)" if images.shape[1] in (1, 3) else ""
        raise ArtefactError(f"{path}: arr_0 must be NHWC with 1 or 3 channels, got shape {images.shape}{layout}")
    if num is not None:
        if len(images) < num:
            raise ArtefactError(f"{path} holds {len(images)} images, fewer than the {num} the config asks for; "
                             "regenerate the samples (an FID over fewer images is not comparable)")
        images = images[:num]
    return images


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compute_metrics(samples: np.ndarray, reference: np.ndarray, *, evaluator: str, extractor_path,
                    batch_size: int, prc_neighborhood: int, isc_splits: int = 10, isc: bool = True,
                    is_convention: str = "torch_fidelity", prc_arithmetic: str = "fp32") -> dict:
    register_all()
    if is_convention not in IS_CONVENTIONS or prc_arithmetic not in PRC_ARITHMETIC:
        raise ValueError(f"is_convention {is_convention!r} / prc_arithmetic {prc_arithmetic!r}: "
                         f"not one of {IS_CONVENTIONS} / {PRC_ARITHMETIC}")
    torch_prc = prc_arithmetic == "fp32"
    out = torch_fidelity.calculate_metrics(
        input1=ImageArray(samples), input2=ImageArray(reference), cuda=torch.cuda.is_available(),
        feature_extractor=EVALUATORS[evaluator], feature_extractor_weights_path=str(extractor_path),
        isc=isc, fid=True, prc=torch_prc, prc_neighborhood=prc_neighborhood, isc_splits=isc_splits,
        batch_size=batch_size, save_cpu_ram=True, cache=False, verbose=False)
    metrics = {"fid": out["frechet_inception_distance"]}
    if torch_prc:
        metrics.update(precision=out["precision"], recall=out["recall"])
    else:
        feats = [extract_features(x, evaluator=evaluator, extractor_path=extractor_path, batch_size=batch_size)
                 for x in (samples, reference)]
        metrics["precision"], metrics["recall"] = precision_recall(*feats, prc_neighborhood, prc_arithmetic)
    metrics["prc_arithmetic"] = prc_arithmetic
    if isc:
        metrics.update({"is": out["inception_score_mean"], "is_std": out["inception_score_std"],
                        "is_convention": is_convention})
        if is_convention == "adm":
            logits = extract_features(samples, evaluator=evaluator, extractor_path=extractor_path,
                                      batch_size=batch_size, layer="logits")
            adm = inception_score(logits, "adm")
            metrics.update({"is": adm["mean"], "is_std": adm["std"], "is_splits": adm["splits"],
                            "is_torch_fidelity": out["inception_score_mean"],
                            "is_torch_fidelity_std": out["inception_score_std"]})
    return metrics


def extract_features(images: np.ndarray, *, evaluator: str, extractor_path, batch_size: int,
                     layer: str = "features") -> np.ndarray:
    register_all()
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    fe = create_feature_extractor(EVALUATORS[evaluator], [layer], cuda=False,
                                  feature_extractor_weights_path=str(extractor_path), verbose=False)
    feats = get_featuresdict_from_dataset(ImageArray(images), fe, batch_size, False, True, False)
    return feats[layer].numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    ref = sub.add_parser("ref", help="reference statistics (mu, sigma) of real images")
    ref.add_argument("--images", required=True)
    ref.add_argument("--out", required=True, help="statistics .npz (mu, sigma)")
    calc = sub.add_parser("calc", help="FID / IS / precision / recall of samples against real images")
    calc.add_argument("--samples", required=True)
    calc.add_argument("--ref", required=True, help="real images (.npz, arr_0)")
    calc.add_argument("--num", type=positive_int, required=True, help="images to use; fewer is an error")
    calc.add_argument("--out", required=True)
    calc.add_argument("--prc-neighborhood", type=int, required=True)
    calc.add_argument("--is-convention", choices=IS_CONVENTIONS, default="torch_fidelity",
                      help="c2i.eval.is_convention (default: the tiny presets' torch_fidelity)")
    calc.add_argument("--prc-arithmetic", choices=PRC_ARITHMETIC, default="fp32",
                      help="c2i.eval.prc_arithmetic (default: the tiny presets' fp32)")
    add_expect_argument(calc)
    calc.add_argument("--real", action="store_true",
                      help="the 'samples' are real images (the FID floor row of the table), not generated ones")
    for p in (ref, calc):
        p.add_argument("--extractor", required=True, help="weights of the feature extractor")
        p.add_argument("--evaluator", required=True, choices=sorted(EVALUATORS))
        p.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.cmd == "ref":
        feats = extract_features(load_images(args.images), evaluator=args.evaluator, extractor_path=args.extractor,
                                 batch_size=args.batch_size)
        mu, sigma = feature_stats(feats)
        atomic_savez(args.out, mu=mu, sigma=sigma, n=len(feats))
        return
    t0 = time.time()
    sampling = REAL_ROW if args.real else check_samples(args.samples, expectations(args.expect))
    samples, reference = load_images(args.samples, args.num), load_images(args.ref)
    if samples.shape[1:] != reference.shape[1:]:
        raise ArtefactError(f"{args.samples} holds images of shape {samples.shape[1:]}, the reference {args.ref} "
                            f"{reference.shape[1:]}: they must match (H, W, channels)")
    metrics = compute_metrics(samples, reference, evaluator=args.evaluator,
                              extractor_path=args.extractor, batch_size=args.batch_size,
                              prc_neighborhood=args.prc_neighborhood, is_convention=args.is_convention,
                              prc_arithmetic=args.prc_arithmetic)
    metrics.update({
        "n_samples": args.num, "n_reference": int(len(load_images(args.ref))), "evaluator": args.evaluator,
        "prc_neighborhood": args.prc_neighborhood, "reference_sha256": sha256(args.ref),
        "extractor_sha256": sha256(args.extractor), "samples_sha256": sha256(args.samples),
        "eval_seconds": round(time.time() - t0, 2), "git_commit": git_commit(),
        "sampling": sampling,
    })
    write_json(args.out, metrics)
    print(json.dumps({k: metrics[k] for k in ("fid", "is", "precision", "recall")}))


if __name__ == "__main__":
    cli(main)
