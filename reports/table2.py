"""Text-to-image metrics -> Table 2 (CSV + Markdown) and the text-to-image figures.

    python -m reports.table2 table --metrics <json files> --reported config/reported.csv --preset tiny \
        --out-csv results/table2.csv --out-md results/table2.md
    python -m reports.table2 bon --grids <grid.json per seed> --out results/figures/geneval_vs_n.png
    python -m reports.table2 curves --curves soft=<curve.csv> gumbel=<curve.csv> --out F.png
    python -m reports.table2 grid --samples <eval npz ...> --titles ... --prompts prompts.json --out F.png

Each row is one (method, steps) over its seeds: mean and sample std (ddof=1; 0 for one seed). GenEval, CLIP
score and the preference score are measured on the evaluation prompts, FID / precision / recall on the FID set.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from reports.environment import describe
from reports.figures import _save, plt
from evaluation.geneval import TASKS
from reports.stats import mean_interval
from softdimo.io import atomic_write_text, git_commit
from softdimo.errors import cli

MEAN_STD = ("geneval", "clip_score", "preference", "fid", "precision", "recall")


def _value(record: dict, metric: str) -> float:
    if metric == "geneval":
        return record["geneval"]["overall"]
    if metric in TASKS:
        return record["geneval"][metric]
    return record.get(metric, np.nan)


def build_table2(metric_files, reported_csv, preset: str) -> pd.DataFrame:
    groups: dict[tuple, list[dict]] = {}
    for path in metric_files:
        r = json.loads(Path(path).read_text())
        groups.setdefault((r["method"], r["steps"]), []).append(r)
    rows = []
    for (method, steps), recs in groups.items():
        row = {"method": method, "steps": steps, "nfe": recs[0]["sampling"].get("nfe", 0)}
        for m in MEAN_STD:
            v = np.array([_value(r, m) for r in recs], float)
            row[f"{m}_mean"], row[f"{m}_std"] = v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)
            row[f"{m}_ci95"] = mean_interval(list(v))[2] - v.mean() if len(v) > 1 else np.nan  # t interval
        for t in TASKS:
            row[f"geneval_{t}"] = float(np.mean([_value(r, t) for r in recs]))
        row["images_per_s"] = float(np.mean([r["sampling"].get("images_per_s", np.nan) for r in recs]))
        row.update(n_seeds=len(recs), seeds=" ".join(str(r["eval_seed"]) for r in recs),
                   n_eval_images=recs[0]["n_eval_images"], evaluator=recs[0]["evaluator"])
        rows.append(row)
    order = ["real_renders", "teacher_caption_blind", "teacher"]
    table = pd.DataFrame(rows)
    table["_o"] = [order.index(m) if m in order else len(order) + ("+" in m) for m in table["method"]]
    table = table.sort_values(["_o", "steps", "method"]).drop(columns="_o").reset_index(drop=True)
    rep = pd.read_csv(reported_csv)
    rep = rep[(rep["table"] == "table2") & (rep["teacher"] == "MaskGen-L")]  # the rows this table mirrors
    if not rep.empty:
        wide = rep.pivot_table(index=["method", "steps", "teacher", "source"], columns="metric", values="value",
                               aggfunc="first").reset_index()
        wide = wide.rename(columns={c: f"reported_{c}" for c in wide.columns if c not in ("method", "steps")})
        table = table.merge(wide.groupby(["method", "steps"], as_index=False).first(), on=["method", "steps"], how="left")
    table["preset"], table["git_commit"] = preset, git_commit()
    return table


def to_markdown(table: pd.DataFrame) -> str:
    def pm(r, m, d):
        mean = r[f"{m}_mean"]
        if pd.isna(mean):
            return "–"
        return f"{mean:.{d}f}¹" if r["n_seeds"] == 1 else f"{mean:.{d}f} ± {r[f'{m}_ci95']:.{d}f}"

    head = "| method | steps | GenEval | " + " | ".join(TASKS) + " | CLIP score | preference | FID | paper GenEval / HPS (MaskGen-L) |"
    lines = [head, "|" + "---|" * (len(TASKS) + 8)]
    for _, r in table.iterrows():
        paper = " / ".join("–" if pd.isna(r.get(f"reported_{m}", np.nan)) else f"{r[f'reported_{m}']:g}"
                           for m in ("geneval", "preference"))
        lines.append(f"| {r['method']} | {r['steps']} | {pm(r, 'geneval', 3)} | "
                     + " | ".join(f"{r[f'geneval_{t}']:.2f}" for t in TASKS)
                     + f" | {pm(r, 'clip_score', 3)} | {pm(r, 'preference', 2)} | {pm(r, 'fid', 2)} | {paper} |")
    first = table.iloc[0]
    lines.append(f"\nGenEval-shapes (the official scoring rules on the shapes detector), CLIP score and preference on "
                 f"{first['n_eval_images']} images (every caption equally often); FID on the FID set; mean ± the "
                 "half-width of its 95% t interval over seeds (¹ one seed); "
                 f"preset {first['preset']}, commit {first['git_commit']}. The reward used for fine-tuning, best-of-N "
                 "and TTEO is a separate network from every judge.")
    return "\n".join(lines) + "\n"


def component_notes(summaries) -> list[str]:
    """One line per trained component (tokenizer, teacher, judges) with its own held-out accuracy."""
    notes = []
    for path in summaries:
        d, name = json.loads(Path(path).read_text()), Path(path).stem
        if "holdout_psnr_db" in d:
            notes.append(f"- tokenizer: held-out PSNR {d['holdout_psnr_db']:.2f} dB, {d['codes_used']}/{d['codebook_size']} "
                         f"codes used, {d['seq_len']} tokens per image")
        elif "holdout_masked_ce" in d:
            notes.append(f"- teacher: held-out masked-token cross-entropy {d['holdout_masked_ce']:.3f}, {d['n_params']:,} parameters")
        else:
            extra = (f"; the top-1 caption is true of the image {d['holdout_top1_caption_true']:.3f}"
                     if "holdout_top1_caption_true" in d else "")
            notes.append(f"- {name}: held-out {d['accuracy_is']} {d['holdout_accuracy']:.3f} ({d['n_holdout']} scenes){extra}")
    return notes


def plot_geneval_vs_n(rows: pd.DataFrame, out_png, ylabel: str, title: str | None = None) -> None:
    """GenEval (mean ± std over seeds) against N, one line per TTEO iteration count; rows: n, tteo_iters, geneval."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for k, part in rows.groupby("tteo_iters"):
        stat = part.groupby("n")["geneval"].agg(["mean", "std"]).reset_index()
        ax.errorbar(stat["n"], stat["mean"], yerr=stat["std"].fillna(0), marker="o", capsize=3,
                    label="best-of-N" if k == 0 else f"best-of-N + TTEO {k} it.")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (candidates selected by the reward)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, out_png)


