"""Paper-scale ImageNet-256 metrics against ADM's reference batch (VIRTUAL_imagenet256_labeled.npz).

FID uses the reference's stored mu / sigma (ADM's evaluator does the same: they describe the whole training
set, the 10,000 images are a sample of it); Inception Score uses the samples' unbiased logits in 10 splits;
precision / recall (k = 3) compare the samples' pool3 features with those of the 10,000 reference images.
The network is torch-fidelity's TF-compatible Inception-v3 from a local weight file. Optionally FID is also
computed with clean-fid's legacy_tensorflow mode (Di[M]O's protocol) from a local inception-2015-12-05.pt.

    python -m evaluation.adm reference --ref-batch VIRTUAL_imagenet256_labeled.npz --extractor W --out ref.npz
    python -m evaluation.adm calc --samples S.npz --ref ref.npz --extractor W --num 50000 --out metrics.json \
        [--cleanfid-inception-dir DIR]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from evaluation.fid import ImageArray, load_images, sha256
from evaluation.frechet import feature_stats, frechet_distance
from softdimo.io import atomic_savez, git_commit, write_json
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


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(torch.from_numpy(logits), splits=splits)
    return out["inception_score_mean"], out["inception_score_std"]


def precision_recall(sample_feats: np.ndarray, ref_feats: np.ndarray, k: int) -> tuple[float, float]:
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    # torch-fidelity's order: generated first, real second
    p, r = calculate_precision_recall_part(torch.from_numpy(sample_feats).float(), torch.from_numpy(ref_feats).float(),
                                           neighborhood=k)
    return float(p), float(r)


@torch.no_grad()
def cleanfid_legacy_tf_fid(images: np.ndarray, mu, sigma, inception_dir, batch_size: int, device) -> float:
    """FID as Di[M]O computes it: clean-fid's legacy_tensorflow mode (TF-style resize inside the TorchScript
    Inception of StyleGAN2-ADA), from a local `inception-2015-12-05.pt` (clean-fid would download it)."""
    from cleanfid.fid import frechet_distance as cleanfid_frechet
    from cleanfid.inception_torchscript import InceptionV3W

    require_file(Path(inception_dir) / "inception-2015-12-05.pt")
    net = InceptionV3W(str(inception_dir), download=False, resize_inside=True).to(device)
    feats = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size]).permute(0, 3, 1, 2).float().to(device)
        feats.append(net(batch).double().cpu().numpy())
    mu_s, sigma_s = feature_stats(np.concatenate(feats))
    return float(cleanfid_frechet(mu_s, sigma_s, mu, sigma))


def adm_metrics(samples: np.ndarray, ref: dict, extractor_path, *, batch_size: int, k: int, device,
                cleanfid_dir=None) -> dict:
    feats = inception_features(samples, extractor_path, batch_size, device)
    mu, sigma = feature_stats(feats["2048"])
    isc, isc_std = inception_score(feats["logits_unbiased"])
    precision, recall = precision_recall(feats["2048"], ref["features"], k)
    out = {"fid": frechet_distance(mu, sigma, ref["mu"], ref["sigma"]), "is": isc, "is_std": isc_std,
           "precision": precision, "recall": recall}
    if cleanfid_dir is not None:
        out["fid_cleanfid_legacy_tf"] = cleanfid_legacy_tf_fid(samples, ref["mu"], ref["sigma"], cleanfid_dir,
                                                               batch_size, device)
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
    c.add_argument("--cleanfid-inception-dir", default=None, help="folder of inception-2015-12-05.pt (cross-check)")
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
    ref = load_reference(args.ref)
    metrics = adm_metrics(load_images(args.samples, args.num), ref, args.extractor, batch_size=args.batch_size,
                          k=args.prc_neighborhood, device=device, cleanfid_dir=args.cleanfid_inception_dir)
    metrics.update({
        "n_samples": args.num, "n_reference": int(len(ref["features"])), "evaluator": "inception_v3",
        "reference": "adm_ref_batch", "prc_neighborhood": args.prc_neighborhood, "is_splits": 10,
        "reference_sha256": sha256(args.ref), "extractor_sha256": sha256(args.extractor),
        "samples_sha256": sha256(args.samples), "eval_seconds": round(time.time() - t0, 2), "git_commit": git_commit(),
        "sampling": json.loads(Path(args.samples).with_suffix(".json").read_text()),
    })
    write_json(args.out, metrics)
    print(json.dumps({k: metrics[k] for k in ("fid", "is", "precision", "recall")}))


if __name__ == "__main__":
    cli(main)
