import copy
import dataclasses
import subprocess
import sys

import pytest
import yaml

from softdimo.config import Config, ConfigError, from_dict, load_config, load_schema


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


def _walk(schema, path="<root>"):
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}.{key}", sub
        yield from _walk(sub, f"{path}.{key}")


def test_every_schema_key_is_described_and_has_no_default():
    schema = load_schema()
    nodes = list(_walk(schema)) + [(f"$defs.{k}", v) for k, v in schema["$defs"].items()]
    nodes += [(f"$defs.{k}.{kk}", vv) for k, v in schema["$defs"].items() for kk, vv in _walk(v)]
    for path, node in nodes:
        assert node.get("description") or "$ref" in node, f"{path} has no description"
        assert "default" not in node, f"{path} has a schema default; defaults belong in the YAML"


def test_dataclasses_mirror_the_schema():
    schema = load_schema()

    def check(cls, node):
        node = schema["$defs"][node["$ref"].split("/")[-1]] if "$ref" in node else node
        assert {f.name for f in dataclasses.fields(cls)} == set(node["properties"]), cls.__name__
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.type):
                check(f.type, node["properties"][f.name])

    check(Config, schema)


def test_config_is_frozen(smoke_cfg):
    with pytest.raises(dataclasses.FrozenInstanceError):
        smoke_cfg.c2i.eval.n_samples = 3


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
])
def test_paper_preset_cross_field_rules(root, key, value, message):
    import yaml

    from softdimo.config import ConfigError, from_dict

    raw = _set(yaml.safe_load((root / "config" / "paper.yaml").read_text()), key, value)
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)
