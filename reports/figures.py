"""Figures of the class-to-image track: FID vs teacher steps, training curves of the students, sample grids."""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from softdimo.errors import cli



def _save(fig, path, dpi: int = 130) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    tmp = Path(path).with_suffix(".tmp.png")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def plot_fid_vs_steps(table_csv, out_png) -> None:
    table = pd.read_csv(table_csv)
    families = list(dict.fromkeys(table["teacher_family"])) if "teacher_family" in table else [None]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    _fid_panel(ax, table, families)
    _save(fig, out_png)


def _fid_panel(ax, table, families) -> None:
    ticks = set()
    for i, family in enumerate(families):  # the track's own teacher first, then each further family
        rows = table if family is None else table[table["teacher_family"] == family]
        suffix = "" if i == 0 else f" [{family}]"
        teacher = rows[rows["method"] == "teacher"].sort_values("steps")
        if i == 0:
            first = teacher
        ticks |= set(teacher["steps"])
        ax.errorbar(teacher["steps"], teacher["fid_mean"], yerr=teacher["fid_std"], marker="o" if i == 0 else "s",
                    capsize=3, label=f"tiny teacher{suffix} (mean ± std, {int(teacher['n_seeds'].iloc[0])} seeds)")
        students = rows[~rows["method"].isin(["teacher", "real_train_images"])]
        for _, r in students.iterrows():
            ax.errorbar([r["steps"]], [r["fid_mean"]], yerr=[r["fid_std"]], marker="*" if i == 0 else "P",
                        markersize=12 if i == 0 else 9, capsize=3, linestyle="none",
                        label=f"{r['method']}{suffix} (1 step)")
    teacher = first
    for _, r in table[table["method"] == "real_train_images"].iterrows():
        ax.axhline(r["fid_mean"], color="gray", linestyle="--", label="real train images (FID floor)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ticks), [str(s) for s in sorted(ticks)])
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(f"FID ({teacher['evaluator'].iloc[0]}, {int(teacher['n_samples'].iloc[0])} samples)")
    ax.set_title(f"FID vs steps, preset {teacher['preset'].iloc[0]}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def plot_sample_grid(npz_files: list[Path], titles: list[str], out_png, per_row: int = 20) -> None:
    """One row per file: its first `per_row` images (classes cycle 0..9)."""
    fig, axes = plt.subplots(len(npz_files), 1, figsize=(per_row * 0.45, 0.62 * len(npz_files) + 0.3),
                             squeeze=False)
    for ax, path, title in zip(axes[:, 0], npz_files, titles):
        _strip(ax, path, title, per_row)
    _save(fig, out_png)


def _strip(ax, path, title, per_row) -> None:
    with np.load(path) as f:
        images = f["arr_0"][:per_row]
    strip = np.concatenate([np.pad(im, ((1, 1), (1, 1), (0, 0)), constant_values=96) for im in images], axis=1)
    ax.imshow(strip.squeeze(-1) if strip.shape[-1] == 1 else strip, cmap="gray", interpolation="nearest",
              vmin=0, vmax=255)
    ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_readme(table_csv, npz_files: list[Path], titles: list[str], out_png, per_row: int = 10) -> None:
    """The README's figure: FID vs steps of the track's own teacher and its one-step students (left), and the
    first `per_row` samples (one per class) of each listed sample file (right)."""
    table = pd.read_csv(table_csv)
    own = [table["teacher_family"].iloc[0]] if "teacher_family" in table else [None]
    fig = plt.figure(figsize=(10, 3.6))
    grid = fig.add_gridspec(len(npz_files), 2, width_ratios=[1.0, 1.0], wspace=0.35)
    _fid_panel(fig.add_subplot(grid[:, 0]), table, own)
    for i, (path, title) in enumerate(zip(npz_files, titles)):
        _strip(fig.add_subplot(grid[i, 1]), path, title, per_row)
    _save(fig, out_png, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw the Table 1 figures.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    grid = sub.add_parser("grid")
    grid.add_argument("--samples", nargs="+", required=True)
    grid.add_argument("--titles", nargs="+", required=True)
    grid.add_argument("--out", required=True)
    readme = sub.add_parser("readme", help="the README's figure: FID vs steps beside sample strips")
    readme.add_argument("--table", required=True, help="results/table1.csv")
    readme.add_argument("--samples", nargs="+", required=True)
    readme.add_argument("--titles", nargs="+", required=True)
    readme.add_argument("--out", required=True)
    curves = sub.add_parser("curves")
    curves.add_argument("--curves", nargs="+", required=True, metavar="NAME=CSV")
    curves.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if len(getattr(args, "samples", [])) != len(getattr(args, "titles", [])):
        parser.error(f"{len(args.samples)} --samples but {len(args.titles)} --titles: one title per file")
    if args.cmd == "grid":
        plot_sample_grid([Path(p) for p in args.samples], args.titles, args.out)
    elif args.cmd == "readme":
        plot_readme(args.table, [Path(p) for p in args.samples], args.titles, args.out)
    else:
        plot_training_curves({k: Path(v) for k, v in (c.split("=", 1) for c in args.curves)}, args.out)



# The paper's Figure 4 a/b: which students share a panel (a student that is not configured is left out)
CURVE_PANELS = {
    "(a) soft embeddings vs Gumbel straight-through": ("soft_dimo", "soft_dimo_gumbel"),
    "(b) Di[M]O only vs GAN only vs both": ("dimo_continued", "gan_only", "soft_dimo"),
}


def plot_training_curves(curves: dict[str, Path], out_png) -> None:
    """One-step FID (in-training evaluation, EMA weights) against total training step, one panel each."""
    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(5.2 * len(CURVE_PANELS), 3.6), squeeze=False)
    for ax, (title, names) in zip(axes[0], CURVE_PANELS.items()):
        for name in names:
            if name not in curves:
                continue
            d = pd.read_csv(curves[name]).dropna(subset=["eval_fid"])
            ax.plot(d["total_step"], d["eval_fid"], marker="o", markersize=3, label=name)
        if "dimo" in curves:  # the shared start: the Di[M]O student the refinements continue
            d = pd.read_csv(curves["dimo"]).dropna(subset=["eval_fid"])
            ax.plot(d["total_step"], d["eval_fid"], color="gray", linestyle=":", label="dimo (init)")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training step (total, seed of the first configured seed)")
        ax.set_ylabel("one-step FID (in-training, log scale)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, out_png)


if __name__ == "__main__":
    cli(main)
