"""Validated, frozen configuration.

The YAML presets hold every value; the JSON schema (config.schema.yaml, next to this file) rejects unknown,
mistyped or out-of-range keys and the error names the key's path, before any job runs. The dict is then
turned into frozen dataclasses, so library code never reads a raw dict.
"""
import dataclasses
import typing
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A config value is wrong; the message starts with the key's dotted path."""


@dataclasses.dataclass(frozen=True)
class TrainCfg:
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int
    weight_decay: float
    beta1: float
    beta2: float
    grad_clip: float
    ema_decay: float
    seed: int
    log_every: int
    ckpt_every: int


@dataclasses.dataclass(frozen=True)
class PretrainedCfg:
    repo_id: str
    filename: str
    revision: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class DataCfg:
    source: str
    path: str
    resolution: int
    holdout_fraction: float
    split_seed: int


@dataclasses.dataclass(frozen=True)
class TokenizerCfg:
    arch: str
    bits: int
    splits: int
    hidden_channels: int
    downsample: int
    channel_mult: tuple[int, ...]
    num_res_blocks: int
    commit_weight: float
    entropy_weight: float
    train: TrainCfg
    pretrained: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class ClassifierCfg:
    width: int
    feature_dim: int
    train: TrainCfg


@dataclasses.dataclass(frozen=True)
class TeacherCfg:
    arch: str
    num_classes: int
    dim: int
    depth: int
    heads: int
    mlp_ratio: float
    dropout: float
    label_dropout: float
    train: TrainCfg
    pretrained: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class SamplingCfg:
    steps: tuple[int, ...]
    schedule: str
    cfg_scale: float
    cfg_schedule: str
    cfg_power: float
    mask_unit: str
    randomize_temperature: float
    temperature: float
    batch_size: int


@dataclasses.dataclass(frozen=True)
class EvalCfg:
    evaluator: str
    reference: str
    n_samples: int
    seeds: tuple[int, ...]
    prc_neighborhood: int
    batch_size: int
    cleanfid_crosscheck: bool


@dataclasses.dataclass(frozen=True)
class DistillCfg:
    r_init: float
    sigma_init: float
    temperature: float
    teacher_cfg: float
    divergence_beta: float
    schedule: str
    aux_label_smoothing: float
    aux_lr_scale: float
    gumbel_tau: float
    eval_every: int
    eval_samples: int
    train: TrainCfg


@dataclasses.dataclass(frozen=True)
class GanCfg:
    layers: tuple[int, ...]
    head_hidden: int
    lr_scale: float


@dataclasses.dataclass(frozen=True)
class StudentCfg:
    init: str
    steps: int
    lr_scale: float
    w_dimo: float
    w_gan: float
    estimator: str
    r_init: float
    gan_r_max: float
    seeds: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class C2ICfg:
    data: DataCfg
    tokenizer: TokenizerCfg
    classifier: ClassifierCfg
    teacher: TeacherCfg
    sampling: SamplingCfg
    eval: EvalCfg
    distill: DistillCfg
    gan: GanCfg
    students: dict[str, StudentCfg]


@dataclasses.dataclass(frozen=True)
class WorldCfg:
    image_size: int
    shapes: tuple[str, ...]
    colors: tuple[str, ...]
    object_size: tuple[int, ...]
    color_jitter: int
    background_max: int
    n_train: int
    images_per_prompt: int
    n_fid: int
    seed: int


@dataclasses.dataclass(frozen=True)
class VQTokenizerCfg:
    arch: str
    codebook_size: int
    code_dim: int
    hidden_channels: int
    downsample: int
    commit_weight: float
    restart_every: int
    train: TrainCfg


@dataclasses.dataclass(frozen=True)
class TextTeacherCfg:
    arch: str
    dim: int
    depth: int
    heads: int
    mlp_ratio: float
    dropout: float
    text_dropout: float
    train: TrainCfg


@dataclasses.dataclass(frozen=True)
class JudgeCfg:
    width: int
    embed_dim: int
    data: str
    train: TrainCfg


@dataclasses.dataclass(frozen=True)
class JudgesCfg:
    clip: JudgeCfg
    reward: JudgeCfg
    preference: JudgeCfg
    shapes_cnn: JudgeCfg


@dataclasses.dataclass(frozen=True)
class T2IEvalCfg:
    seeds: tuple[int, ...]
    batch_size: int
    detector_saturation: int
    detector_min_area: int


@dataclasses.dataclass(frozen=True)
class T2IStudentCfg:
    init: str
    steps: int
    lr_scale: float
    w_dimo: float
    w_reward: float
    estimator: str
    r_init: float
    seeds: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class TestTimeCfg:
    student: str
    best_of_n: tuple[int, ...]
    tteo_iters: tuple[int, ...]
    tteo_lr: float
    table_n: int
    table_tteo_iters: int


