"""Plain numpy / scipy Fréchet distance: the reference the torch-fidelity path is tested against, and the FID of
the paper-scale evaluators (evaluation/adm.py, evaluation/coco.py).

The two safeguards are those of ADM's evaluator and clean-fid (both inherited from the TTUR / pytorch-fid
code): when sqrtm(S1 S2) is not finite, the product is recomputed as (S1 + eps I)(S2 + eps I) with
eps = 1e-6; a complex root is accepted (its real part kept) only when no diagonal entry has an imaginary
part above 1e-3, otherwise the covariances are broken and the distance is an error, not a number.
"""
import warnings

import numpy as np
from scipy import linalg

SINGULAR_EPS = 1e-6      # ADM / clean-fid `eps`
IMAGINARY_ATOL = 1e-3    # ADM / clean-fid: np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def _sqrtm(m: np.ndarray) -> np.ndarray:
    root = linalg.sqrtm(m)  # newer scipy has no `disp`; older returned (root, error) with disp=False
    return np.asarray(root[0] if isinstance(root, tuple) else root)


def covariance_sqrt(sigma1, sigma2, eps: float = SINGULAR_EPS) -> np.ndarray:
    """Real (S1 S2)^{1/2} with ADM's / clean-fid's fallback and imaginary-part check."""
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        warnings.warn(f"FID: sqrtm of a singular covariance product; adding {eps} to the diagonal of both",
                      RuntimeWarning, stacklevel=3)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_ATOL):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm(S1 S2); "
                             "the covariances are not valid (too few samples, or corrupted statistics)")
        covmean = covmean.real
    return covmean


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2})."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    covmean = covariance_sqrt(sigma1, sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
