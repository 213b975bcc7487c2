"""Table 2 at paper scale (MaskGen-L rows, and Meissonic rows named meissonic_<row>): per-row metrics merged from the official GenEval summary, HPS v2.1
and COCO FID-30k / CLIP score, then the table with the paper's numbers beside ours and two figures.

    python -m reports.table2_paper merge --method M --steps S --seed K --parts geneval=G hps=H coco=C \
        sampling=S.json --out metrics.json
    python -m reports.table2_paper table --metrics <metrics.json ...> --reported config/reported.csv \
        --preset paper --tt-student soft_dimo --table-n 16 --table-tteo 4 --curves <curve.csv ...> \
        --out-csv results/table2.csv --out-md results/table2.md --out-bon F.png --out-curves F.png

Rows are (method, steps) over seeds: mean and sample std (ddof=1; 0 for one seed). Test-time settings are
named <student>+n<N>_tteo<k>; the table keeps three of them as +tteo (N=1), +bon (k=0) and +bon_tteo, the
figure plots GenEval of all of them.
"""
import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from reports.figures import _save, plt
from evaluation.geneval import TASKS
from evaluation.geneval_official import PLACEHOLDER
from reports.table2 import plot_geneval_vs_n
from softdimo.io import atomic_write_text, git_commit, write_json
from softdimo.errors import cli

HPS_STYLES = ("anime", "concept-art", "paintings", "photo")
GRID = re.compile(r"^(?P<student>.+)\+n(?P<n>\d+)_tteo(?P<k>\d+)$")
# rows of another teacher carry its prefix in the method name (workflow/rules/meissonic_common.smk)
TEACHERS = {"meissonic_": "Meissonic"}
DEFAULT_TEACHER = "MaskGen-L"


def split_teacher(method: str) -> tuple[str, str]:
    """(teacher as in reported.csv, method without the teacher's prefix)."""
    for prefix, name in TEACHERS.items():
        if method.startswith(prefix):
            return name, method[len(prefix):]
    return DEFAULT_TEACHER, method


def merge(method: str, steps: int, seed: int, parts: dict[str, Path]) -> dict:
    out = {"method": method, "steps": steps, "eval_seed": seed, "git_commit": git_commit()}
    for name, path in parts.items():
        out[name] = json.loads(Path(path).read_text())
    return out


def _flat(record: dict) -> dict:
    g, h, c, s = (record.get(k, {}) for k in ("geneval", "hps", "coco", "sampling"))
    row = {"geneval": g.get("overall", np.nan), **{f"geneval_{t}": g.get(t, np.nan) for t in TASKS},
           "hps": h.get("average", np.nan), **{f"hps_{st}": h.get(st, {}).get("hps", np.nan) for st in HPS_STYLES},
           "coco_fid": c.get("coco_fid", np.nan), "clip_score": c.get("clip_score", np.nan),
           "images_per_s": s.get("images_per_s", np.nan)}
    return row


STAND_IN_NOTE = ("paper_smoke preset: every official file (weights, text encoders, scorers, Inception, COCO "
                 "statistics, prompt sets) is a seeded random stand-in at small sizes "
                 "(softdimo/tracks/{maskgen,meissonic}/stand_ins.py), and GenEval's verdicts are placeholders (no "
                 "detector ran); these numbers only show that the paper's code paths ran, and mean nothing about the "
                 "method.")


def table_name(method: str, tt_student: str, table_n: int, table_tteo: int) -> str | None:
    """The table's name of a row, or None for a test-time grid point that only the figure shows."""
    m = GRID.match(method)
    if not m:
        return method
    n, k = int(m["n"]), int(m["k"])
    names = {(1, table_tteo): "tteo", (table_n, 0): "bon", (table_n, table_tteo): "bon_tteo"}
    return f"{m['student']}+{names[(n, k)]}" if m["student"] == tt_student and (n, k) in names else None


