"""Two runs of the same preset compared as a reader of the tables would: every metric of every row (Table 1,
tiny Table 2) and every claim's verdict. For issue 18's check that the tiny tables survive another CPU kernel
level or machine: a row differs "beyond seed noise" only when Welch's 95% interval of the difference between the
runs' means (over training seeds) excludes 0; a claim is stable when both runs give it the same verdict.

    python -m reports.cross_run --a <run A>/results --b <run B>/results --label-a "avx2 (pinned)" \
        --label-b "ATen default" --out-md docs/cross_run.md --out-csv cross_run.csv

Bit-identical tables give "identical" everywhere; one-seed rows have no interval, so their differences are listed
without a verdict. Nothing here reruns anything: it reads results/table1.csv, results/table2.csv and
results/claims.csv of both folders.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from reports.stats import welch_summary
from softdimo.errors import cli
from softdimo.io import atomic_write_text

TABLES = {"table1.csv": (["teacher_family", "method", "steps"], ["fid", "is", "precision", "recall"]),
          "table2.csv": (["method", "steps"], ["geneval", "clip_score", "preference", "fid", "precision", "recall"])}


def compare_table(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], metrics: list[str], table: str) -> pd.DataFrame:
    """One row per (table row, metric) present in both runs: means, difference b - a, Welch's interval, verdict."""
    keys = [k for k in keys if k in a and k in b]
    both = a.merge(b, on=keys, suffixes=("_a", "_b"), how="outer", indicator=True)
    rows = []
    for _, r in both.iterrows():
        name = " / ".join(str(r[k]) for k in keys)
        if r["_merge"] != "both":
            side = {"left_only": "A", "right_only": "B"}[r["_merge"]]
            rows.append({"table": table, "row": name, "metric": "-", "verdict": f"only in run {side}"})
            continue
        for m in metrics:
            if f"{m}_mean_a" not in r or pd.isna(r[f"{m}_mean_a"]) or pd.isna(r[f"{m}_mean_b"]):
                continue
            ma, mb = float(r[f"{m}_mean_a"]), float(r[f"{m}_mean_b"])
            sa, sb = float(r.get(f"{m}_std_a", 0) or 0), float(r.get(f"{m}_std_b", 0) or 0)
            na, nb = int(r["n_seeds_a"]), int(r["n_seeds_b"])
            w = welch_summary(mb, sb, nb, ma, sa, na)
            if ma == mb:
                verdict = "identical"
            elif w["low"] is None:
                verdict = "differs (one seed: no interval)"
            else:
                verdict = "beyond seed noise" if (w["low"] > 0 or w["high"] < 0) else "within seed noise"
            rows.append({"table": table, "row": name, "metric": m, "a": ma, "b": mb, "diff": mb - ma,
                         "low": w["low"], "high": w["high"], "relative": (mb - ma) / abs(ma) if ma else np.nan,
                         "verdict": verdict})
    return pd.DataFrame(rows)


def compare_claims(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    both = a[["claim", "statement", "holds"]].merge(b[["claim", "holds"]], on="claim", suffixes=("_a", "_b"),
                                                    how="outer")
    both["stable"] = both["holds_a"] == both["holds_b"]
    return both


def compare(a_dir: Path, b_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = []
    for name, (keys, metrics) in TABLES.items():
        if (a_dir / name).exists() and (b_dir / name).exists():
            parts.append(compare_table(pd.read_csv(a_dir / name), pd.read_csv(b_dir / name), keys, metrics, name))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    claims = (compare_claims(pd.read_csv(a_dir / "claims.csv"), pd.read_csv(b_dir / "claims.csv"))
              if (a_dir / "claims.csv").exists() and (b_dir / "claims.csv").exists() else pd.DataFrame())
    return rows, claims


def to_markdown(rows: pd.DataFrame, claims: pd.DataFrame, label_a: str, label_b: str) -> str:
    out = [f"Run A: {label_a}; run B: {label_b}. Difference B - A; Welch's 95% interval over training seeds.", ""]
    if len(rows):
        counts = rows["verdict"].value_counts()
        out += ["| verdict | metric values |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()] + [""]
        out += ["| table | row | metric | A | B | B - A | 95% interval | verdict |", "|---|---|---|---|---|---|---|---|"]
        for _, r in rows[rows["verdict"] != "identical"].iterrows():
            if r["metric"] == "-":
                out.append(f"| {r['table']} | {r['row']} | – | | | | | {r['verdict']} |")
                continue
            ci = "–" if pd.isna(r["low"]) else f"[{r['low']:+.4g}, {r['high']:+.4g}]"
            out.append(f"| {r['table']} | {r['row']} | {r['metric']} | {r['a']:.4g} | {r['b']:.4g} | "
                       f"{r['diff']:+.4g} | {ci} | {r['verdict']} |")
    if len(claims):
        out += ["", "| claim | A | B | stable |", "|---|---|---|---|"]
        out += [f"| {r['claim']} | {r['holds_a']} | {r['holds_b']} | {'yes' if r['stable'] else '**no**'} |"
                for _, r in claims.iterrows()]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, type=Path, help="results/ folder of run A")
    parser.add_argument("--b", required=True, type=Path, help="results/ folder of run B")
    parser.add_argument("--label-a", default="A")
    parser.add_argument("--label-b", default="B")
    parser.add_argument("--out-md", required=True)
    parser.add_argument("--out-csv", default=None)
    args = parser.parse_args(argv)
    for folder in (args.a, args.b):
        if not (folder / "table1.csv").exists():
            raise SystemExit(f"{folder}: no table1.csv; pass a run's results/ folder")
    rows, claims = compare(args.a, args.b)
    atomic_write_text(args.out_md, to_markdown(rows, claims, args.label_a, args.label_b))
    if args.out_csv:
        atomic_write_text(args.out_csv, rows.to_csv(index=False))
    unstable = [] if claims.empty else claims.loc[~claims["stable"], "claim"].tolist()
    print(f"{len(rows)} row metrics compared; claims whose verdict differs: {unstable or 'none'}")


if __name__ == "__main__":
    cli(main)
