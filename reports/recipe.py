"""results/recipe.csv: the recipe ablation (docs/recipe.md). For each variant of config/recipe_ablation.yaml
and each student, the one-step FID of the final EMA student (the last row of its training curve: eval_samples
images on the student's fixed image seeds, the track's evaluator) over its training seeds, and the difference
to the preset's own students (the official settings) with Welch's 95% interval and p value.

    python -m reports.recipe --curves official/dimo/0=PATH ... --variants config/recipe_ablation.yaml --out F \
        [--figure results/figures/recipe.png]
"""
import argparse
import csv
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

from reports.stats import mean_interval, welch
from softdimo.errors import SoftdimoError, cli
from softdimo.io import atomic_write_text


def final_fid(path: Path) -> float:
    rows = [r for r in csv.DictReader(open(path)) if r.get("eval_fid")]
    if not rows:
        raise SoftdimoError(f"{path}: no eval_fid row (made by rule train_student / recipe_train_student)")
    return float(rows[-1]["eval_fid"])


def table(curves: dict[str, Path], variants: dict) -> pd.DataFrame:
    fids = defaultdict(dict)
    for label, path in curves.items():
        variant, student, seed = label.split("/")
        fids[(variant, student)][int(seed)] = final_fid(path)
    rows = []
    for (variant, student), by_seed in fids.items():
        base = fids[("official", student)]
        values = [by_seed[s] for s in sorted(by_seed)]
        mean, low, high = mean_interval(values)
        row = {"variant": variant, "student": student, "n_seeds": len(values), "fid_mean": mean, "fid_ci_low": low,
               "fid_ci_high": high, "fid_per_seed": " ".join(f"{v:.3f}" for v in values),
               "changed": "; ".join(f"{k}={v}" for k, v in variants.get(variant, {}).items()) or "(preset)"}
        if variant != "official":
            w = welch(values, [base[s] for s in sorted(base)])
            row.update(diff_vs_official=w["diff"], diff_ci_low=w["low"], diff_ci_high=w["high"], welch_p=w["p"])
        rows.append(row)
    order = ["official"] + list(variants)
    out = pd.DataFrame(rows)
    out["_v"] = out["variant"].map(order.index)
    return out.sort_values(["student", "_v"]).drop(columns="_v").reset_index(drop=True)


def plot(result: pd.DataFrame, out_png) -> None:
    """One panel per student: each variant's FID per seed (dots) and its mean with the 95% interval (bar), the
    official interval shaded across the panel, so a variant whose bar leaves the band stands out."""
    from reports.figures import _save, plt

    students = list(dict.fromkeys(result["student"]))
    fig, axes = plt.subplots(1, len(students), figsize=(4.2 * len(students), 0.45 * result["variant"].nunique() + 1.2),
                             sharey=True, squeeze=False)
    for ax, student in zip(axes[0], students):
        rows = result[result["student"] == student].reset_index(drop=True)
        base = rows[rows["variant"] == "official"].iloc[0]
        ax.axvspan(base["fid_ci_low"], base["fid_ci_high"], color="0.9", zorder=0)
        for y, row in rows.iterrows():
            seeds = [float(v) for v in str(row["fid_per_seed"]).split()]
            ax.plot(seeds, [y] * len(seeds), "o", color="0.55", ms=4, zorder=2)
            strong = row["variant"] != "official" and row.get("welch_p", 1.0) < 0.05
            ax.errorbar(row["fid_mean"], y, xerr=[[row["fid_mean"] - row["fid_ci_low"]],
                                                  [row["fid_ci_high"] - row["fid_mean"]]],
                        fmt="s", color="C3" if strong else "C0", capsize=3, zorder=3)
        ax.set_yticks(range(len(rows)), rows["variant"])
        ax.set_title(student)
        ax.set_xlabel("final one-step FID (lower is better)")
    axes[0][0].invert_yaxis()  # official on top (the axes share y: invert once)
    fig.suptitle("recipe ablation: mean and 95% interval over seeds (red: differs from official, Welch p < 0.05)",
                 fontsize=9)
    _save(fig, out_png)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", nargs="+", required=True, metavar="VARIANT/STUDENT/SEED=CSV")
    parser.add_argument("--variants", type=Path, required=True, help="config/recipe_ablation.yaml")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--figure", type=Path, help="also draw the table (reports.recipe.plot)")
    args = parser.parse_args(argv)
    curves = {k: Path(v) for k, v in (item.split("=", 1) for item in args.curves)}
    result = table(curves, yaml.safe_load(args.variants.read_text())["variants"])
    atomic_write_text(args.out, result.to_csv(index=False, float_format="%.4g"))
    if args.figure:
        plot(result, args.figure)
    print(result.to_string(index=False))


if __name__ == "__main__":
    cli(main)
