"""Inception Score and precision / recall as ADM's evaluator computes them (guided-diffusion,
evaluations/evaluator.py), next to torch-fidelity's conventions; which one a table reports is a config key
(c2i.eval.is_convention, c2i.eval.prc_arithmetic; docs/metrics.md).

Inception Score
  - adm: the softmax rows in FILE ORDER, cut into consecutive parts of 5,000 images (ADM's split_size; 10 parts
    for 50,000 samples), score = mean over parts of exp(mean_i KL(p(y|x_i) || p(y))), p(y) the part's mean.
    With labels cycling i mod 1000 every part holds every class equally often.
  - torch_fidelity: the same formula on 10 parts of a seeded shuffle (torch-fidelity's isc_features_to_metric,
    RandomState(2020).permutation). At IS 160-1,000 it comes out 5.6-9.1% below ADM's on the same logits.

Precision / recall (k-NN manifolds, Kynkäänniemi et al.)
  - adm_fp16: ADM's ManifoldEstimator: squared distances ||u||^2 - 2 u.v + ||v||^2 of features cast to float16
    in blocks of 10,000 x 10,000; a block with any non-finite value is recomputed in float32. The radius of a
    point is its (k+1)-th smallest distance (itself included); a point is inside when distance <= radius.
    Emulated here as a float32-accumulating GPU kernel with fp16 output computes it (TensorFlow's default
    TF_FP16_MATMUL_USE_FP32_COMPUTE): squares, matmul and norm sums of the fp16 values are summed exactly (float64),
    rounded to float32 and stored as float16; the subtraction / addition are element-wise fp16 operations. Only
    the summation order of a real fp32 kernel is not reproduced (it can move an entry by one fp16 step, in a
    small fraction of entries).
  - fp32: torch-fidelity's calculate_precision_recall_part (float32 Euclidean cdist), this project's former
    arithmetic; it moves P/R by 0.001-0.006 against ADM's at ImageNet scale.
"""
import numpy as np
import torch

IS_CONVENTIONS = ("adm", "torch_fidelity")
PRC_ARITHMETIC = ("adm_fp16", "fp32")
ADM_IS_SPLIT_SIZE = 5_000        # ADM's compute_inception_score(split_size=5000)
TORCH_FIDELITY_IS_SPLITS = 10    # torch-fidelity's isc_splits (shuffled)
ADM_BATCH = 10_000               # ADM's ManifoldEstimator row_batch_size = col_batch_size


