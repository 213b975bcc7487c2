"""Metrics JSON files -> Table 1 (CSV + Markdown), with the paper's reported numbers side by side.

Each row is one (teacher family, method, steps) over the evaluation seeds: mean, sample std (ddof=1; 0 for one
seed) and the half-width of the mean's 95% t interval (NaN for one seed; the Markdown marks one-seed rows).
The reported columns name the teacher the paper used, since our tiny teacher is not theirs: for the track's own
teacher (teacher_family maskbit) the paper's row of either teacher; for a further family (a tiny family of
c2i.families standing for a paper teacher, or the paper preset's MaskGit rows) only the rows of the paper's teacher
it stands for (its `paper_teacher`, matched by `reported_as`, e.g. dimo_released beside Di[M]O's 6.91). Against ADM's
reference batch the table also carries the evaluator conventions its numbers were computed under
(is_convention, prc_arithmetic, quantize; docs/metrics.md) and torch-fidelity's Inception Score beside ADM's.
"""
import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from reports.environment import describe
from reports.figures import plot_fid_vs_steps
from reports.stats import mean_interval
from softdimo.io import atomic_write_text, git_commit
from softdimo.errors import ArtefactError, cli

METRICS_PATH = re.compile(r"metrics/(?:[^/]+/)?(?P<method>[^/]+)/steps(?P<steps>\d+)/seed(?P<seed>\d+)\.json$")  # evaluate_samples
METRICS = ("fid", "is", "precision", "recall", "images_per_s")
# the teacher_family of the track's own teacher (c2i.teacher: the MaskBit-style bit teacher, or MaskBit itself);
# rows of a further family carry its name from their sampling sidecar (family, or teacher_family at paper scale)
TRACK_FAMILY = "maskbit"
PAPER_PRESETS = ("paper", "paper_smoke")  # the track's own teacher is the official MaskBit
STAND_IN_NOTE = ("paper_smoke preset: every official file (weights, Inception networks, reference statistics, "
                 "ImageNet) is a seeded random stand-in at small sizes (softdimo/stand_ins.py); these numbers only "
                 "show that the paper's code paths ran, and mean nothing about the method.")
STUDENT_SPEED = ("teacher_images_per_s", "speedup", "speedup_flop_ceiling")  # sampling meta of one-step students


def family_of(sampling: dict) -> str:
    return sampling.get("family") or sampling.get("teacher_family") or TRACK_FAMILY


def _row(family: str, method: str, steps: int, records: list[dict]) -> dict:
    row = {"method": method, "teacher_family": family, "steps": steps, "nfe": records[0]["sampling"]["nfe"]}
    for m in METRICS:
        values = np.array([r["sampling"][m] if m == "images_per_s" else r[m] for r in records], dtype=float)
        row[f"{m}_mean"] = values.mean()
        row[f"{m}_std"] = values.std(ddof=1) if len(values) > 1 else 0.0
        # half-width of the 95% t interval of the mean over seeds (t = 4.30 for 3 seeds); NaN for one seed
        row[f"{m}_ci95"] = mean_interval(list(values))[2] - values.mean() if len(values) > 1 else np.nan
    for m in STUDENT_SPEED:
        values = np.array([r["sampling"].get(m, np.nan) for r in records], dtype=float)
        row[f"{m}_mean"] = values.mean()
    row["teacher_steps_for_speedup"] = records[0]["sampling"].get("teacher_steps", np.nan)
    row["n_seeds"] = len(records)
    row["seeds"] = " ".join(str(r["sampling"]["eval_seed"]) for r in records)
    row["n_samples"] = records[0]["n_samples"]
    row["evaluator"] = records[0]["evaluator"]
    row["n_reference"] = records[0]["n_reference"]
    row["reference"] = records[0].get("reference", "holdout")
    if row["reference"] == "adm_ref_batch":  # the paper table: how its numbers were computed (docs/metrics.md)
        values = np.array([r.get("is_torch_fidelity", np.nan) for r in records], dtype=float)
        row["is_torch_fidelity_mean"] = values.mean()
        row["is_torch_fidelity_std"] = values.std(ddof=1) if len(values) > 1 else 0.0
        for key in ("is_convention", "prc_arithmetic", "frechet_sqrt"):
            row[key] = " ".join(sorted({str(r.get(key, "unrecorded")) for r in records}))
        row["quantize"] = " ".join(sorted({str(r["sampling"].get("quantize", "unrecorded")) for r in records}))
    for m in ("fid_cleanfid_legacy_tf", "fid_dimo"):  # clean-fid's FID: against ADM's statistics, against Di[M]O's
        if any(m in r for r in records):
            values = np.array([r.get(m, np.nan) for r in records], dtype=float)
            row[f"{m}_mean"] = values.mean()
            row[f"{m}_std"] = values.std(ddof=1) if len(values) > 1 else 0.0
    sampling = records[0]["sampling"]
    # the paper teacher a further family stands for, and the paper row it is compared with
    row["paper_teacher"] = sampling.get("paper_teacher") or sampling.get("teacher_family")
    row["reported_as"] = sampling.get("reported_as", method)
    if "sampler_setting" in sampling:
        row["sampler_setting"] = sampling["sampler_setting"]
    return row


