"""Two runs' tables compared row by row (issue 18): identical values, differences inside and beyond Welch's
interval over seeds, one-seed rows without a verdict, rows of one run only, claims whose verdict moves."""
import pandas as pd

from reports import cross_run


def table(rows):
    return pd.DataFrame([{"teacher_family": "maskbit", "method": m, "steps": 1, "n_seeds": n, "fid_mean": fid,
                          "fid_std": sd} for m, fid, sd, n in rows])


def test_rows_and_claims_of_two_runs(tmp_path):
    a = table([("teacher", 60.0, 2.0, 3), ("dimo", 100.0, 2.0, 3), ("soft_dimo", 80.0, 10.0, 3),
               ("gan_only", 300.0, 0.0, 1), ("old", 1.0, 0.0, 1)])
    b = table([("teacher", 60.0, 2.0, 3), ("dimo", 120.0, 2.0, 3), ("soft_dimo", 90.0, 10.0, 3),
               ("gan_only", 2500.0, 0.0, 1)])
    rows = cross_run.compare_table(a, b, ["teacher_family", "method", "steps"], ["fid", "is"], "table1.csv")
    verdict = dict(zip(rows["row"], rows["verdict"]))
    assert verdict["maskbit / teacher / 1"] == "identical"
    assert verdict["maskbit / dimo / 1"] == "beyond seed noise"          # +20 with std 2 over 3 seeds
    assert verdict["maskbit / soft_dimo / 1"] == "within seed noise"     # +10 with std 10
    assert verdict["maskbit / gan_only / 1"] == "differs (one seed: no interval)"
    assert verdict["maskbit / old / 1"] == "only in run A"
    claims_a = pd.DataFrame({"claim": [1, 2], "statement": ["x", "y"], "holds": ["holds", "inconclusive"]})
    claims_b = pd.DataFrame({"claim": [1, 2], "statement": ["x", "y"], "holds": ["inconclusive", "inconclusive"]})
    claims = cross_run.compare_claims(claims_a, claims_b)
    assert claims["stable"].tolist() == [False, True]
    md = cross_run.to_markdown(rows, claims, "avx2", "default")
    assert "| 1 | holds | inconclusive | **no** |" in md and "beyond seed noise" in md

    for name, run in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        run.to_csv(tmp_path / name / "table1.csv", index=False)
    claims_a.to_csv(tmp_path / "a" / "claims.csv", index=False)
    claims_b.to_csv(tmp_path / "b" / "claims.csv", index=False)
    cross_run.main(["--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"), "--out-md", str(tmp_path / "c.md")])
    assert "**no**" in (tmp_path / "c.md").read_text()
