"""reports.profile reads Snakemake's run log and benchmark files into a per-rule table."""
from pathlib import Path

import pytest

from reports.profile import core_use, critical_path, main, parse_log, profile

LOG = """Select jobs to execute...
[Tue Dec  1 11:35:00 2026]
localrule prepare_data:
    output: a
    jobid: 1
    benchmark: benchmarks/prepare_data.tsv
[Tue Dec  1 11:35:00 2026]
rule train:
    output: b
    jobid: 2
    threads: 2
[Tue Dec  1 11:35:10 2026]
Finished jobid: 1 (Rule: prepare_data)
[Tue Dec  1 11:35:30 2026]
Finished jobid: 2 (Rule: train)
[Tue Dec  1 11:35:30 2026]
rule train:
    jobid: 3
[Tue Dec  1 11:36:00 2026]
Finished jobid: 3 (Rule: train)
"""


def test_rules_times_overlap_and_cpu(tmp_path: Path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "prepare_data.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "10.0\t0:00:10\t512.5\t1\t1\t1\t0\t0\t1\t7.5\n")
    jobs = parse_log(LOG)
    assert [(j["rule"], j["threads"]) for j in jobs] == [("prepare_data", 1), ("train", 2), ("train", 1)]
    rows, totals = profile(jobs, tmp_path)
    by_rule = {r["rule"]: r for r in rows}
    assert rows[0]["rule"] == "train" and by_rule["train"]["wall_s"] == 60 and by_rule["train"]["jobs"] == 2
    assert by_rule["prepare_data"]["cpu_s"] == 7.5 and by_rule["prepare_data"]["max_rss_mb"] == 512.5
    assert by_rule["train"]["cpu_s"] is None
    # prepare_data ran entirely beside the first train job; train jobs overlapped it for 10 of 60 s
    assert by_rule["prepare_data"]["parallel"] == 2.0
    assert abs(by_rule["train"]["parallel"] - 70 / 60) < 1e-9
    assert totals["elapsed_s"] == 60 and totals["job_wall_s"] == 70
    assert abs(sum(r["share"] for r in rows) - 1) < 1e-9


def test_cli_writes_markdown(tmp_path: Path, capsys):
    log = tmp_path / ".snakemake" / "log" / "2026-12-01T000000.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(LOG)
    main(["--root", str(tmp_path), "--out", str(tmp_path / "profile.md")])
    text = (tmp_path / "profile.md").read_text()
    assert "| train | 2 | 1:00 |" in text and "| prepare_data | 1 | 0:10 |" in text
    assert text == capsys.readouterr().out


DOT = """digraph snakemake_dag {
    1[label = "prepare_data", color = "0.1 0.6 0.85", style="rounded"];
    2[label = "train", color = "0.2 0.6 0.85", style="rounded"];
    3[label = "train\\nseed: 0", color = "0.2 0.6 0.85", style="rounded"];
    1 -> 3
    EDGES
}"""


def test_core_use_and_critical_path():
    jobs = parse_log(LOG)
    # 0-10 s: 3 threads wanted (capped at 2 cores), 10-30 s: 2, 30-60 s: 1
    assert core_use(jobs, 2) == {2: 30.0, 1: 30.0}
    assert core_use(jobs, 4) == {3: 10.0, 2: 20.0, 1: 30.0}
    # job 3 after job 1 only: 10 + 30 s; after job 2 as well: the 30-s job 2 is on the path
    assert critical_path(jobs, DOT.replace("EDGES", "")) == (40.0, ["prepare_data", "train"])
    assert critical_path(jobs, DOT.replace("EDGES", "2 -> 3")) == (60.0, ["train", "train"])
    with pytest.raises(SystemExit, match="not this run's DAG.*job 2: log train, DAG prepare_data"):
        critical_path(jobs, DOT.replace('2[label = "train"', '2[label = "prepare_data"').replace("EDGES", ""))


def test_cli_adds_core_use_and_critical_path(tmp_path: Path, capsys):
    log = tmp_path / ".snakemake" / "log" / "2026-12-01T000000.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(LOG)
    (tmp_path / "dag.dot").write_text(DOT.replace("EDGES", "2 -> 3"))
    main(["--root", str(tmp_path), "--dag", str(tmp_path / "dag.dot")])
    out = capsys.readouterr().out
    assert "All 2 cores busy 0:30 of 1:00 (time with fewer cores busy, by count: 1: 0:30)." in out
    assert "Critical path 1:00: train → train." in out
    with pytest.raises(SystemExit, match="--dag: no such file"):
        main(["--root", str(tmp_path), "--dag", str(tmp_path / "none.dot")])


def test_readme_figure_draws_the_table_and_the_strips(tmp_path: Path):
    """The README's figure (make readme-figure) from a Table 1 with two families and two sample files."""
    import numpy as np
    import pandas as pd

    from reports.figures import main as figures

    rows = [dict(method=m, steps=s, fid_mean=f, fid_std=1.0, n_seeds=3, n_samples=100, evaluator="digits_cnn",
                 preset="tiny", teacher_family=fam)
            for fam in ("maskbit", "maskgit")
            for m, s, f in (("real_train_images", 0, 30.0), ("teacher", 4, 90.0), ("teacher", 16, 70.0),
                            ("soft_dimo", 1, 80.0))]
    pd.DataFrame(rows).to_csv(tmp_path / "table1.csv", index=False)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", arr_0=np.random.default_rng(0).integers(0, 256, (12, 8, 8, 1), np.uint8))
    out = tmp_path / "figure.png"
    figures(["readme", "--table", str(tmp_path / "table1.csv"), "--samples", str(tmp_path / "a.npz"),
             str(tmp_path / "b.npz"), "--titles", "teacher", "student", "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(SystemExit):
        figures(["readme", "--table", str(tmp_path / "table1.csv"), "--samples", str(tmp_path / "a.npz"),
                 "--titles", "one", "two", "--out", str(out)])
