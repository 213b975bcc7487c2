# Config validation (before any job), the resolved config every job reads, and target lists.
import hashlib
import os
import tempfile

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# softdimo.config imports no torch, but the paper presets' constructor checks (MaskGen-L, MaskGit, Meissonic
# kwargs against the classes) do: ~4 s of the ~10 s each paper-preset Snakemake call costs (docs/speed.md)
from softdimo.config import ConfigError, from_dict, to_dict


include: "site.smk"  # takes the site overlay out of the config first


try:
    CFG = from_dict(config)
except ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None
# Snakemake's own check, against the schema generated from the same models (python -m softdimo.config schema);
# from_dict above comes first for its messages naming the key's dotted path and for the cross-field rules.
validate(config, "../schemas/config.schema.yaml", set_default=False)

# Every job reads the resolved config of its own run: a file named by the hash of its content, written when a
# run starts (never while parsing, so `-n` and `--lint` write nothing, and a run or dry run of another preset
# never changes the file a running job reads).
_resolved_text = yaml.safe_dump(to_dict(CFG), sort_keys=False)
RESOLVED_CONFIG = f"results/configs/{hashlib.sha256(_resolved_text.encode()).hexdigest()[:16]}.yaml"


def resolved_config(wildcards, output):
    """The resolved config's path for a rule's params. A function of the job (not a plain value), so the hash
    in the name is no params change: each rule's params carry the config sections it uses, and editing one
    section reruns only the jobs that depend on it."""
    return RESOLVED_CONFIG


def write_resolved_config():
    try:
        current = open(RESOLVED_CONFIG).read()
    except FileNotFoundError:
        current = None
    if current != _resolved_text:  # atomically, with the mode open() gives (softdimo.io would import torch)
        os.makedirs(os.path.dirname(RESOLVED_CONFIG), exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(RESOLVED_CONFIG), delete=False) as f:
            f.write(_resolved_text)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(f.name, 0o666 & ~mask)
        os.replace(f.name, RESOLVED_CONFIG)


onstart:
    write_resolved_config()


# What changes the numbers of every torch job without being in its config section: a change reruns the jobs
# (a params change), instead of keeping results made under the old setting. The CPU kernel level is set by the
# Snakefile for CPU presets (docs/reproducibility.md).
NUMERICS = {"device": config["device"], "precision": config["precision"], "torch_threads": config["torch_threads"],
            "dropout_draws": config["dropout_draws"],
            "cpu_kernels": os.environ.get("SOFTDIMO_CPU_KERNELS", "native") if config["device"] == "cpu" else "-"}

C2I = config["c2i"]
TEACHER_STEPS = C2I["sampling"]["steps"]
EVAL_SEEDS = C2I["eval"]["seeds"]
STUDENTS = C2I["students"]
IMAGENET = C2I["data"]["source"] == "imagenet"  # paper preset: ImageNet train folder, official MaskBit weights
ADM_REFERENCE = C2I["eval"]["reference"] == "adm_ref_batch"
GPUS = config["gpus_per_job"]
# one process per GPU under torchrun above one GPU (softdimo/distributed.py), a plain process otherwise
LAUNCH = f"torchrun --standalone --nproc_per_node {GPUS}" if GPUS > 1 else "python"


STAND_IN = config["downloads"] == "stand_in"  # paper_smoke: download rules write seeded stand-ins
STAND_IN_IMAGENET = "results/c2i/data/stand_in_imagenet.json"


def fetch_shell(hub_shell, stand_ins="softdimo.stand_ins"):
    """A download rule's command: the official file, or (downloads: stand_in, the paper_smoke preset) its seeded
    stand-in in the same layout at the preset's sizes, known from the output's name by the module `stand_ins`
    (softdimo/stand_ins.py; a track's own: softdimo/tracks/<track>/stand_ins.py).
    Snakemake evaluates a shell expression when the job runs, so nothing here may depend on a loop variable. The
    rule's params carry `resolved=resolved_config` (a function of the job: no params change in hub mode)."""
    if STAND_IN:
        return f"python -m {stand_ins} --config {{params.resolved}} --out {{output}} > {{log}} 2>&1"
    return hub_shell


def imagenet_gate():
    """The ImageNet check (a local job) comes before every GPU job of the paper preset: a wrong path fails there."""
    return ["results/c2i/data/imagenet_index.json"] if IMAGENET else []


def eval_reference():
    return "results/c2i/eval/adm_reference.npz" if ADM_REFERENCE else "results/c2i/data/holdout.npz"


def real_training_data():
    """The GAN's real data: pre-tokenised ImageNet, or the tiny preset's images (encoded by the job)."""
    return "results/c2i/data/train_tokens.npz" if IMAGENET else "results/c2i/data/train.npz"


REAL_DATA_INPUT = "real_tokens" if IMAGENET else "train"
# the track whose stages train the class-to-image students: the official MaskBit teacher on ImageNet, or the
# tiny bit teacher on the digits
C2I_TRACK = "maskbit" if IMAGENET else "digits"


wildcard_constraints:
    steps=r"\d+",
    seed=r"\d+",
    student="|".join(STUDENTS) or "NO_STUDENT",


def sample_expectations(wildcards) -> str:
    """What a samples file's sidecar must record for evaluate_samples: method, steps and seed of its path, and the
    teacher family for a family's rows (results/c2i/samples/<family>/<method>/...)."""
    family, _, method = wildcards.method.rpartition("/")
    out = f"--expect method={method} --expect steps={wildcards.steps} --expect eval_seed={wildcards.seed}"
    return out + (f" --expect family={family}" if family else "")


def table1_metric_files():
    """Every row of Table 1: real images, the teacher per step count and seed, every student per seed."""
    rows = expand("results/c2i/metrics/teacher/steps{steps}/seed{seed}.json", steps=TEACHER_STEPS, seed=EVAL_SEEDS)
    for name, student in STUDENTS.items():
        rows += expand("results/c2i/metrics/{student}/steps1/seed{seed}.json", student=name, seed=student["seeds"])
    real = [] if IMAGENET else ["results/c2i/metrics/real_train_images/steps0/seed0.json"]
    return real + rows


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


def component_summaries():
    """Notes under Table 1: the tiny preset's own tokenizer and feature extractor (the paper's are official)."""
    if C2I["eval"]["evaluator"] != "digits_cnn":
        return {}
    return {"tokenizer_eval": "results/c2i/tokenizer_eval.json", "classifier": "results/c2i/classifier.json"}


def train_command(stage, extra=""):
    """A stage of the digits track (softdimo/tracks/digits/stages.py) through the one training loop."""
    return (
        f"python -m softdimo.train --config {{params.resolved}} --stage digits.{stage} {TRAIN_INPUTS} {extra} "
        f"--threads {{params.train_threads}} --out {{output.weights}} --workdir results/c2i/checkpoints/{stage} "
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
