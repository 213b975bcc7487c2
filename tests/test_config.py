import copy
import subprocess
import sys

import pydantic
import pytest
import yaml

from softdimo.config import (Config, ConfigError, TrainCfg, as_dict, from_dict, json_schema, load_config, replace,
                             to_dict)

SCHEMA = "workflow/schemas/config.schema.yaml"


@pytest.mark.parametrize("preset", ["config", "smoke", "paper"])
def test_presets_validate(root, preset):
    cfg = load_config(root / "config" / f"{preset}.yaml")
    assert cfg.preset == {"config": "tiny"}.get(preset, preset)


def _set(raw, dotted, value):
    raw = copy.deepcopy(raw)
    node = raw
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


@pytest.mark.parametrize("key, value", [
    ("c2i.teacher.depht", 3),                  # unknown (misspelt) key
    ("c2i.teacher.train.lr", "1e-3"),          # YAML reads 1e-3 as a string: mistyped
    ("c2i.data.holdout_fraction", 1.5),        # out of range
    ("c2i.sampling.schedule", "cosin"),        # not one of the choices
    ("c2i.eval.n_samples", 0),                 # out of range
    ("c2i.tokenizer.splits", 4),               # does not divide bits=6
    ("t2i.world.object_size", [5, 9]),         # objects would touch in a 16-pixel scene
    ("t2i.world.colors", "red"),               # a string where a list is expected
    ("t2i.test_time.table_n", 3),              # not one of best_of_n
    ("t2i.test_time.student", "nobody"),       # not a configured student
    ("t2i.judges.clip.data", "third_half"),    # not one of the choices
])
def test_bad_value_is_rejected_with_its_key(smoke_raw, key, value):
    with pytest.raises(ConfigError) as err:
        from_dict(_set(smoke_raw, key, value))
    assert f"'{key}'" in str(err.value)


def test_missing_key_is_named(smoke_raw):
    raw = copy.deepcopy(smoke_raw)
    del raw["c2i"]["eval"]["seeds"]
    with pytest.raises(ConfigError, match="c2i.eval.seeds"):
        from_dict(raw)


def test_yaml_exponent_without_a_dot_is_explained(smoke_raw):
    with pytest.raises(ConfigError, match="read 1e-3 as a string.*write 1.0e-3"):
        from_dict(_set(smoke_raw, "c2i.teacher.train.lr", "1e-3"))


def test_an_int_is_a_number_but_a_string_is_not(smoke_raw):
    cfg = from_dict(_set(smoke_raw, "c2i.distill.teacher_cfg", 3))
    assert cfg.c2i.distill.teacher_cfg == 3.0 and type(cfg.c2i.distill.teacher_cfg) is float
    with pytest.raises(ConfigError, match="'c2i.distill.teacher_cfg': expected a number"):
        from_dict(_set(smoke_raw, "c2i.distill.teacher_cfg", "3"))
    with pytest.raises(ConfigError, match="'c2i.teacher.train.steps': expected an integer"):
        from_dict(_set(smoke_raw, "c2i.teacher.train.steps", 2.5))


def _models(cls=Config, seen=None):
    """Every section model reachable from Config."""
    seen = {} if seen is None else seen
    seen[cls.__name__] = cls
    for field in cls.model_fields.values():
        for sub in ([field.annotation] + list(getattr(field.annotation, "__args__", ()))):
            if isinstance(sub, type) and issubclass(sub, pydantic.BaseModel) and sub.__name__ not in seen:
                _models(sub, seen)
    return seen


def test_every_field_is_described_and_has_no_default():
    models = _models()
    assert {"TrainCfg", "StudentCfg", "T2IStudentCfg", "T2IPaperCfg", "OfficialModuleCfg"} <= set(models)
    for name, cls in models.items():
        assert cls.__doc__, f"{name} has no docstring"
        for key, field in cls.model_fields.items():
            assert field.description, f"{name}.{key} has no description"
            # the YAML presets hold every value; the exceptions are the optional paper sections (absent = None)
            assert field.is_required() or (name, key) in {("Config", "t2i_paper"), ("Config", "c2i_maskgit"),
                                                          ("Config", "meissonic")}, f"{name}.{key} has a default"


def _properties(node, path="<root>"):
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            yield f"{path}.{key}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{path}.{key}")


def test_every_schema_key_is_described_and_has_no_default():
    for path, node in _properties(json_schema()):
        assert node.get("description"), f"{path} has no description"
        assert "default" not in node, f"{path} has a schema default; defaults belong in the YAML"


def test_committed_schema_is_generated_from_the_models(root):
    committed = yaml.safe_load((root / SCHEMA).read_text())
    assert committed == json_schema(), f"{SCHEMA} is stale: python -m softdimo.config schema --out {SCHEMA}"


@pytest.mark.parametrize("preset", ["config", "smoke", "paper"])
def test_presets_pass_snakemakes_validation_with_the_schema(root, preset):
    from snakemake.utils import validate

    raw = yaml.safe_load((root / "config" / f"{preset}.yaml").read_text())
    validate(raw, str(root / SCHEMA), set_default=False)
    with pytest.raises(Exception, match="depht"):
        validate(_set(raw, "c2i.teacher.depht", 3), str(root / SCHEMA), set_default=False)


