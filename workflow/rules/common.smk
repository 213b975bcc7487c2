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


wildcard_constraints:
    steps=r"\d+",
    seed=r"\d+",


def teacher_metric_files():
    rows = expand("results/c2i/metrics/teacher/steps{steps}/seed{seed}.json", steps=TEACHER_STEPS, seed=EVAL_SEEDS)
    return ["results/c2i/metrics/real_train_images/steps0/seed0.json"] + rows


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