@dataclasses.dataclass(frozen=True)
class T2ICfg:
    world: WorldCfg
    text_encoder: str
    tokenizer: VQTokenizerCfg
    teacher: TextTeacherCfg
    sampling: SamplingCfg
    judges: JudgesCfg
    eval: T2IEvalCfg
    distill: DistillCfg
    students: dict[str, T2IStudentCfg]
    test_time: TestTimeCfg


@dataclasses.dataclass(frozen=True)
class OfficialModuleCfg:
    arch: str
    kwargs: dict
    pretrained: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class TextEncoderCfg:
    arch: str
    pretrained: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class ScorersCfg:
    clip: PretrainedCfg
    hps: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class PaperPromptsCfg:
    train: str
    n_train: int
    hps: PretrainedCfg


@dataclasses.dataclass(frozen=True)
class MaskGenSamplingCfg:
    steps: tuple[int, ...]
    schedule: str
    guidance_scale: float
    guidance_decay: str
    guidance_scale_pow: float
    randomize_temperature: float
    softmax_temperature_annealing: bool
    batch_size: int


@dataclasses.dataclass(frozen=True)
class PaperT2IEvalCfg:
    seeds: tuple[int, ...]
    geneval_images_per_prompt: int
    geneval_commit: str
    batch_size: int


@dataclasses.dataclass(frozen=True)
class RewardWeightsCfg:
    clip: float
    hps: float


@dataclasses.dataclass(frozen=True)
class T2IPaperCfg:
    teacher: OfficialModuleCfg
    tokenizer: OfficialModuleCfg
    text_encoder: TextEncoderCfg
    scorers: ScorersCfg
    prompts: PaperPromptsCfg
    sampling: MaskGenSamplingCfg
    eval: PaperT2IEvalCfg
    distill: DistillCfg
    rewards: RewardWeightsCfg
    students: dict[str, T2IStudentCfg]
    test_time: TestTimeCfg


@dataclasses.dataclass(frozen=True)
class Config:
    preset: str
    device: str
    precision: str
    torch_threads: int
    gpus_per_job: int
    c2i: C2ICfg
    t2i: T2ICfg
    t2i_paper: T2IPaperCfg | None = None  # the paper preset only


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # the offending key is not in the path; jsonschema only says it in the message
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(",".join(extra))
    elif error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        parts.append(",".join(missing))
    return ".".join(parts) or "<root>"


