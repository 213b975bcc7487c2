"""Claim verdicts: a gap counts only when Welch's 95% interval over training seeds excludes zero; one-seed rows
are inconclusive; missing rows are 'not tested'."""
import pandas as pd
from scipy import stats

import numpy as np

from reports.claims import PORTABLE, Verdict, _all, _claim, _verdict, _within, build_claims
from reports.stats import rerun_probability, welch, welch_summary


def test_verdict_is_welchs_interval_over_seeds():
    assert _verdict((10.0, 1.0, 3), (13.0, 1.0, 3)).value is True      # 95% CI of -3 is about [-5.3, -0.7]
    assert _verdict((13.0, 1.0, 3), (10.0, 1.0, 3)).value is False
    assert _verdict((10.0, 2.0, 3), (13.0, 2.0, 3)).value is None      # [-7.5, +1.5] straddles 0
    assert _verdict((10.0, 1.0, 3), (30.0, 0.0, 1)).value is None      # a one-seed side: no interval, never a verdict
    assert _verdict(None, (13.0, 0.0, 1)).value == "untested"
    yes, no, maybe = Verdict(True, 0.9), Verdict(False, 0.95), Verdict(None)
    assert _all(yes, yes) == Verdict(True, 0.9 * 0.9) and _all(yes, maybe).value is None
    assert _all(yes, no) == Verdict(False, 0.95) and _all(yes, Verdict("untested")).value == "untested"


def test_ratio_bounds_are_tested_over_seeds_not_on_point_estimates():
    """'FID stays within +10%' (claim 8) and 'within 1.5 x the teacher' (claim 3): a point estimate beyond the bound
    with a seed spread far wider than the gap is inconclusive, as in the tiny run whose claim 8 flipped between two
    CPU kernel levels (FID 412 -> 467, spread +-287)."""
    assert _within((467.0, 287.0, 3), (412.0, 50.0, 3), 1.1).value is None
    assert _within((467.0, 5.0, 3), (412.0, 5.0, 3), 1.1).value is False
    assert _within((420.0, 5.0, 3), (412.0, 5.0, 3), 1.1).value is True


def test_rerun_probability_is_the_predictive_chance_of_repeating_the_verdict():
    """The closed form against a simulation of its model: the true difference known to within one standard error,
    a rerun drawing its own mean difference around it; and the label a fragile verdict gets."""
    diff, se, df = -3.0, 1.0, 4.0
    rng = np.random.default_rng(0)
    truth = rng.normal(diff, se, 400_000)
    rerun = rng.normal(truth, se)
    critical = stats.t.ppf(0.975, df)
    simulated = float(np.mean(rerun / se < -critical))
    assert abs(rerun_probability(diff, se, df) - simulated) < 0.005
    assert rerun_probability(-20.0, 1.0, 4.0) > 0.999 and rerun_probability(-2.8, 1.0, 4.0) < 0.55
    fragile = _claim(1, "s", "p", "o", Verdict(True, PORTABLE - 0.01), "n")
    assert fragile["holds"] == "not portable (holds here)" and fragile["rerun_probability"] == PORTABLE - 0.01
    assert _claim(1, "s", "p", "o", Verdict(False, PORTABLE), "n")["holds"] == "does not hold"


def test_welch_matches_scipy():
    a, b = [10.1, 11.3, 9.2], [12.0, 14.5, 13.1, 12.2]
    w = welch(a, b)
    reference = stats.ttest_ind(a, b, equal_var=False)
    assert abs(w["p"] - reference.pvalue) < 1e-12
    sd = lambda x: stats.tstd(x)  # noqa: E731
    s = welch_summary(sum(a) / 3, sd(a), 3, sum(b) / 4, sd(b), 4)
    assert abs(s["p"] - reference.pvalue) < 1e-12 and abs(s["low"] - w["low"]) < 1e-12


def row(method, steps, fid, std=0.0, n=1):
    return {"method": method, "steps": steps, "fid_mean": fid, "fid_std": std, "n_seeds": n}