def plot_bon(grids, out_png) -> None:
    rows = pd.DataFrame([row for g in grids for row in json.loads(Path(g).read_text())["rows"]])
    plot_geneval_vs_n(rows, out_png, "GenEval-shapes overall", f"Test-time scaling ({len(grids)} seeds)")


def plot_curves(curves: dict, out_png) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, path in curves.items():
        c = pd.read_csv(path)
        c = c[c["eval_geneval"].notna()]
        for ax, col in zip(axes, ("eval_geneval", "eval_preference")):
            ax.plot(c["total_step"], c[col], marker="o", label=name)
    for ax, label in zip(axes, ("GenEval-shapes overall", "preference score")):
        ax.set_xlabel("total training step")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle("Reward fine-tuning: soft embeddings vs Gumbel straight-through (EMA student)")
    _save(fig, out_png)


def plot_grid(npz_files, titles, prompts_json, out_png, n_prompts: int = 12) -> None:
    """One row per method, one column per caption (the first image of every 10th caption)."""
    prompts = json.loads(Path(prompts_json).read_text())["prompts"]
    fig, axes = plt.subplots(len(npz_files), n_prompts, figsize=(1.3 * n_prompts, 1.5 * len(npz_files) + 1.2),
                             squeeze=False)
    for i, (path, title) in enumerate(zip(npz_files, titles)):
        with np.load(path) as f:
            images, ids = f["arr_0"], f["prompt_ids"]
        picks = [int(np.flatnonzero(ids == p)[0]) for p in np.unique(ids)[:: max(1, len(np.unique(ids)) // n_prompts)][:n_prompts]]
        for j, k in enumerate(picks):
            ax = axes[i, j]
            ax.imshow(images[k], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(prompts[ids[k]].replace("a photo of ", "").replace(" and ", "\nand "), fontsize=6)
        axes[i, 0].set_ylabel(title, fontsize=7)
    _save(fig, out_png)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--metrics", nargs="+", required=True)
    t.add_argument("--reported", required=True)
    t.add_argument("--preset", required=True)
    t.add_argument("--out-csv", required=True)
    t.add_argument("--out-md", required=True)
    t.add_argument("--figures", nargs="*", default=[])
    t.add_argument("--summaries", nargs="*", default=[], help="training summaries (.json) of tokenizer, teacher, judges")
    b = sub.add_parser("bon")
    b.add_argument("--grids", nargs="+", required=True)
    b.add_argument("--out", required=True)
    c = sub.add_parser("curves")
    c.add_argument("--curves", nargs="+", required=True, metavar="NAME=CSV")
    c.add_argument("--out", required=True)
    g = sub.add_parser("grid")
    g.add_argument("--samples", nargs="+", required=True)
    g.add_argument("--titles", nargs="+", required=True)
    g.add_argument("--prompts", required=True)
    g.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "table":
        table = build_table2(args.metrics, args.reported, args.preset)
        atomic_write_text(args.out_csv, table.to_csv(index=False, float_format="%.6g"))
        md = to_markdown(table) + f"\n{describe()}\n"
        notes = component_notes(args.summaries)
        if notes:
            md += "\nComponents (the judges' accuracies are what their scores can be trusted to):\n\n" + "\n".join(notes) + "\n"
        for figure in args.figures:
            rel = Path(figure).resolve().relative_to(Path(args.out_md).resolve().parent)
            md += f"\n![{rel.stem}]({rel.as_posix()})\n"
        atomic_write_text(args.out_md, md)
        print(md)
    elif args.cmd == "bon":
        plot_bon(args.grids, args.out)
    elif args.cmd == "curves":
        plot_curves(dict(item.split("=", 1) for item in args.curves), args.out)
    else:
        plot_grid(args.samples, args.titles, args.prompts, args.out)


if __name__ == "__main__":
    cli(main)
