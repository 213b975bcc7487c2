# Targets and helpers of the further teacher families of the digits track (c2i.families; rules in families.smk):
# one set of rules with a {family} wildcard. Each family trains its own tokenizer,
# teacher and students under results/c2i/<family>/ with the same training loop and stages
# (digits.family_*), samples into results/c2i/samples/<family>/... and is scored by evaluate_samples, so its
# rows join Table 1 labelled by family. The bit teacher's rules and paths stay as they are.

FAMILIES = C2I["families"]
FAMILY_STUDENTS = sorted({name for f in FAMILIES.values() for name in f["students"]})


wildcard_constraints:
    family="|".join(FAMILIES) or "NO_FAMILY",
    fstudent="|".join(FAMILY_STUDENTS) or "NO_STUDENT",


def family_metric_files():
    """The Table 1 rows of every family: its teacher per step count and evaluation seed, its students per seed."""
    rows = []
    for fam, f in FAMILIES.items():
        rows += expand(f"results/c2i/metrics/{fam}/teacher/steps{{steps}}/seed{{seed}}.json",
                       steps=f["sampling"]["steps"], seed=EVAL_SEEDS)
        for name, student in f["students"].items():
            rows += expand(f"results/c2i/metrics/{fam}/{name}/steps1/seed{{seed}}.json", seed=student["seeds"])
    return rows


def family_gap_metas():
    """{family: sample .json of the student whose soft/hard decoding gap its claim 1 reports (soft_dimo if any)}."""
    out = {}
    for fam, f in FAMILIES.items():
        name = "soft_dimo" if "soft_dimo" in f["students"] else next(iter(f["students"]))
        out[fam] = f"results/c2i/samples/{fam}/{name}/steps1/seed{f['students'][name]['seeds'][0]}.json"
    return out


def family_student_init(wildcards):
    init = FAMILIES[wildcards.family]["students"][wildcards.fstudent]["init"]
    return [] if init == "teacher" else [f"results/c2i/{wildcards.family}/students/{init}/seed{wildcards.seed}/generator.pt"]


def family_train_command(stage):
    return (
        f"python -m softdimo.train --config {{params.resolved}} --stage digits.family_{stage}:{{wildcards.family}} "
        f"{TRAIN_INPUTS} {{params.extra}} --threads {{params.train_threads}} --out {{output.weights}} "
        f"--workdir results/c2i/{{wildcards.family}}/checkpoints/{stage} --curve {{output.curve}} > {{log}} 2>&1"
    )
