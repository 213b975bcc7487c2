"""results/claims.csv: each claim of the paper checked at tiny scale (1-7 class-to-image, 2 t2i, 8-10 text-to-image),
our numbers, and whether it holds at this preset; claims 1, 3, 5 and 6 again for each further teacher family of
Table 1 (c2i.families, rows '<n> (<family>)'), and at paper scale claims 2 t2i and 8-10 again on MaskGen-L's rows
of the paper's Table 2 (rows '<n> (MaskGen-L)'). A claim whose rows are not configured is 'not tested', never dropped.

    python -m reports.claims --table results/table1.csv --table2 results/table2.csv --gap-from <sample .json> --out F
"""
import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.stats import rerun_probability, welch_summary
from reports.table1 import TRACK_FAMILY
from softdimo.io import atomic_write_text
from softdimo.errors import cli

# A rerun on another CPU kernel level or machine trains other models from the same seeds and behaves like a fresh
# draw of the training seeds (docs/reproducibility.md); a decisive verdict whose rerun would repeat it with less
# than this probability is reported as not portable, never as plain "holds" / "does not hold".
PORTABLE = 0.8


@dataclass(frozen=True)
class Verdict:
    """value: True holds, False does not hold, None inconclusive, "untested"; rerun: probability that a rerun with
    fresh training seeds repeats a decisive value (None when not decisive or not a comparison over seeds)."""
    value: object
    rerun: float | None = None


def _fid(table: pd.DataFrame, method: str, steps: int | None = None):
    rows = table[(table["method"] == method) & ((table["steps"] == steps) if steps is not None else True)]
    if rows.empty:
        return None
    r = rows.iloc[0]
    return float(r["fid_mean"]), float(r["fid_std"]), int(r["n_seeds"])


def _fmt(name, value, digits: int = 2):
    if value is None:
        return f"{name}: not run"
    mean, std, n = value
    return f"{name} {mean:.{digits}f}" + (f" ± {std:.{digits}f} ({n} seeds)" if n > 1 else " (1 seed)")


def _verdict(better, worse) -> Verdict:
    """Is FID `better` below `worse`? Welch's 95% interval of the difference in mean FID over training seeds:
    True when it lies wholly below zero, False when wholly above, None ('inconclusive') when it straddles zero or
    a side has one seed (no interval from one seed)."""
    if better is None or worse is None:
        return Verdict("untested")
    w = welch_summary(*better, *worse)
    if w["low"] is None:
        return Verdict(None)
    rerun = rerun_probability(w["diff"], w["se"], w["df"])
    if w["high"] < 0:
        return Verdict(True, rerun)
    if w["low"] > 0:
        return Verdict(False, rerun)
    return Verdict(None)


def _scaled(value, factor: float):
    """A row's (mean, std, n) times a factor: a bound 'mean_a <= factor x mean_b' tested as a difference."""
    return None if value is None else (value[0] * factor, value[1] * factor, value[2])


def _within(value, bound, factor: float) -> Verdict:
    """Is mean `value` at most `factor` x mean `bound`? The same Welch test over seeds, never a point estimate."""
    return _verdict(value, _scaled(bound, factor))


def _gap(better, worse, digits: int = 2) -> str:
    """The difference and its Welch interval, as a claim's note shows it."""
    if better is None or worse is None:
        return ""
    w = welch_summary(*better, *worse)
    if w["low"] is None:
        return f"difference {w['diff']:+.{digits}f} (a one-seed side: no interval)"
    return f"difference {w['diff']:+.{digits}f}, 95% CI [{w['low']:+.{digits}f}, {w['high']:+.{digits}f}], p = {w['p']:.2g}"


def _all(*verdicts) -> Verdict:
    """A claim made of several comparisons: any untested part -> not tested, any failure -> does not hold (as
    repeatable as its most repeatable failing part), all passed -> holds (a rerun must repeat every part), otherwise
    inconclusive."""
    values = [v.value for v in verdicts]
    if "untested" in values:
        return Verdict("untested")
    if False in values:
        return Verdict(False, max(v.rerun for v in verdicts if v.value is False))
    if all(v is True for v in values):
        return Verdict(True, math.prod(v.rerun for v in verdicts))
    return Verdict(None)


def _measured(holds: bool) -> Verdict:
    """A verdict from one measurement with no seeds to draw again (claim 1's decoding ratio): no rerun probability."""
    return Verdict(bool(holds))


LABELS = {True: "holds", False: "does not hold", None: "inconclusive", "untested": "not tested"}


