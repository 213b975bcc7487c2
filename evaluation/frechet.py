"""Plain numpy / scipy Fréchet distance: the reference the torch-fidelity path is tested against."""
import numpy as np
from scipy import linalg


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2})."""
    covmean = linalg.sqrtm(sigma1 @ sigma2)  # newer scipy has no `disp`; it returns the root alone
    covmean = np.asarray(covmean[0] if isinstance(covmean, tuple) else covmean).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
