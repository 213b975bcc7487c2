"""Paper-scale ImageNet-256 metrics against ADM's reference batch (VIRTUAL_imagenet256_labeled.npz).

FID uses the reference's stored mu / sigma (ADM's evaluator does the same: they describe the whole training
set, the 10,000 images are a sample of it), with ADM's sqrtm safeguards (evaluation/frechet.py); Inception
Score uses the samples' unbiased logits; precision / recall (k = 3) compare the samples' pool3 features with
those of the 10,000 reference images. Inception Score and precision / recall follow ADM's evaluator by default
(c2i.eval.is_convention = adm: file-order parts of 5,000; c2i.eval.prc_arithmetic = adm_fp16: float16 distance
blocks), evaluation/adm_conventions.py; torch-fidelity's shuffled-split Inception Score is always written
beside it (is_torch_fidelity). The network is torch-fidelity's TF-compatible Inception-v3 from a local weight
file. Optionally FID is also computed with clean-fid's legacy_tensorflow mode (Di[M]O's protocol) from a
local inception-2015-12-05.pt, and with --dimo-stats against Di[M]O's reference statistics
(fid_stats_imagenet256_guided_diffusion.npz: mu, sigma) as `fid_dimo`, Di[M]O's own FID protocol.

    python -m evaluation.adm reference --ref-batch VIRTUAL_imagenet256_labeled.npz --extractor W --out ref.npz
    python -m evaluation.adm calc --samples S.npz --ref ref.npz --extractor W --num 50000 --out metrics.json \
        [--is-convention adm|torch_fidelity] [--prc-arithmetic adm_fp16|fp32] [--cleanfid-inception-dir DIR \
        [--dimo-stats fid_stats_imagenet256_guided_diffusion.npz]]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from evaluation.adm_conventions import IS_CONVENTIONS, PRC_ARITHMETIC, inception_score, precision_recall
from evaluation.fid import ImageArray, load_images, sha256
from evaluation.frechet import FRECHET_SQRT, feature_stats, frechet_distance
from softdimo.io import add_expect_argument, atomic_savez, check_samples, expectations, git_commit, write_json
from softdimo.pretrained import require_file
from softdimo.errors import cli, positive_int

FEATURES = ("2048", "logits_unbiased")


def inception(extractor_path, device):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    require_file(extractor_path)
    return FeatureExtractorInceptionV3("inception-v3-compat", list(FEATURES),
                                       feature_extractor_weights_path=str(extractor_path)).to(device)


@torch.no_grad()
def inception_features(images: np.ndarray, extractor_path, batch_size: int, device="cpu") -> dict[str, np.ndarray]:
    """uint8 NHWC -> {'2048': pool3 features, 'logits_unbiased': IS logits}, float64."""
    net = inception(extractor_path, device)
    loader = torch.utils.data.DataLoader(ImageArray(images), batch_size=batch_size)
    out = {k: [] for k in FEATURES}
    for batch in tqdm(loader, desc="inception", mininterval=5.0):
        for name, value in zip(FEATURES, net(batch.to(device))):
            out[name].append(value.double().cpu())
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def load_ref_batch(path) -> dict[str, np.ndarray]:
    """ADM's reference batch: arr_0 (N, 256, 256, 3) uint8 images plus mu / sigma of pool3 features."""
    with np.load(require_file(path)) as f:
        missing = {"arr_0", "mu", "sigma"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}: not an ADM reference batch")
        return {k: f[k] for k in ("arr_0", "mu", "sigma")}


def reference(ref_batch, extractor_path, batch_size: int, device) -> dict:
    ref = load_ref_batch(ref_batch)
    feats = inception_features(ref["arr_0"], extractor_path, batch_size, device)["2048"]
    return {"mu": ref["mu"], "sigma": ref["sigma"], "features": feats.astype(np.float32)}


def load_reference(path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in ("mu", "sigma", "features")}


@torch.no_grad()
def cleanfid_legacy_tf_fid(images: np.ndarray, mu, sigma, inception_dir, batch_size: int, device,
                           frechet_sqrt: str) -> float:
    """FID as Di[M]O computes it: clean-fid's legacy_tensorflow mode (TF-style resize inside the TorchScript
    Inception of StyleGAN2-ADA), from a local `inception-2015-12-05.pt` (clean-fid would download it); with
    frechet_sqrt symmetric_eigh the distance of those features is ours instead of clean-fid's sqrtm."""
    from cleanfid.fid import frechet_distance as cleanfid_frechet
    from cleanfid.inception_torchscript import InceptionV3W

    require_file(Path(inception_dir) / "inception-2015-12-05.pt")
    net = InceptionV3W(str(inception_dir), download=False, resize_inside=True).to(device)
    feats = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size]).permute(0, 3, 1, 2).float().to(device)
        feats.append(net(batch).double().cpu().numpy())
    mu_s, sigma_s = feature_stats(np.concatenate(feats))
    if frechet_sqrt == "scipy_sqrtm":
        return float(cleanfid_frechet(mu_s, sigma_s, mu, sigma))
    return frechet_distance(mu_s, sigma_s, mu, sigma, frechet_sqrt)


