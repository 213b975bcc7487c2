"""Evaluator conventions (docs/metrics.md, "Evaluator conventions"): each test feeds a known input whose value
differs between the official convention and the alternative, and checks the official one against a direct
numpy implementation of the official formula."""
import warnings

import numpy as np
import pytest
from scipy import linalg

from evaluation.frechet import SINGULAR_EPS, frechet_distance


# -- 12. Fréchet distance: ADM's / clean-fid's sqrtm safeguards ----------------------------------------------------
def test_singular_covariances_take_the_eps_fallback():
    """Two-sample covariances in 3-d: sqrtm(S1 S2) is NaN; ADM / clean-fid retry with (S1 + eps I)(S2 + eps I)."""
    x = np.array([[0.0, -1.0, -1.0], [0.0, 0.0, 0.0]])
    y = np.array([[0.3, -0.2, -1.8], [-1.4, 0.8, 1.0]])
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's own "Matrix is singular"
        plain = linalg.sqrtm(s1 @ s2)
    assert not np.isfinite(plain[0] if isinstance(plain, tuple) else plain).all(), "no longer a singular case"
    with pytest.warns(RuntimeWarning, match="adding 1e-06 to the diagonal"):
        got = frechet_distance(mu1, s1, mu2, s2)
    eye = np.eye(3) * SINGULAR_EPS
    root = linalg.sqrtm((s1 + eye) @ (s2 + eye))
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(root))
    assert np.isfinite(got) and got == pytest.approx(want, rel=1e-9)


def test_imaginary_part_above_1e_3_on_the_diagonal_is_an_error():
    mu = np.zeros(2)
    # sqrtm(diag(1, -1e-8)) = diag(1, 1e-4 i): below ADM's atol, the real part diag(1, 0) is kept
    assert frechet_distance(mu, np.eye(2), mu, np.diag([1.0, -1e-8])) == pytest.approx(2 + 1 - 1e-8 - 2 * 1)
    # sqrtm(diag(1, -1e-5)) has 3.2e-3 i on the diagonal: the statistics are broken, not the distance small
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance(mu, np.eye(2), mu, np.diag([1.0, -1e-5]))