def attach_reported(table: pd.DataFrame, reported: pd.DataFrame, table_name: str,
                    own_teacher: str | None = None) -> pd.DataFrame:
    # only the four columns both papers share; Di[M]O's density / coverage stay in reported.csv as a record
    rep = reported[(reported["table"] == table_name) & reported["metric"].isin(["fid", "is", "precision", "recall"])]
    wide = rep.pivot_table(index=["method", "steps", "teacher", "source"], columns="metric", values="value",
                           aggfunc="first").reset_index()
    wide = wide.rename(columns={m: f"reported_{m}" for m in ("fid", "is", "precision", "recall")})
    wide = wide.rename(columns={"teacher": "reported_teacher", "source": "reported_source"})
    own = table["paper_teacher"].isna()
    # the track's own teacher: at paper scale MaskBit's rows only; a tiny teacher (neither of theirs) takes the
    # reported row of any teacher
    mine = wide if own_teacher is None else wide[wide["reported_teacher"] == own_teacher]
    first = mine.groupby(["method", "steps"], as_index=False).first()
    out = table[own].drop(columns="paper_teacher").merge(first, on=["method", "steps"], how="left")
    if own.all():
        return out
    # a further family: only the rows of the paper's teacher it stands for
    named = wide.groupby(["method", "steps", "reported_teacher"], as_index=False).first()
    named = named.rename(columns={"method": "reported_as"})
    family = table[~own].merge(named, left_on=["reported_as", "steps", "paper_teacher"],
                               right_on=["reported_as", "steps", "reported_teacher"], how="left")
    return pd.concat([out, family.drop(columns="paper_teacher")], ignore_index=True)


def build_table1(metric_files: list[Path], reported_csv: Path, preset: str) -> pd.DataFrame:
    groups: dict[tuple, list[dict]] = {}
    families = [TRACK_FAMILY]
    for path in metric_files:
        record = json.loads(Path(path).read_text())
        family = family_of(record["sampling"])
        families += [family] if family not in families else []
        key = (family, record["sampling"]["method"], record["sampling"]["steps"])
        made_for = METRICS_PATH.search(str(path))
        if made_for and (made_for["method"], int(made_for["steps"]), int(made_for["seed"])) != (
                key[1], int(key[2]), int(record["sampling"]["eval_seed"])):
            raise ArtefactError(f"{path} holds the metrics of {key[1]} at {key[2]} steps, seed "
                                f"{record['sampling']['eval_seed']}: not what its name says (a copied or moved "
                                "file); delete it and rerun the workflow")
        groups.setdefault(key, []).append(record)
    for (family, method, steps), records in groups.items():
        seeds = [r["sampling"]["eval_seed"] for r in records]
        if len(set(seeds)) != len(seeds):
            raise ArtefactError(f"Table 1 row {family} {method} at {steps} steps has the evaluation seed(s) "
                                f"{sorted({s for s in seeds if seeds.count(s) > 1})} more than once: the same "
                                "samples scored twice would fake a spread of 0")
    order = {"real_train_images": 0, "teacher": 1}
    rows = [_row(family, method, steps, recs) for (family, method, steps), recs in
            sorted(groups.items(), key=lambda kv: (families.index(kv[0][0]), order.get(kv[0][1], 2),
                                                   kv[0][2] if kv[0][1] == "teacher" else 0))]
    own_teacher = "MaskBit" if preset in PAPER_PRESETS else None
    table = attach_reported(pd.DataFrame(rows), pd.read_csv(reported_csv), "table1", own_teacher)
    if preset == "paper" and (table["n_samples"] != 50_000).any():
        bad = table.loc[table["n_samples"] != 50_000, ["method", "steps", "n_samples"]].to_dict("records")
        raise SystemExit(f"paper preset: every row must be FID-50k; these are not: {bad}")
    table["preset"] = preset
    table["git_commit"] = git_commit()
    return table


