# Config validation (before any job), the resolved config every job reads, and target lists.
import os

import yaml
from snakemake.exceptions import WorkflowError

from softdimo.config import ConfigError, from_dict, to_dict
from softdimo.io import atomic_write_text

try:
    CFG = from_dict(config)
except ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None

# Every job reads this one resolved file; it is rewritten only when the config changes, and each rule's
# params carry the config section it uses, so editing one section reruns only the jobs that depend on it.
RESOLVED_CONFIG = "results/config.yaml"
_resolved_text = yaml.safe_dump(to_dict(CFG), sort_keys=False)
if not os.path.exists(RESOLVED_CONFIG) or open(RESOLVED_CONFIG).read() != _resolved_text:
    atomic_write_text(RESOLVED_CONFIG, _resolved_text)

C2I = config["c2i"]
TEACHER_STEPS = C2I["sampling"]["steps"]
EVAL_SEEDS = C2I["eval"]["seeds"]
STUDENTS = C2I["students"]


wildcard_constraints:
    steps=r"\d+",
    seed=r"\d+",
    student="|".join(STUDENTS) or "NO_STUDENT",


def table1_metric_files():
    """Every row of Table 1: real images, the teacher per step count and seed, every student per seed."""
    rows = expand("results/c2i/metrics/teacher/steps{steps}/seed{seed}.json", steps=TEACHER_STEPS, seed=EVAL_SEEDS)
    for name, student in STUDENTS.items():
        rows += expand("results/c2i/metrics/{student}/steps1/seed{seed}.json", student=name, seed=student["seeds"])
    return ["results/c2i/metrics/real_train_images/steps0/seed0.json"] + rows


def student_init(wildcards):
    """A student continues the same-seed weights of its `init` student, or starts from the teacher."""
    init = STUDENTS[wildcards.student]["init"]
    return [] if init == "teacher" else [f"results/c2i/students/{init}/seed{wildcards.seed}/generator.pt"]


def student_curves():
    return [f"results/c2i/students/{name}/seed{s['seeds'][0]}/curve.csv" for name, s in STUDENTS.items()]


def student_grid_samples():
    return [f"results/c2i/samples/{name}/steps1/seed{s['seeds'][0]}.npz" for name, s in STUDENTS.items()]


def teacher_grid_samples():
    return expand("results/c2i/samples/teacher/steps{steps}/seed{seed}.npz", steps=TEACHER_STEPS, seed=EVAL_SEEDS[0])


TRAIN_INPUTS = "--input train={input.train} --input holdout={input.holdout}"


def train_command(stage, extra=""):
    return (
        f"python -m softdimo.train --config {{params.resolved}} --stage {stage} {TRAIN_INPUTS} {extra} "
        f"--threads {{threads}} --out {{output.weights}} --workdir results/c2i/checkpoints/{stage} "
        f"--curve {{output.curve}} > {{log}} 2>&1"
    )


def extractor_weights():
    if C2I["eval"]["evaluator"] == "digits_cnn":
        return "results/c2i/classifier.pt"
    return "resources/eval/inception_v3_torch_fidelity.pth"


EVAL_ARGS = (
    "--extractor {input.extractor} --evaluator {params.section[evaluator]} "
    "--batch-size {params.section[batch_size]}"
)


def gap_student_meta():
    """Sample metadata of the student whose soft/hard decoding gap claim 1 reports (soft_dimo if configured)."""
    name = "soft_dimo" if "soft_dimo" in STUDENTS else next(iter(STUDENTS), None)
    return [] if name is None else [f"results/c2i/samples/{name}/steps1/seed{STUDENTS[name]['seeds'][0]}.json"]