def build(metric_files, reported_csv, preset, tt_student, table_n, table_tteo) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = [json.loads(Path(p).read_text()) for p in metric_files]
    flat = pd.DataFrame([{"method": r["method"], "steps": r["steps"], "seed": r["eval_seed"], **_flat(r)} for r in records])
    metrics = [c for c in flat.columns if c not in ("method", "steps", "seed")]
    flat["geneval_detector"] = [r.get("geneval", {}).get("detector", "") for r in records]
    coco = [r.get("coco", {}) for r in records]  # the CLIP-score model and image path each row was scored with
    flat["clip_model"] = [f"{c['clip_arch']}, {c.get('clip_images', 'tensor_bicubic')}" if "clip_arch" in c else ""
                          for c in coco]
    for path, detector in zip(metric_files, flat["geneval_detector"]):
        if detector == PLACEHOLDER and preset != "paper_smoke":  # never a real table's number
            raise SystemExit(f"{path}: its GenEval verdicts are placeholders ({detector}), which only the paper_smoke "
                             f"preset writes; this table is preset {preset}: delete the file and rerun its rules")
    flat["teacher"], flat["method"] = zip(*[split_teacher(m) for m in flat["method"]])
    on_grid = flat["method"].str.contains(r"\+n\d+_tteo\d+", regex=True)
    grid = flat[on_grid & (flat["teacher"] == DEFAULT_TEACHER)].drop(columns="teacher")  # the figure: MaskGen-L
    flat["method"] = [table_name(m, tt_student, table_n, table_tteo) for m in flat["method"]]
    flat = flat.dropna(subset=["method"])
    rows = []
    for (teacher, method, steps), part in flat.groupby(["teacher", "method", "steps"], sort=False):
        row = {"teacher": teacher, "method": method, "steps": steps, "n_seeds": len(part),
               "seeds": " ".join(map(str, part["seed"])),
               "geneval_detector": " / ".join(sorted(set(part["geneval_detector"]) - {""})),
               "clip_model": " / ".join(sorted(set(part["clip_model"]) - {""}))}
        for m in metrics:
            v = part[m].to_numpy(float)
            row[f"{m}_mean"] = float(np.mean(v)) if np.isfinite(v).any() else np.nan
            row[f"{m}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 and np.isfinite(v).all() else 0.0
        rows.append(row)
    order = {"teacher": 0}
    table = pd.DataFrame(rows)
    table["_o"] = [order.get(m, 1 + ("+" in m)) for m in table["method"]]
    table["_t"] = [t != DEFAULT_TEACHER for t in table["teacher"]]
    table = table.sort_values(["_t", "teacher", "_o", "steps", "method"]).drop(columns=["_o", "_t"])
    table = table.reset_index(drop=True)
    rep = pd.read_csv(reported_csv)
    rep = rep[(rep["table"] == "table2") & rep["teacher"].isin(set(table["teacher"]))]
    if not rep.empty:  # the paper's HPS v2.1 average sits under 'preference' in reported.csv
        rep = rep.assign(metric=rep["metric"].replace({"preference": "hps", "fid": "coco_fid"}))
        wide = rep.pivot_table(index=["teacher", "method", "steps"], columns="metric", values="value", aggfunc="first")
        wide = wide.rename(columns=lambda c: f"reported_{c}").reset_index()
        table = table.merge(wide, on=["teacher", "method", "steps"], how="left")
    table["preset"], table["git_commit"] = preset, git_commit()
    return table, grid


def to_markdown(table: pd.DataFrame) -> str:
    def pm(r, m, d):
        mean, std = r.get(f"{m}_mean", np.nan), r.get(f"{m}_std", 0.0)
        if pd.isna(mean):
            return "–"
        return f"{mean:.{d}f}" if r["n_seeds"] == 1 else f"{mean:.{d}f} ± {std:.{d}f}"

    def paper(r, m, d):
        v = r.get(f"reported_{m}", np.nan)
        return "–" if pd.isna(v) else f"{v:.{d}f}"

    head = ("| method | steps | GenEval (paper) | " + " | ".join(TASKS) + " | HPS v2.1 (paper) | COCO FID-30k (paper) "
            "| CLIP score (paper) | images/s |")
    lines = [head, "|" + "---|" * (len(TASKS) + 7)]
    for _, r in table.iterrows():
        name = r["method"] if r["teacher"] == DEFAULT_TEACHER else f"{r['teacher']}: {r['method']}"
        lines.append(f"| {name} | {r['steps']} | {pm(r, 'geneval', 3)} ({paper(r, 'geneval', 2)}) | "
                     + " | ".join("–" if pd.isna(r[f"geneval_{t}_mean"]) else f"{r[f'geneval_{t}_mean']:.2f}" for t in TASKS)
                     + f" | {pm(r, 'hps', 2)} ({paper(r, 'hps', 2)}) | {pm(r, 'coco_fid', 2)} ({paper(r, 'coco_fid', 2)})"
                     f" | {pm(r, 'clip_score', 3)} ({paper(r, 'clip_score', 3)}) | {pm(r, 'images_per_s', 1)} |")
    first = table.iloc[0]
    geneval = ("placeholder verdicts (no detector ran) on the stand-in prompts x 4 images" if first["preset"] == "paper_smoke"
               else "the official detector (Mask2Former) on 553 prompts x 4 images")
    clip = " / ".join(sorted(set(table["clip_model"].dropna()) - {""})) or "model not recorded"
    lines.append(f"\nGenEval: {geneval}; HPS v2.1: average of its "
                 f"four benchmark styles (one image per prompt); COCO FID-30k and CLIP score ({clip}) as in Di[M]O. "
                 f"Mean ± std over seeds; in brackets the paper's numbers of the row's teacher. Preset {first['preset']}, "
                 f"commit {first['git_commit']}.")
    if first["preset"] == "paper_smoke":
        lines.append(f"\n{STAND_IN_NOTE}")
    return "\n".join(lines) + "\n"


def plot_bon(grid: pd.DataFrame, out_png) -> None:
    parsed = grid["method"].str.extract(GRID).astype({"n": int, "k": int})
    rows = pd.DataFrame({"n": parsed["n"].to_numpy(), "tteo_iters": parsed["k"].to_numpy(),
                         "geneval": grid["geneval"].to_numpy()})
    plot_geneval_vs_n(rows, out_png, "GenEval overall (official detector)")


def plot_curves(curves, out_png) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for path in curves:
        c = pd.read_csv(path)
        name = Path(path).parent.parent.name
        for ax, col in zip(axes, ("eval_clip", "eval_hps")):
            part = c.dropna(subset=[col]) if col in c else c.iloc[:0]
            ax.plot(part["total_step"], part[col], marker=".", label=name)
    for ax, title in zip(axes, ("CLIP score of the reward's model (EMA student, GenEval prompts)", "HPS v2.1")):
        ax.set_xlabel("training step (incl. init)")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    _save(fig, out_png)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--method", required=True)
    m.add_argument("--steps", type=int, required=True)
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--parts", nargs="+", required=True, metavar="NAME=FILE")
    m.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("--metrics", nargs="+", required=True)
    t.add_argument("--reported", required=True)
    t.add_argument("--preset", required=True)
    t.add_argument("--tt-student", required=True)
    t.add_argument("--table-n", type=int, required=True)
    t.add_argument("--table-tteo", type=int, required=True)
    t.add_argument("--curves", nargs="*", default=[])
    for name in ("--out-csv", "--out-md", "--out-bon", "--out-curves"):
        t.add_argument(name, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "merge":
        parts = dict(item.split("=", 1) for item in args.parts)
        write_json(args.out, merge(args.method, args.steps, args.seed, {k: Path(v) for k, v in parts.items()}))
        return
    table, grid = build(args.metrics, args.reported, args.preset, args.tt_student, args.table_n, args.table_tteo)
    atomic_write_text(args.out_csv, table.to_csv(index=False))
    atomic_write_text(args.out_md, to_markdown(table))
    plot_bon(grid, args.out_bon)
    plot_curves(args.curves, args.out_curves)
    print(to_markdown(table))


if __name__ == "__main__":
    cli(main)
