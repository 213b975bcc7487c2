"""Small-sample statistics for verdicts over training seeds: a t interval of a mean and Welch's test of a
difference of two means (unequal variances). With 3 seeds a 95% interval is mean ± 4.30 s/sqrt(3): wide by
design, so a verdict says how sure it is."""
import math

from scipy import stats


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high); low = high = mean for one value (no interval from one seed)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def welch(a, b, level: float = 0.95) -> dict:
    """mean(a) - mean(b) with its Welch-Satterthwaite interval and two-sided p value; None where a side has one
    value (no variance to test against)."""
    na, nb = len(a), len(b)
    diff = sum(a) / na - sum(b) / nb
    if na < 2 or nb < 2:
        return {"diff": diff, "low": None, "high": None, "p": None, "df": None}
    va = sum((x - sum(a) / na) ** 2 for x in a) / (na - 1)
    vb = sum((x - sum(b) / nb) ** 2 for x in b) / (nb - 1)
    se2 = va / na + vb / nb
    if se2 == 0:
        return {"diff": diff, "low": diff, "high": diff, "p": 0.0 if diff else 1.0, "df": float(na + nb - 2)}
    df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2)
    p = 2 * stats.t.sf(abs(diff) / math.sqrt(se2), df)
    return {"diff": diff, "low": diff - half, "high": diff + half, "p": float(p), "df": float(df)}


def welch_summary(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int,
                  level: float = 0.95) -> dict:
    """welch() from each side's mean, sample std (ddof=1) and count, as the tables store them."""
    diff = mean_a - mean_b
    if n_a < 2 or n_b < 2:
        return {"diff": diff, "low": None, "high": None, "p": None, "df": None, "se": None}
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    se2 = va + vb
    if se2 == 0:
        return {"diff": diff, "low": diff, "high": diff, "p": 0.0 if diff else 1.0, "df": float(n_a + n_b - 2),
                "se": 0.0}
    df = se2**2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2)
    p = 2 * stats.t.sf(abs(diff) / math.sqrt(se2), df)
    return {"diff": diff, "low": diff - half, "high": diff + half, "p": float(p), "df": float(df),
            "se": math.sqrt(se2)}


def rerun_probability(diff: float, se: float, df: float, level: float = 0.95) -> float:
    """Probability that a rerun with fresh training seeds (same n per side) again finds the difference significant
    in the same direction, given the observed difference: the rerun's t statistic is centred on the observed one
    with twice its variance (the true difference is itself only known to within one standard error), the normal
    approximation of that predictive distribution against the t critical value of `level`."""
    if se == 0:
        return 1.0 if diff else 0.0
    critical = stats.t.ppf(0.5 + level / 2, df)
    return float(stats.norm.cdf((abs(diff) / se - critical) / math.sqrt(2)))