def test_claims_table_has_every_claim_and_marks_missing_rows_untested():
    table = pd.DataFrame([row("teacher", 1, 100, 1, 3), row("teacher", 2, 60, 1, 3), row("teacher", 8, 40, 1, 3),
                          row("dimo", 1, 50, 2, 3), row("soft_dimo", 1, 45, 1, 3), row("gan_only", 1, 80)])
    claims = pd.DataFrame(build_claims(table, gap=None)).set_index("claim")["holds"]
    assert list(claims.index) == [1, 2, 3, 4, 5, 6, 7]
    assert claims[1] == "not tested" and claims[2] == "not tested" and claims[7] == "not tested"
    assert claims[3] == "holds"          # 50 <= 1.5 * 40 and 50 below 60 beyond Welch's interval
    assert claims[5] == "holds"          # beats the teacher's own one-step FID
    assert claims[6] == "not tested"     # no Di[M]O-only continuation row


def t2i_row(method, fid, recall, n=3, sd=1.0):
    return {"method": method, "steps": 1, "n_seeds": n, "fid_mean": fid, "fid_std": sd, "recall_mean": recall,
            "recall_std": sd / 100, "geneval_mean": 0.5, "geneval_std": 0.01, "preference_mean": 1.0,
            "preference_std": 0.1}


def test_claim_10_reads_gan_only_against_its_dimo_init():
    from reports.claims import build_t2i_claims

    def claim10(rows):
        claims = pd.DataFrame(build_t2i_claims(pd.DataFrame(rows), "soft_dimo")).set_index("claim")
        return claims.loc[10, "holds"], claims.loc[10, "ours"]

    collapsed = [t2i_row("dimo", 40.0, 0.60), t2i_row("gan_only", 90.0, 0.20)]
    assert claim10(collapsed)[0] == "holds" and "gan_only 90.00" in claim10(collapsed)[1]
    assert claim10([t2i_row("dimo", 40.0, 0.60), t2i_row("gan_only", 30.0, 0.70)])[0] == "does not hold"
    assert claim10([t2i_row("dimo", 40.0, 0.60), t2i_row("gan_only", 90.0, 0.20, n=1)])[0] == "inconclusive"
    assert claim10([t2i_row("dimo", 40.0, 0.60)])[0] == "not tested"


def test_t2i_claims_read_the_paper_scale_table2_columns():
    """Paper-scale Table 2 names FID coco_fid and the preference score hps, and has no recall: claim 10 reads COCO
    FID alone there, claim 8 the HPS column."""
    from reports.claims import build_t2i_claims

    def paper_row(method, fid, hps=27.0, n=3):
        return {"method": method, "steps": 1, "n_seeds": n, "coco_fid_mean": fid, "coco_fid_std": 1.0,
                "geneval_mean": 0.5, "geneval_std": 0.01, "hps_mean": hps, "hps_std": 0.1}

    rows = [paper_row("dimo", 24.0), paper_row("gan_only", 60.0), paper_row("soft_dimo", 23.5, hps=29.0)]
    meissonic = {**paper_row("dimo", 90.0), "teacher": "Meissonic"}  # the same method name, another teacher
    table = pd.DataFrame([{**r, "teacher": "MaskGen-L"} for r in rows] + [meissonic])
    claims = pd.DataFrame(build_t2i_claims(table, "soft_dimo", teacher="MaskGen-L")).set_index("claim")
    assert list(claims.index) == ["2 (t2i) (MaskGen-L)", "8 (MaskGen-L)", "9 (MaskGen-L)", "10 (MaskGen-L)"]
    assert claims.loc["10 (MaskGen-L)", "holds"] == "holds"
    assert "COCO FID dimo 24.00" in claims.loc["10 (MaskGen-L)", "ours"]  # not Meissonic's dimo
    assert "no recall" in claims.loc["10 (MaskGen-L)", "note"]
    assert "preference dimo 27.00" in claims.loc["8 (MaskGen-L)", "ours"]  # HPS read as the preference score
    rows[1] = paper_row("gan_only", 20.0)
    claims = pd.DataFrame(build_t2i_claims(pd.DataFrame(rows), "soft_dimo")).set_index("claim")
    assert claims.loc[10, "holds"] == "does not hold"