@pytest.mark.parametrize("preset", ["config", "smoke", "paper"])
def test_resolved_config_round_trips(root, preset):
    cfg = load_config(root / "config" / f"{preset}.yaml")
    out = to_dict(cfg)
    assert ("t2i_paper" in out) == (preset == "paper")
    assert isinstance(out["c2i"]["eval"]["seeds"], tuple) and isinstance(out["c2i"]["distill"]["r_init"], float)
    assert from_dict(out) == cfg
    assert yaml.safe_load(yaml.safe_dump(out)) == yaml.safe_load(yaml.safe_dump(to_dict(from_dict(out))))


def test_config_is_frozen(smoke_cfg):
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        smoke_cfg.c2i.eval.n_samples = 3


def test_replace_and_as_dict_behave_like_dataclasses(smoke_cfg):
    train = smoke_cfg.c2i.teacher.train
    changed = replace(train, steps=3)
    assert changed.steps == 3 and train.steps != 3 and changed.lr == train.lr
    with pytest.raises(TypeError, match="stepz"):
        replace(train, stepz=3)
    student = as_dict(smoke_cfg.c2i.students["dimo"])
    assert student["seeds"] == smoke_cfg.c2i.students["dimo"].seeds and isinstance(student["seeds"], tuple)
    assert as_dict(smoke_cfg)["t2i_paper"] is None and "t2i_paper" not in to_dict(smoke_cfg)
    assert TrainCfg(*as_dict(train).values()) == train  # positional construction in field order


def test_workflow_rejects_bad_config_before_any_job(root, tmp_path, smoke_raw):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_set(smoke_raw, "c2i.sampling.cfg_scal", 2.0)))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--directory", str(root)],
                         capture_output=True, text=True, cwd=root, timeout=120)
    assert run.returncode != 0
    assert "c2i.sampling.cfg_scal" in run.stdout + run.stderr


def test_student_init_must_name_a_student_or_the_teacher(smoke_raw):
    with pytest.raises(ConfigError, match="c2i.students.soft_dimo.init"):
        from_dict(_set(smoke_raw, "c2i.students.soft_dimo.init", "dimoo"))
    with pytest.raises(ConfigError, match="c2i.students.soft_dimo.seeds"):
        from_dict(_set(smoke_raw, "c2i.students.soft_dimo.seeds", [0, 7]))


@pytest.mark.parametrize("key, value, message", [
    ("c2i.eval.n_samples", 10_000, "FID-50k"),                        # the paper preset reports FID-50k only
    ("c2i.tokenizer.channel_mult", [1, 1, 2], "downsample \\+ 1"),    # 4 downsamplings need 5 widths
    ("c2i.tokenizer.hidden_channels", 100, "multiple of 32"),        # GroupNorm(32)
    ("c2i.eval.evaluator", "digits_cnn", "inception_v3"),             # ADM reference needs the Inception
    ("c2i_maskgit.eval.reference", "holdout", "c2i_maskgit.eval.reference.*adm_ref_batch"),  # the rules' only one
    ("t2i_paper.eval.coco_captions", 5000, "COCO FID-30k"),           # Table 2 reports COCO-30k
])
def test_paper_preset_cross_field_rules(root, key, value, message):
    import yaml

    from softdimo.config import ConfigError, from_dict

    raw = _set(yaml.safe_load((root / "config" / "paper.yaml").read_text()), key, value)
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)


def test_derive_command_writes_a_validated_variant_and_names_what_is_wrong(root, tmp_path, capsys):
    """`python -m softdimo.config derive` (the recipe ablation's variants): a changed key is written and the result
    validates; an unknown key, a bad value, a malformed --set and a missing or invalid file are refused by name."""
    from softdimo.config import main

    out = tmp_path / "variant.yaml"
    assert main(["derive", str(root / "config/smoke.yaml"), "--set", "c2i.distill.clip=all", "--out", str(out)]) == 0
    assert load_config(out).c2i.distill.clip == "all"
    refusals = [
        (["--set", "c2i.distill.clipp=all"], "c2i.distill.clipp: no such key"),
        (["--set", "c2i.distill.clip=sometimes"], "c2i.distill.clip"),
    ]
    for extra, message in refusals:
        assert main(["derive", str(root / "config/smoke.yaml"), *extra, "--out", str(tmp_path / "x.yaml")]) == 1
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["derive", str(root / "config/smoke.yaml"), "--set", "c2i.distill.clip", "--out", str(tmp_path / "x.yaml")])
    assert "--set takes KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["derive", str(root / "config/smoke.yaml"), "--set", "c2i.distill.clip=[all", "--out",
              str(tmp_path / "x.yaml")])
    assert "the value is not YAML" in capsys.readouterr().err
    assert main(["derive", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x.yaml")]) == 1
    assert f"config file {tmp_path / 'missing.yaml'} not found" in capsys.readouterr().err
    (tmp_path / "broken.yaml").write_text("c2i:\n\tdistill: 1\n")
    assert main(["derive", str(tmp_path / "broken.yaml"), "--out", str(tmp_path / "x.yaml")]) == 1
    assert "not valid YAML" in capsys.readouterr().err and not (tmp_path / "x.yaml").exists()