def _claim(n, claim, paper, ours, verdict: Verdict, note) -> dict:
    """One row of claims.csv; a decisive verdict a rerun would repeat with probability below PORTABLE is labelled
    'not portable (<verdict> here)'."""
    label = LABELS[verdict.value]
    if verdict.rerun is not None and verdict.rerun < PORTABLE:
        label = f"not portable ({label} here)"
    return {"claim": n, "statement": claim, "paper": paper, "ours": ours, "holds": label,
            "rerun_probability": verdict.rerun, "note": note}


def _family_rows(table: pd.DataFrame, family: str) -> pd.DataFrame:
    """One teacher family's rows (tables without the column hold the track's own teacher only)."""
    if "teacher_family" not in table:
        return table if family == TRACK_FAMILY else table.iloc[:0]
    return table[table["teacher_family"] == family]


def build_claims(table: pd.DataFrame, gap: dict | None) -> list[dict]:
    table = _family_rows(table, TRACK_FAMILY)
    teacher = table[table["method"] == "teacher"].sort_values("fid_mean")
    best = (float(teacher.iloc[0]["fid_mean"]), float(teacher.iloc[0]["fid_std"]), int(teacher.iloc[0]["n_seeds"]))
    best_steps = int(teacher.iloc[0]["steps"])
    t1, t2 = _fid(table, "teacher", 1), _fid(table, "teacher", 2)
    dimo, soft, long = _fid(table, "dimo"), _fid(table, "soft_dimo"), _fid(table, "soft_dimo_long")
    gumbel, gan_only, cont = _fid(table, "soft_dimo_gumbel"), _fid(table, "gan_only"), _fid(table, "dimo_continued")
    r0, r1 = _fid(table, "dimo_rinit0"), _fid(table, "dimo_rinit1")
    nomask = _fid(table, "soft_dimo_nomask")
    claims = []

    def add(n, claim, paper, ours, verdict, note):
        claims.append(_claim(n, claim, paper, ours, verdict, note))

    if gap:
        ratio = gap["soft_hard_mse"] / max(gap["hard_hard_mse"], 1e-12)
        add(1, "soft and hard embeddings decode alike when the student's logits are peaked",
            "bias <= L/2 ||Cov_p(E)||; decoded soft vs hard MSE 'very small'",
            f"{gap['method']}: mean top probability {gap['mean_top_probability']:.3f}; pixel MSE soft vs sampled "
            f"{gap['soft_hard_mse']:.4f}, between two samples {gap['hard_hard_mse']:.4f}", _measured(ratio < 0.5),
            "holds when the soft decode is closer to a sample than two samples are to each other (ratio < 0.5); "
            f"ratio {ratio:.2f}")
    else:
        add(1, "soft and hard embeddings decode alike when logits are peaked", "small MSE", "", Verdict("untested"),
            "no student")
    noise_note = ("better/worse only when Welch's 95% interval of the difference in mean FID over training seeds "
                  "excludes 0, else inconclusive (always with a one-seed row)")
    add(2, "soft embeddings beat Gumbel straight-through as the GAN gradient path",
        "FID-5k at 50k steps 7.58 (soft) vs 8.08 (Gumbel-ST)", f"{_fmt('soft', soft)}; {_fmt('Gumbel-ST', gumbel)}",
        _verdict(soft, gumbel), f"{noise_note}; soft - Gumbel-ST: {_gap(soft, gumbel)}")
    if dimo and t2:
        verdict = _all(_within(dimo, best, 1.5), _verdict(dimo, t2))
    else:
        verdict = Verdict("untested")
    add(3, "a one-step Di[M]O student approaches the multi-step teacher and beats the few-step teacher",
        "MaskGit: 1 step 6.91 vs 16 steps 6.60, 2 steps 91.35; MaskBit: 2.89 vs 1.66 (64 steps)",
        f"{_fmt('dimo', dimo)}; teacher best ({best_steps} steps) {best[0]:.2f}; {_fmt('teacher 2 steps', t2)}",
        verdict, "needs mean FID <= 1.5 x the teacher's best and below its 2-step FID, each by Welch's test; "
        + noise_note + f"; dimo - 1.5 x teacher best: {_gap(dimo, _scaled(best, 1.5))}")
    add(4, "mixed random/mask input (0 < r_init < 1) beats all-random and all-masked inputs",
        "qualitative in the paper (poster legend)", f"{_fmt('dimo', dimo)}; {_fmt('r_init=0', r0)}; {_fmt('r_init=1', r1)}",
        _all(_verdict(dimo, r0), _verdict(dimo, r1)),
        f"{noise_note}; dimo - r_init=0: {_gap(dimo, r0)}; dimo - r_init=1: {_gap(dimo, r1)}")
    add(5, "forward KL (beta = 0), the official default, distils a working one-step generator",
        "the shipped default for MaskGit and Meissonic", f"{_fmt('dimo (FKL)', dimo)}; {_fmt('teacher 1 step', t1)}",
        _verdict(dimo, t1), "holds if the student beats the teacher's own one-step sampling; " + noise_note +
        f"; dimo - teacher 1 step: {_gap(dimo, t1)}")
    add(6, "GAN refinement on top of Di[M]O improves FID; the Di[M]O term is needed",
        "MaskBit 2.89 -> 1.96 -> 1.56 (longer); GAN-only diverges (FID-5k 7.78 -> 8.3)",
        f"{_fmt('dimo', dimo)}; {_fmt('Di[M]O only, continued', cont)}; {_fmt('soft_dimo', soft)}; "
        f"{_fmt('soft_dimo_long', long)}; {_fmt('GAN only', gan_only)}",
        _all(_verdict(soft, dimo), _verdict(soft, cont), _verdict(soft, gan_only)),
        "soft_dimo must beat dimo, Di[M]O-only continued and GAN-only; " + noise_note +
        f"; soft_dimo - dimo: {_gap(soft, dimo)}; - continued: {_gap(soft, cont)}; - GAN only: {_gap(soft, gan_only)}")
    add(7, "masking the discriminator input (r in [0, 0.95]) helps versus no masking",
        "r_GAN in [0, 0] overfits; [0, 0.95] best (no numbers)",
        f"{_fmt('soft_dimo, r in [0, 0.95]', soft)}; {_fmt('soft_dimo_nomask, r = 0', nomask)}",
        _verdict(soft, nomask), f"{noise_note}; masked - unmasked: {_gap(soft, nomask)}")
    return claims