# -- Inception Score ----------------------------------------------------------------------------------------
def inception_score(logits: np.ndarray, convention: str) -> dict:
    """{'mean', 'std', 'splits'} of the Inception Score of (N, C) logits (softmax taken here, in float64)."""
    logits = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    if convention == "torch_fidelity":
        from torch_fidelity.metric_isc import isc_features_to_metric

        out = isc_features_to_metric(logits, splits=TORCH_FIDELITY_IS_SPLITS)  # shuffle=True, rng_seed=2020
        return {"mean": out["inception_score_mean"], "std": out["inception_score_std"],
                "splits": TORCH_FIDELITY_IS_SPLITS}
    if convention != "adm":
        raise ValueError(f"unknown Inception Score convention {convention!r}; one of {IS_CONVENTIONS}")
    log_p = torch.log_softmax(logits, dim=1)  # = np.log(softmax) of ADM where the softmax does not underflow
    scores = []
    for start in range(0, len(log_p), ADM_IS_SPLIT_SIZE):
        part = log_p[start:start + ADM_IS_SPLIT_SIZE]
        log_py = torch.log(part.exp().mean(0, keepdim=True))
        kl = (part.exp() * (part - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": len(scores)}


# -- precision / recall ---------------------------------------------------------------------------------------
def _fp32_sum(x: torch.Tensor) -> torch.Tensor:
    """Row sums as a float32-accumulating kernel returns them, without its order dependence: the (near-)exact
    float64 sum rounded once to float32."""
    return x.double().sum(1).float()


def _fp32_matmul(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """u @ v.T accumulated in float64 and rounded once to float32: a float32-accumulating kernel's result up to
    its summation order, and independent of TF32 settings and of the BLAS's order."""
    return (u.double() @ v.double().T).float()


def adm_pairwise_sq_distances(u32: torch.Tensor, v32: torch.Tensor) -> torch.Tensor:
    """ADM's DistanceBlock on one block: squared distances ||u||^2 - 2 u.v + ||v||^2 of the fp16-cast features
    (tf.square, sums and matmul results in fp16, element-wise fp16 arithmetic), or the same in float32 when any
    fp16 value is not finite. u32, v32: float32 features; returns float32."""
    u16, v16 = u32.half(), v32.half()
    norm_u, norm_v = _fp32_sum(u16 * u16).half(), _fp32_sum(v16 * v16).half()
    d16 = torch.clamp_min((norm_u[:, None] - 2 * _fp32_matmul(u16, v16).half()) + norm_v[None, :], 0.0)
    if bool(torch.isfinite(d16).all()):
        return d16.float()
    norm_u, norm_v = _fp32_sum(u32 * u32), _fp32_sum(v32 * v32)
    return torch.clamp_min((norm_u[:, None] - 2 * _fp32_matmul(u32, v32)) + norm_v[None, :], 0.0)


def adm_manifold_radii(feats: torch.Tensor, k: int, batch: int = ADM_BATCH) -> torch.Tensor:
    """(k+1)-th smallest squared distance of every row to all rows (itself included), block by block."""
    radii = []
    for r in range(0, len(feats), batch):
        rows = feats[r:r + batch]
        nearest = [adm_pairwise_sq_distances(rows, feats[c:c + batch]).topk(min(k + 1, len(feats[c:c + batch])),
                                                                             dim=1, largest=False).values
                   for c in range(0, len(feats), batch)]
        radii.append(torch.cat(nearest, dim=1).kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def adm_precision_recall(sample_feats, ref_feats, k: int, device="cpu", batch: int = ADM_BATCH) -> tuple[float, float]:
    """ADM's compute_prec_recall: precision = share of samples inside the reference manifold, recall = share of
    reference images inside the samples' manifold."""
    ref = torch.as_tensor(np.asarray(ref_feats, dtype=np.float32), device=device)
    sam = torch.as_tensor(np.asarray(sample_feats, dtype=np.float32), device=device)
    radii_ref, radii_sam = adm_manifold_radii(ref, k, batch), adm_manifold_radii(sam, k, batch)
    ref_in = torch.zeros(len(ref), dtype=torch.bool, device=device)
    sam_in = torch.zeros(len(sam), dtype=torch.bool, device=device)
    for r in range(0, len(ref), batch):
        for c in range(0, len(sam), batch):
            d = adm_pairwise_sq_distances(ref[r:r + batch], sam[c:c + batch])
            ref_in[r:r + batch] |= (d <= radii_sam[None, c:c + batch]).any(1)
            sam_in[c:c + batch] |= (d <= radii_ref[r:r + batch, None]).any(0)
    return float(sam_in.double().mean()), float(ref_in.double().mean())


def precision_recall(sample_feats, ref_feats, k: int, arithmetic: str, device="cpu") -> tuple[float, float]:
    """(precision, recall) of generated features against reference features, k-NN manifolds."""
    if arithmetic == "adm_fp16":
        return adm_precision_recall(sample_feats, ref_feats, k, device)
    if arithmetic != "fp32":
        raise ValueError(f"unknown precision / recall arithmetic {arithmetic!r}; one of {PRC_ARITHMETIC}")
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    # torch-fidelity's order: generated first, real second (on the CPU, as before this option existed)
    p, r = calculate_precision_recall_part(torch.as_tensor(np.asarray(sample_feats)).float(),
                                           torch.as_tensor(np.asarray(ref_feats)).float(), neighborhood=k)
    return float(p), float(r)