def validate(raw: dict) -> None:
    """Raise ConfigError naming the first offending key (schema errors, then cross-field rules)."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        what = "unknown key" if e.validator == "additionalProperties" else (
            "missing key" if e.validator == "required" else e.message)
        raise ConfigError(f"config key '{_key_path(e)}': {what}")
    tok, teacher = raw["c2i"]["tokenizer"], raw["c2i"]["teacher"]
    if tok["bits"] % tok["splits"]:
        raise ConfigError(f"config key 'c2i.tokenizer.splits': {tok['splits']} does not divide bits={tok['bits']}")
    if teacher["dim"] % teacher["heads"]:
        raise ConfigError(f"config key 'c2i.teacher.heads': {teacher['heads']} does not divide dim={teacher['dim']}")
    for layer in raw["c2i"]["gan"]["layers"]:
        if layer >= teacher["depth"]:
            raise ConfigError(f"config key 'c2i.gan.layers': block {layer} does not exist (depth {teacher['depth']})")
    for track in ("c2i", "t2i", "t2i_paper"):
        if track in raw:
            _check_init_chains(track, raw[track]["students"])
    _check_c2i_scale(raw["preset"], raw["c2i"])
    _check_t2i(raw["t2i"], "t2i")
    if "t2i_paper" in raw:
        _check_t2i_paper(raw["t2i_paper"])


PAPER_N_SAMPLES = 50_000  # FID-50k: fewer samples give a biased, not a noisier, number


def _check_c2i_scale(preset: str, c2i: dict) -> None:
    data, tok, ev = c2i["data"], c2i["tokenizer"], c2i["eval"]
    if data["source"] == "sklearn_digits" and data["resolution"] != 8:
        raise ConfigError("config key 'c2i.data.resolution': sklearn_digits are 8x8 images")
    if tok["arch"] == "maskbit_vqgan_plus":
        if len(tok["channel_mult"]) != tok["downsample"] + 1:
            raise ConfigError(f"config key 'c2i.tokenizer.channel_mult': needs downsample + 1 = {tok['downsample'] + 1} "
                              f"entries, got {len(tok['channel_mult'])}")
        if tok["hidden_channels"] % 32:
            raise ConfigError("config key 'c2i.tokenizer.hidden_channels': GroupNorm(32) needs a multiple of 32")
    if ev["reference"] == "adm_ref_batch" and ev["evaluator"] != "inception_v3":
        raise ConfigError("config key 'c2i.eval.reference': the ADM reference batch is scored with inception_v3")
    if ev["cleanfid_crosscheck"] and ev["evaluator"] != "inception_v3":
        raise ConfigError("config key 'c2i.eval.cleanfid_crosscheck': clean-fid's legacy_tensorflow FID needs inception_v3")
    if preset == "paper" and ev["n_samples"] != PAPER_N_SAMPLES:
        raise ConfigError(f"config key 'c2i.eval.n_samples': the paper preset reports FID-50k; got {ev['n_samples']}")


def _check_init_chains(track: str, students: dict) -> None:
    for name, student in students.items():
        if student["init"] != "teacher" and student["init"] not in students:
            raise ConfigError(f"config key '{track}.students.{name}.init': {student['init']!r} is neither 'teacher' "
                              f"nor a student ({sorted(students)})")
        if student["init"] != "teacher":
            missing = set(student["seeds"]) - set(students[student["init"]]["seeds"])
            if missing:
                raise ConfigError(f"config key '{track}.students.{name}.seeds': seeds {sorted(missing)} are not "
                                  f"trained for its init {student['init']!r}")


def _check_t2i(t2i: dict, track: str) -> None:
    if track == "t2i":
        world = t2i["world"]
        lo, hi = world["object_size"]
        if not lo <= hi <= world["image_size"] // 2 - 1:
            raise ConfigError(f"config key 't2i.world.object_size': need min <= max <= image_size/2 - 1 = "
                              f"{world['image_size'] // 2 - 1}, got {world['object_size']}")
        if t2i["teacher"]["dim"] % t2i["teacher"]["heads"]:
            raise ConfigError(f"config key 't2i.teacher.heads': {t2i['teacher']['heads']} does not divide dim")
    tt = t2i["test_time"]
    if tt["student"] not in t2i["students"]:
        raise ConfigError(f"config key '{track}.test_time.student': {tt['student']!r} is not one of {sorted(t2i['students'])}")
    if tt["table_n"] not in tt["best_of_n"]:
        raise ConfigError(f"config key '{track}.test_time.table_n': {tt['table_n']} is not in best_of_n {tt['best_of_n']}")
    if tt["table_tteo_iters"] not in tt["tteo_iters"]:
        raise ConfigError(f"config key '{track}.test_time.table_tteo_iters': {tt['table_tteo_iters']} is not in tteo_iters")


def _check_t2i_paper(t2i: dict) -> None:
    """Constructor arguments of the official modules are checked against the constructors, so a misspelt or
    missing one stops here rather than in a GPU job."""
    import inspect

    from softdimo.models import MODELS
    from softdimo.tokenizers import TOKENIZERS

    for part, registry in (("teacher", MODELS), ("tokenizer", TOKENIZERS)):
        section = t2i[part]
        if section["arch"] not in registry:
            raise ConfigError(f"config key 't2i_paper.{part}.arch': {section['arch']!r} is not a {part} architecture")
        params = inspect.signature(registry[section["arch"]]).parameters
        wanted = {n for n, p in params.items() if p.default is inspect.Parameter.empty
                  and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        unknown, missing = set(section["kwargs"]) - set(params), wanted - set(section["kwargs"])
        if unknown or missing:
            raise ConfigError(f"config key 't2i_paper.{part}.kwargs': unknown {sorted(unknown)}, missing {sorted(missing)} "
                              f"for {section['arch']}")
    if t2i["teacher"]["kwargs"]["seq_len"] != t2i["tokenizer"]["kwargs"]["num_latent_tokens"]:
        raise ConfigError("config key 't2i_paper.teacher.kwargs.seq_len': must equal the tokenizer's num_latent_tokens")
    if any(s["w_reward"] > 0 for s in t2i["students"].values()) and not (t2i["rewards"]["clip"] or t2i["rewards"]["hps"]):
        raise ConfigError("config key 't2i_paper.rewards': a student has w_reward > 0 but every reward weight is 0")
    _check_t2i(t2i, "t2i_paper")


def _optional_of(cls):
    """X for `X | None` (an optional section, present in the raw dict whenever it is built)."""
    args = typing.get_args(cls)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return cls


def _build(cls, value):
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        absent = [f.name for f in dataclasses.fields(cls) if f.name not in value and f.default is dataclasses.MISSING]
        if absent:  # the schema requires these; reaching here means schema and dataclass disagree
            raise ConfigError(f"config keys {absent} are missing for {cls.__name__}")
        return cls(**{f.name: _build(_optional_of(hints[f.name]), value[f.name]) for f in dataclasses.fields(cls)
                      if f.name in value})
    if typing.get_origin(cls) is tuple:
        return tuple(value)
    if typing.get_origin(cls) is dict:
        _, item = typing.get_args(cls)
        return {k: _build(item, v) for k, v in value.items()}
    if cls is float:
        return float(value)
    return value


def from_dict(raw: dict) -> Config:
    validate(raw)
    return _build(Config, raw)


def load_config(path) -> Config:
    return from_dict(yaml.safe_load(Path(path).read_text()))


def to_dict(cfg) -> dict:
    out = dataclasses.asdict(cfg)
    if out.get("t2i_paper") is None:  # an absent optional section stays absent in the resolved file
        out.pop("t2i_paper", None)
    return out