def build_family_claims(table: pd.DataFrame, family: str, gap: dict | None) -> list[dict]:
    """Claims 1, 3, 5 and 6 again on a further teacher family's rows (c2i.families, e.g. the MaskGit-style VQ
    teacher with its embedding table: the soft embedding there is p @ E over the code rows), labelled
    '<n> (<family>)'. Claim 6 compares soft_dimo with dimo only: a family has no ablation students."""
    rows = _family_rows(table, family)
    teacher = rows[rows["method"] == "teacher"].sort_values("fid_mean")
    few = rows[rows["method"] == "teacher"].sort_values("steps")
    out = []

    def add(n, claim, paper, ours, verdict, note):
        out.append(_claim(f"{n} ({family})", claim, paper, ours, verdict, note))

    noise = ("better/worse only when Welch's 95% interval of the difference in mean FID over training seeds "
             "excludes 0, else inconclusive (always with a one-seed row)")
    if gap:
        ratio = gap["soft_hard_mse"] / max(gap["hard_hard_mse"], 1e-12)
        add(1, "soft and hard embeddings decode alike when the student's logits are peaked (soft embedding p @ E)",
            "decoded soft vs hard MSE 'very small'",
            f"{gap['method']}: mean top probability {gap['mean_top_probability']:.3f}; pixel MSE soft vs sampled "
            f"{gap['soft_hard_mse']:.4f}, between two samples {gap['hard_hard_mse']:.4f}", _measured(ratio < 0.5),
            f"holds when the ratio of the two is < 0.5; ratio {ratio:.2f}")
    else:
        add(1, "soft and hard embeddings decode alike when logits are peaked", "small MSE", "", Verdict("untested"),
            "no student")
    dimo, soft = _fid(rows, "dimo"), _fid(rows, "soft_dimo")
    fewest = int(few.iloc[0]["steps"]) if not few.empty else None
    low = _fid(rows, "teacher", fewest) if fewest else None
    if teacher.empty or dimo is None:
        verdict = Verdict("untested")
        ours = _fmt("dimo", dimo)
    else:
        best_steps = int(teacher.iloc[0]["steps"])
        best = _fid(rows, "teacher", best_steps)
        verdict = _all(_within(dimo, best, 1.5), _verdict(dimo, low))
        ours = (f"{_fmt('dimo', dimo)}; teacher best ({best_steps} steps) {best[0]:.2f}; "
                f"{_fmt(f'teacher {fewest} steps', low)}")
    add(3, "a one-step Di[M]O student approaches the multi-step teacher and beats the few-step teacher",
        "MaskGit: 1 step 6.91 vs 16 steps 6.60, 2 steps 91.35", ours, verdict,
        "needs mean FID <= 1.5 x the teacher's best and below its FID at its fewest steps, each by Welch's test; "
        + noise +
        f"; dimo - teacher {fewest} steps: {_gap(dimo, low)}")
    add(5, "forward KL (beta = 0), the official default, distils a working one-step generator",
        "the shipped default for MaskGit", f"{_fmt('dimo (FKL)', dimo)}; {_fmt(f'teacher {fewest} steps', low)}",
        _verdict(dimo, low), "holds if the student beats the teacher at its fewest configured steps; " + noise)
    add(6, "GAN refinement on top of Di[M]O improves FID", "MaskGit: 6.91 -> 6.40",
        f"{_fmt('dimo', dimo)}; {_fmt('soft_dimo', soft)}", _verdict(soft, dimo),
        f"soft_dimo must beat dimo; {noise}; soft_dimo - dimo: {_gap(soft, dimo)}")
    return out


