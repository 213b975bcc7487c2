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
# how tr (S1 S2)^{1/2} is computed (config c2i.eval.frechet_sqrt): the reference evaluators' scipy sqrtm, or the
# same trace from symmetric eigendecompositions (docs/metrics.md: 6-20x faster at 2048-d, other last digits)
FRECHET_SQRT = ("scipy_sqrtm", "symmetric_eigh")


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


def trace_sqrt_symmetric(sigma1, sigma2) -> float:
    """tr (S1 S2)^{1/2} without a non-symmetric square root: with S1 = U L U^T (eigh), S1 S2 has the nonzero
    eigenvalues of M = L^{1/2} U^T S2 U L^{1/2}, symmetric PSD, so the trace is the sum of the square roots of M's
    eigenvalues. Only the range of S1 matters (eigenvalues at rounding level are dropped): a covariance of n
    images has rank < n, and M shrinks to that rank. Clearly negative eigenvalues are an error."""
    values, vectors = np.linalg.eigh(sigma1)
    tol = np.abs(values).max() * sigma1.shape[0] * np.finfo(np.float64).eps
    keep = values > tol
    half = vectors[:, keep] * np.sqrt(values[keep])
    product = np.linalg.eigvalsh(half.T @ sigma2 @ half)
    # the counterpart of the scipy path's imaginary-part error: a covariance that is not PSD is broken statistics
    worst = min(values.min() / max(values.max(), tol), product.min() / max(np.abs(product).max(), tol))
    if worst < -1e-6:
        raise ValueError(f"FID: a covariance is not positive semi-definite (relative eigenvalue {worst:.3g}); the "
                         "statistics are not valid (too few samples, or corrupted)")
    return float(np.sqrt(np.clip(product, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, method: str = "scipy_sqrtm") -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2}); `method` one of FRECHET_SQRT."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if method == "scipy_sqrtm":
        trace_root = np.trace(covariance_sqrt(sigma1, sigma2))
    elif method == "symmetric_eigh":
        trace_root = trace_sqrt_symmetric(sigma1, sigma2)
    else:
        raise ValueError(f"unknown Frechet square-root method {method!r}; known: {FRECHET_SQRT}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root)