def load_mu_sigma(path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(require_file(path)) as f:
        if not {"mu", "sigma"} <= set(f.files):
            raise ValueError(f"{path} lacks mu / sigma (has {f.files}): not FID reference statistics")
        return f["mu"], f["sigma"]


def inception_scores(logits: np.ndarray, is_convention: str) -> dict:
    """The configured Inception Score as is / is_std, and both conventions under their own names."""
    both = {c: inception_score(logits, c) for c in IS_CONVENTIONS}
    chosen = both[is_convention]
    return {"is": chosen["mean"], "is_std": chosen["std"], "is_splits": chosen["splits"], "is_convention": is_convention,
            **{f"is_{c}": v["mean"] for c, v in both.items()}, **{f"is_{c}_std": v["std"] for c, v in both.items()}}


def adm_metrics(samples: np.ndarray, ref: dict, extractor_path, *, batch_size: int, k: int, device,
                is_convention: str, prc_arithmetic: str, frechet_sqrt: str, cleanfid_dir=None,
                dimo_stats=None) -> dict:
    feats = inception_features(samples, extractor_path, batch_size, device)
    mu, sigma = feature_stats(feats["2048"])
    precision, recall = precision_recall(feats["2048"], ref["features"], k, prc_arithmetic, device)
    out = {"fid": frechet_distance(mu, sigma, ref["mu"], ref["sigma"], frechet_sqrt),
           **inception_scores(feats["logits_unbiased"], is_convention),
           "precision": precision, "recall": recall, "prc_arithmetic": prc_arithmetic, "frechet_sqrt": frechet_sqrt}
    if cleanfid_dir is not None:
        out["fid_cleanfid_legacy_tf"] = cleanfid_legacy_tf_fid(samples, ref["mu"], ref["sigma"], cleanfid_dir,
                                                               batch_size, device, frechet_sqrt)
    if dimo_stats is not None:  # Di[M]O's protocol: the same clean-fid features against its own reference
        if cleanfid_dir is None:
            raise ValueError("--dimo-stats needs --cleanfid-inception-dir (clean-fid's legacy_tensorflow Inception)")
        out["fid_dimo"] = cleanfid_legacy_tf_fid(samples, *load_mu_sigma(dimo_stats), cleanfid_dir, batch_size, device,
                                                 frechet_sqrt)
        out["fid_dimo_reference"] = Path(dimo_stats).name
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference", help="cache the reference batch's statistics and pool3 features")
    r.add_argument("--ref-batch", required=True)
    r.add_argument("--out", required=True)
    c = sub.add_parser("calc", help="FID / IS / precision / recall of samples against the reference")
    c.add_argument("--samples", required=True)
    c.add_argument("--ref", required=True, help="output of `reference`")
    c.add_argument("--num", type=positive_int, required=True, help="images to score; fewer in the file is an error")
    c.add_argument("--prc-neighborhood", type=int, required=True)
    c.add_argument("--is-convention", choices=IS_CONVENTIONS, default="adm",
                   help="c2i.eval.is_convention (default: the paper preset's adm)")
    c.add_argument("--prc-arithmetic", choices=PRC_ARITHMETIC, default="adm_fp16",
                   help="c2i.eval.prc_arithmetic (default: the paper preset's adm_fp16)")
    c.add_argument("--frechet-sqrt", choices=FRECHET_SQRT, default="scipy_sqrtm",
                   help="c2i.eval.frechet_sqrt (default: the reference evaluators' scipy_sqrtm)")
    c.add_argument("--cleanfid-inception-dir", default=None, help="folder of inception-2015-12-05.pt (cross-check)")
    add_expect_argument(c)
    c.add_argument("--dimo-stats", default=None, help="Di[M]O's reference mu / sigma (.npz): writes fid_dimo")
    c.add_argument("--out", required=True)
    for p in (r, c):
        p.add_argument("--extractor", required=True, help="torch-fidelity Inception-v3 weights (.pth)")
        p.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.cmd == "reference":
        atomic_savez(args.out, **reference(args.ref_batch, args.extractor, args.batch_size, device))
        return
    t0 = time.time()
    sampling = check_samples(args.samples, expectations(args.expect))
    ref = load_reference(args.ref)
    metrics = adm_metrics(load_images(args.samples, args.num), ref, args.extractor, batch_size=args.batch_size,
                          k=args.prc_neighborhood, device=device, is_convention=args.is_convention,
                          prc_arithmetic=args.prc_arithmetic, frechet_sqrt=args.frechet_sqrt,
                          cleanfid_dir=args.cleanfid_inception_dir,
                          dimo_stats=args.dimo_stats)
    metrics.update({
        "n_samples": args.num, "n_reference": int(len(ref["features"])), "evaluator": "inception_v3",
        "reference": "adm_ref_batch", "prc_neighborhood": args.prc_neighborhood,
        "reference_sha256": sha256(args.ref), "extractor_sha256": sha256(args.extractor),
        "samples_sha256": sha256(args.samples), "eval_seconds": round(time.time() - t0, 2), "git_commit": git_commit(),
        "sampling": sampling,
    })
    write_json(args.out, metrics)
    print(json.dumps({k: metrics[k] for k in ("fid", "is", "precision", "recall")}))


if __name__ == "__main__":
    cli(main)