# Table 2 at paper scale names its columns after the benchmarks: FID is COCO FID-30k, the preference score HPS
# v2.1; recall is not measured there
PAPER_T2I_METRICS = {"fid": "coco_fid", "preference": "hps"}


def _t2i(table2: pd.DataFrame, method: str, metric: str):
    paper_scale = "coco_fid_mean" in table2
    if paper_scale:
        if metric == "recall":
            return None
        metric = PAPER_T2I_METRICS.get(metric, metric)
    rows = table2[table2["method"] == method]
    if rows.empty:
        return None
    r = rows.iloc[0]
    return float(r[f"{metric}_mean"]), float(r[f"{metric}_std"]), int(r["n_seeds"])


def _higher(better, worse):
    """_verdict for a higher-is-better metric."""
    flip = lambda v: None if v is None else (-v[0], v[1], v[2])  # noqa: E731
    return _verdict(flip(better), flip(worse))


def build_t2i_claims(table2: pd.DataFrame, student: str, teacher: str | None = None) -> list[dict]:
    """Claims 2 (text-to-image half), 8, 9 and 10 from Table 2; with `teacher`, from that teacher's rows of the
    paper-scale Table 2, each claim named '<n> (<teacher>)'."""
    if teacher is not None:
        table2 = table2[table2["teacher"] == teacher]
    g = lambda m: _t2i(table2, m, "geneval")  # noqa: E731
    dimo, soft, gumbel, cont = g("dimo"), g(student), g(f"{student}_gumbel"), g("dimo_continued")
    hps = {m: _t2i(table2, m, "preference") for m in ("dimo", student)}
    fid = {m: _t2i(table2, m, "fid") for m in ("dimo", student)}
    bon, bon_tteo, tteo = g(f"{student}+bon"), g(f"{student}+bon_tteo"), g(f"{student}+tteo")
    out = []

    def add(n, claim, paper, ours, verdict, note):
        out.append(_claim(f"{n} ({teacher})" if teacher is not None else n, claim, paper, ours, verdict, note))

    fmt = lambda name, v, d=3: _fmt(name, v, d)  # noqa: E731
    noise = ("higher/lower only when Welch's 95% interval of the difference in means over training seeds excludes 0, "
             "else inconclusive (always with a one-seed row)")
    add("2 (t2i)", "soft embeddings beat Gumbel straight-through as the reward gradient path",
        "GenEval at 50k steps 0.509 (soft) vs 0.495 (Gumbel-ST)", f"{fmt('soft', soft)}; {fmt('Gumbel-ST', gumbel)}",
        _higher(soft, gumbel), f"{noise}; soft - Gumbel-ST: {_gap(soft, gumbel, 3)}")
    fid_ok = _within(fid[student], fid["dimo"], 1.1)
    add(8, "reward fine-tuning raises GenEval and the preference score over Di[M]O without raising FID > 10%",
        "MaskGen-L: GenEval 0.42 -> 0.51, HPS 27.14 -> 29.38, FID 24.15 -> 23.43",
        f"GenEval {fmt('dimo', dimo)}, {fmt(student, soft)}, {fmt('Di[M]O continued', cont)}; preference "
        f"{fmt('dimo', hps['dimo'], 2)}, {fmt(student, hps[student], 2)}; FID {fmt('dimo', fid['dimo'], 2)}, "
        f"{fmt(student, fid[student], 2)}",
        _all(_higher(soft, dimo), _higher(hps[student], hps["dimo"]), fid_ok),
        "GenEval and preference must rise and FID stay within +10% of Di[M]O's, each by Welch's test; " + noise +
        f"; FID {student} - 1.1 x dimo: {_gap(fid[student], _scaled(fid['dimo'], 1.1))}")
    add(9, "TTEO adds to best-of-N at equal N",
        "BoN N=16: 0.589 -> 0.619 (2 it.) -> 0.632 (4 it.)",
        f"{fmt('student', soft)}; {fmt('+TTEO', tteo)}; {fmt('+BoN', bon)}; {fmt('+BoN+TTEO', bon_tteo)}",
        _higher(bon_tteo, bon), noise)
    gan_only = {m: _t2i(table2, "gan_only", m) for m in ("fid", "recall")}
    base = {m: _t2i(table2, "dimo", m) for m in ("fid", "recall")}
    collapse = "GAN-only with a high initial mask ratio (0.95) mode-collapses (MaskGen)"
    if gan_only["fid"] is None or base["fid"] is None:
        add(10, collapse, "qualitative (NOTE-ZH)", "gan_only: not run", Verdict("untested"),
            "needs the t2i students dimo and gan_only (t2i.students)")
    elif base["recall"] is None:  # paper scale: COCO FID only
        add(10, collapse, "qualitative (NOTE-ZH)", f"COCO FID {fmt('dimo', base['fid'], 2)}, "
            f"{fmt('gan_only', gan_only['fid'], 2)}", _verdict(base["fid"], gan_only["fid"]),
            "collapse = GAN-only (from Di[M]O, input mask ratio 0.95, no Di[M]O term) ends with a higher FID than "
            f"its Di[M]O init (no recall at this scale); {noise}; FID gan_only - dimo: "
            f"{_gap(gan_only['fid'], base['fid'])}")
    else:
        add(10, collapse, "qualitative (NOTE-ZH)",
            f"FID {fmt('dimo', base['fid'], 2)}, {fmt('gan_only', gan_only['fid'], 2)}; recall "
            f"{fmt('dimo', base['recall'], 3)}, {fmt('gan_only', gan_only['recall'], 3)}",
            _all(_verdict(base["fid"], gan_only["fid"]), _higher(base["recall"], gan_only["recall"])),
            "collapse = GAN-only (from Di[M]O, input mask ratio 0.95, no Di[M]O term) ends with a higher FID and a "
            f"lower recall than its Di[M]O init; {noise}; FID gan_only - dimo: {_gap(gan_only['fid'], base['fid'])}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True)
    parser.add_argument("--table2", default=None, help="results/table2.csv (claims 2 t2i, 8, 9, 10)")
    parser.add_argument("--t2i-student", default="soft_dimo", help="the reward fine-tuned student of Table 2")
    parser.add_argument("--table2-paper", default=None, help="paper-scale Table 2 (results/table2.csv beside a "
                        "shapes-track --table2): claims 2 t2i, 8, 9, 10 again on MaskGen-L's rows")
    parser.add_argument("--t2i-paper-student", default="soft_dimo", help="its reward fine-tuned student")
    parser.add_argument("--gap-from", default=None, help="sample .json of the student whose soft/hard gap is reported")
    parser.add_argument("--family", nargs="*", default=[], metavar="FAMILY[=GAP_JSON]",
                        help="further teacher families of Table 1 (c2i.families) whose claims are reported too, each "
                             "with the sample .json of the student whose soft/hard gap it reports")
    parser.add_argument("--preset", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    table = pd.read_csv(args.table)
    gap = json.loads(Path(args.gap_from).read_text()) if args.gap_from else None
    rows = build_claims(table, gap)
    for item in args.family:
        family, _, path = item.partition("=")
        rows += build_family_claims(table, family, json.loads(Path(path).read_text()) if path else None)
    if args.table2:
        rows += build_t2i_claims(pd.read_csv(args.table2), args.t2i_student)
    if args.table2_paper:
        rows += build_t2i_claims(pd.read_csv(args.table2_paper), args.t2i_paper_student, teacher="MaskGen-L")
    claims = pd.DataFrame(rows)
    claims["preset"] = args.preset
    atomic_write_text(args.out, claims.to_csv(index=False))
    print(claims.to_string())


if __name__ == "__main__":
    cli(main)