def to_markdown(table: pd.DataFrame, notes: list[str] = ()) -> str:
    def pm(row, m, digits):
        mean = row[f"{m}_mean"]
        if pd.isna(mean):
            return "–"
        if row["n_seeds"] == 1:
            return f"{mean:.{digits}f}¹"
        return f"{mean:.{digits}f} ± {row[f'{m}_ci95']:.{digits}f}"

    lines = ["| teacher family | method | steps | NFE | FID | IS | precision | recall | images/s | speed-up (ceiling) | "
             "paper FID (teacher) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        paper = "–" if pd.isna(r.get("reported_fid")) else f"{r['reported_fid']:g} ({r['reported_teacher']})"
        speed = "–" if pd.isna(r["speedup_mean"]) else \
            f"{r['speedup_mean']:.1f}x vs {r['teacher_steps_for_speedup']:.0f} steps ({r['speedup_flop_ceiling_mean']:.1f}x)"
        lines.append(f"| {r['teacher_family']} | {r['method']} | {r['steps']} | {r['nfe']} | {pm(r, 'fid', 2)} | {pm(r, 'is', 2)} | "
                     f"{pm(r, 'precision', 3)} | {pm(r, 'recall', 3)} | {pm(r, 'images_per_s', 0)} | {speed} | {paper} |")
    teachers = (table["method"] == "teacher") & (table["teacher_family"] == TRACK_FAMILY)
    first = table[teachers].iloc[0] if teachers.any() else table.iloc[0]
    against = (f"ADM's reference batch (FID against its stored ImageNet statistics, precision / recall against its "
               f"{first['n_reference']} images)" if first["reference"] == "adm_ref_batch"
               else f"{first['n_reference']} held-out real images")
    lines.append(f"\n{first['n_samples']} samples per seed, evaluator {first['evaluator']} "
                 f"against {against}; mean ± the half-width of its 95% t interval over seeds (std in the CSV; ¹ one seed, "
                 f"no interval) (teacher: evaluation "
                 f"seeds {first['seeds']}; students: training seeds, each evaluated on its own seed); "
                 f"preset {first['preset']}, "
                 f"commit {first['git_commit']}.")
    if first["reference"] == "adm_ref_batch":
        lines.append(f"\nConventions (docs/metrics.md): Inception Score {first['is_convention']} (torch-fidelity's "
                     f"shuffled splits in the CSV's is_torch_fidelity columns), precision / recall "
                     f"{first['prc_arithmetic']}, samples quantised to uint8 by {first['quantize']}.")
    if "fid_dimo_mean" in table and table["fid_dimo_mean"].notna().any():
        settings = " ".join(sorted(set(table.get("sampler_setting", pd.Series(dtype=str)).dropna())))
        lines.append(f"\nMaskGit rows: FID by Di[M]O's protocol (clean-fid legacy_tensorflow against "
                     f"fid_stats_imagenet256_guided_diffusion.npz) in the CSV's fid_dimo columns; teacher sampler "
                     f"setting {settings or 'unrecorded'} (docs/maskgit.md).")
    if first["preset"] == "paper_smoke":
        lines.append(f"\n{STAND_IN_NOTE}")
    lines += [f"\n{note}" for note in notes]
    return "\n".join(lines) + "\n"


def component_notes(tokenizer_eval: Path | None, classifier_summary: Path | None) -> list[str]:
    """One line each on the tokenizer's reconstructions and the extractor's accuracy, to read FID against."""
    notes = []
    if tokenizer_eval:
        t = json.loads(Path(tokenizer_eval).read_text())
        notes.append(f"Tokenizer ({t['seq_len']} positions x {t['bits']} bits, {t['splits']} groups): held-out "
                     f"PSNR {t['psnr_db']:.2f} dB, rFID {t['rfid']:.3f}, precision {t['precision']:.3f}, "
                     f"recall {t['recall']:.3f} ({t['n_images']} images).")
    if classifier_summary:
        c = json.loads(Path(classifier_summary).read_text())
        notes.append(f"Feature extractor: held-out accuracy {c['holdout_accuracy']:.4f} on {c['n_holdout']} digits.")
    return notes


def main(argv=None):
    parser = argparse.ArgumentParser(description="Aggregate metrics JSON files into Table 1.")
    parser.add_argument("--metrics", nargs="+", required=True)
    parser.add_argument("--reported", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--out-csv", required=True)
    parser.add_argument("--out-md", required=True)
    parser.add_argument("--out-plot", required=True, help="FID-vs-steps figure (PNG)")
    parser.add_argument("--tokenizer-eval", default=None, help="tokenizer_eval.json to summarise under the table")
    parser.add_argument("--classifier-summary", default=None, help="classifier.json to summarise under the table")
    parser.add_argument("--figures", nargs="*", default=[], help="figures (PNG) to link from the Markdown table")
    args = parser.parse_args(argv)
    table = build_table1([Path(p) for p in args.metrics], Path(args.reported), args.preset)
    notes = [describe(), *component_notes(args.tokenizer_eval, args.classifier_summary)]
    for figure in [args.out_plot, *args.figures]:
        if figure:
            rel = Path(figure).resolve().relative_to(Path(args.out_md).resolve().parent)
            notes.append(f"![{rel.stem}]({rel.as_posix()})")
    atomic_write_text(args.out_csv, table.to_csv(index=False, float_format="%.6g"))
    plot_fid_vs_steps(args.out_csv, args.out_plot)
    atomic_write_text(args.out_md, to_markdown(table, notes))
    print(to_markdown(table, notes))


if __name__ == "__main__":
    cli(main)
