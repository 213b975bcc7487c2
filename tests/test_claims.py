"""Claim verdicts: a gap counts only when it exceeds the seed noise; missing rows are 'not tested'."""
import pandas as pd

from reports.claims import _all, _verdict, build_claims


def test_verdict_respects_seed_noise():
    assert _verdict((10.0, 1.0, 3), (13.0, 0.0, 1)) is True
    assert _verdict((13.0, 1.0, 3), (10.0, 0.0, 1)) is False
    assert _verdict((10.0, 4.0, 3), (13.0, 0.0, 1)) is None
    assert _verdict(None, (13.0, 0.0, 1)) == "untested"
    assert _all(True, True) is True and _all(True, None) is None and _all(True, False) is False
    assert _all(True, "untested") == "untested"


def row(method, steps, fid, std=0.0, n=1):
    return {"method": method, "steps": steps, "fid_mean": fid, "fid_std": std, "n_seeds": n}


def test_claims_table_has_every_claim_and_marks_missing_rows_untested():
    table = pd.DataFrame([row("teacher", 1, 100, 1, 3), row("teacher", 2, 60, 1, 3), row("teacher", 8, 40, 1, 3),
                          row("dimo", 1, 50, 2, 3), row("soft_dimo", 1, 45, 1, 3), row("gan_only", 1, 80)])
    claims = pd.DataFrame(build_claims(table, gap=None)).set_index("claim")["holds"]
    assert list(claims.index) == [1, 2, 3, 4, 5, 6, 7]
    assert claims[1] == "not tested" and claims[2] == "not tested" and claims[7] == "not tested"
    assert claims[3] == "holds"          # 50 <= 1.5 * 40 and 50 + 2 < 60
    assert claims[5] == "holds"          # beats the teacher's own one-step FID
    assert claims[6] == "not tested"     # no Di[M]O-only continuation row
