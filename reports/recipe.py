"""results/recipe.csv: the recipe ablation (docs/recipe.md). For each variant of config/recipe_ablation.yaml
and each student, the one-step FID of the final EMA student (the last row of its training curve: eval_samples
images on the student's fixed image seeds, the track's evaluator) over its training seeds, and the difference
to the preset's own students (the official settings) with Welch's 95% interval and p value.

    python -m reports.recipe --curves official/dimo/0=PATH ... --variants config/recipe_ablation.yaml --out F
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", nargs="+", required=True, metavar="VARIANT/STUDENT/SEED=CSV")
    parser.add_argument("--variants", type=Path, required=True, help="config/recipe_ablation.yaml")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    curves = {k: Path(v) for k, v in (item.split("=", 1) for item in args.curves)}
    result = table(curves, yaml.safe_load(args.variants.read_text())["variants"])
    atomic_write_text(args.out, result.to_csv(index=False, float_format="%.4g"))
    print(result.to_string(index=False))


if __name__ == "__main__":
    cli(main)
