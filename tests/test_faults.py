"""Fault injection: every bad input or damaged file gives a named error or the right result, never a silent
change or a raw traceback (issue: reliability). Each test injects one fault and asserts the exact outcome."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

from softdimo.checkpoints import load_artefact
from softdimo.config import ConfigError, from_dict, load_config
from softdimo.errors import ArtefactError, read_npz
from softdimo.io import atomic_savez, atomic_torch_save
from softdimo.stages import build_stage
from softdimo.train import train


def tokenizer_stage(cfg, split):
    return build_stage("digits.tokenizer", cfg, {"train": split / "train.npz", "holdout": split / "holdout.npz"})


def trained_tokenizer(cfg, split, workdir, stop_after=None):
    stage = tokenizer_stage(cfg, split)
    summary = train(stage, cfg.c2i.tokenizer.train, workdir, workdir / "curve.csv", stop_after=stop_after)
    return stage, summary


# -- corrupt and swapped files -------------------------------------------------------------------------------
def test_truncated_weights_are_named_with_what_to_do(smoke_cfg, digits_split, tmp_path):
    stage, _ = trained_tokenizer(smoke_cfg, digits_split, tmp_path / "w")
    path = tmp_path / "tokenizer.pt"
    atomic_torch_save({**stage.export(), "summary": {}}, path)
    load_artefact(path, "tokenizer")  # intact: loads
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ArtefactError, match=rf"{path}.*unreadable.*delete it and rebuild"):
        load_artefact(path, "tokenizer")
    with pytest.raises(ArtefactError, match="holds a 'tokenizer', not a 'teacher'.*swapped"):
        atomic_torch_save({**stage.export(), "summary": {}}, path)
        load_artefact(path, "teacher")


class _Payload:  # what a tampered pickle would smuggle in: an arbitrary object
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_tampered_weight_file_runs_no_code(tmp_path, capsys):
    path = tmp_path / "teacher.pt"
    torch.save({"kind": "teacher", "arch": "x", "kwargs": {}, "state_dict": {}, "extra": _Payload()}, path)
    with pytest.raises(ArtefactError, match="unreadable"):
        load_artefact(path, "teacher")
    assert "code ran" not in capsys.readouterr().out


def test_corrupt_resume_checkpoint_is_set_aside_and_training_is_exact(smoke_cfg, digits_split, tmp_path):
    straight, _ = trained_tokenizer(smoke_cfg, digits_split, tmp_path / "a")
    trained_tokenizer(smoke_cfg, digits_split, tmp_path / "b", stop_after=13)  # killed after the step-10 save
    last = tmp_path / "b" / "last.pt"
    last.write_bytes(last.read_bytes()[:500])  # the disk filled up under it
    again, summary = trained_tokenizer(smoke_cfg, digits_split, tmp_path / "b")
    assert (tmp_path / "b" / "last.pt.corrupt").exists() and summary["started_at_step"] == 0
    for k, v in straight.modules["tokenizer"].state_dict().items():
        assert torch.equal(again.modules["tokenizer"].state_dict()[k], v)


def test_finished_run_interrupted_before_its_outputs_is_reused_not_retrained(smoke_cfg, digits_split, tmp_path):
    first, _ = trained_tokenizer(smoke_cfg, digits_split, tmp_path / "a")
    (tmp_path / "a" / "curve.csv").unlink()  # Snakemake removes the outputs of a job it marks incomplete
    again, summary = trained_tokenizer(smoke_cfg, digits_split, tmp_path / "a")
    assert summary["started_at_step"] == smoke_cfg.c2i.tokenizer.train.steps  # no step was trained again
    for k, v in first.modules["tokenizer"].state_dict().items():
        assert torch.equal(again.modules["tokenizer"].state_dict()[k], v)
    assert (tmp_path / "a" / "curve.csv").read_text().count("\n") == 5  # header + steps 5, 10, 15, 20


def test_truncated_or_foreign_sample_files_are_named(tmp_path):
    from evaluation.fid import load_images

    path = tmp_path / "seed0.npz"
    atomic_savez(path, arr_0=np.zeros((20, 8, 8, 1), np.uint8))
    assert load_images(path, 20).shape == (20, 8, 8, 1)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtefactError, match=rf"{path} is unreadable.*delete it and rerun"):
        load_images(path)
    atomic_savez(path, images=np.zeros((20, 8, 8, 1), np.uint8))
    with pytest.raises(ArtefactError, match="no array 'arr_0'.*holds images"):
        read_npz(path)
    atomic_savez(path, arr_0=np.zeros((20, 1, 8, 8), np.uint8))
    with pytest.raises(ArtefactError, match=r"channels first\? the format is NHWC"):
        load_images(path)


# -- config values the schema accepts but the run cannot honour --------------------------------------------
@pytest.mark.parametrize("key, value, message", [
    ("c2i.eval.n_samples", 5, r"c2i.eval.n_samples': needs at least 10 images"),
    ("c2i.eval.n_samples", 2000, r"c2i.eval.n_samples': the digits train split holds 1438 images"),
    ("c2i.teacher.num_classes", 12, r"c2i.teacher.num_classes': sklearn_digits has 10 classes, got 12"),
    ("c2i.teacher.num_classes", 5, r"c2i.teacher.num_classes': sklearn_digits has 10 classes, got 5"),
    ("c2i.students", {}, r"c2i.students': needs at least one student"),
    ("c2i.teacher.train.steps", 20.0, r"c2i.teacher.train.steps'"),
])
def test_values_the_data_cannot_honour_fail_before_any_job(smoke_raw, key, value, message):
    raw = copy.deepcopy(smoke_raw)
    node = raw
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)


def test_knn_needs_more_samples_than_neighbours(smoke_raw):
    raw = copy.deepcopy(smoke_raw)
    raw["c2i"]["eval"]["prc_neighborhood"] = 150
    with pytest.raises(ConfigError, match=r"c2i.eval.n_samples': needs at least 151 images"):
        from_dict(raw)


@pytest.mark.parametrize("text, message", [
    ("preset: tiny\n\tdevice: cpu\n", r"line 2, column 1: not valid YAML.*a tab"),
    ("preset: [tiny\n", r"line 2, column 1: not valid YAML"),
    ("", r"is empty"),
    ("- a\n- b\n", r"expected a mapping"),
])
def test_a_broken_config_file_is_named_with_its_line(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"{path}.*{message}" if "mapping" not in message else message):
        load_config(path)


def test_cuda_on_a_machine_without_it_is_a_clear_error():
    from softdimo import distributed

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the error cannot happen here")
    with pytest.raises(SystemExit, match="asks for device 'cuda', but torch sees no CUDA device"):
        distributed.init("cuda")


# -- command lines: bad arguments are refused with a message, exit status 2, no traceback ------------------
def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["softdimo.sample", "--config", "config/smoke.yaml", "--teacher", "t.pt", "--tokenizer", "k.pt", "--steps", "0",
      "--seed", "0", "--out", "x.npz"], "--steps: a count is at least 1, got 0"),
    (["softdimo.sample", "--config", "config/smoke.yaml", "--teacher", "t.pt", "--tokenizer", "k.pt", "--steps", "4",
      "--seed", "-1", "--out", "x.npz"], "--seed: a seed is at least 0, got -1"),
    (["evaluation.fid", "calc", "--samples", "s.npz", "--ref", "r.npz", "--extractor", "e.pt", "--evaluator",
      "digits_cnn", "--num", "-5", "--out", "m.json"], "--num: a count is at least 1, got -5"),
    (["softdimo.sample", "--config", "config/smoke.yaml", "--teacher", "missing.pt", "--tokenizer", "k.pt",
      "--steps", "4", "--seed", "0", "--out", "x.npz"], "error: teacher weights not found: missing.pt"),
    (["softdimo.train", "--config", "nope.yaml", "--stage", "digits.tokenizer", "--out", "x.pt", "--workdir", "w",
      "--curve", "c.csv"], "error: config file nope.yaml not found"),
])
def test_bad_command_line_arguments(root, args, message, capsys, monkeypatch):
    if "not found" in message:  # through `python -m`: the module's entry point turns the error into exit status 2
        run = _run(args, root)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and "Traceback" not in run.stderr
        return
    import functools
    import importlib

    from softdimo.errors import cli

    monkeypatch.chdir(root)  # argument refusals happen before any work: in this process, without a torch start-up
    with pytest.raises(SystemExit) as exit_:
        cli(functools.partial(importlib.import_module(args[0]).main, args[1:]))
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_stage_input_that_was_not_given_is_named(root, tmp_path, digits_split):
    run = _run(["softdimo.train", "--config", "config/smoke.yaml", "--stage", "digits.tokenizer",
                "--input", f"holdout={digits_split / 'holdout.npz'}", "--out", str(tmp_path / "x.pt"),
                "--workdir", str(tmp_path / "w"), "--curve", str(tmp_path / "c.csv")], root)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "stage digits.tokenizer needs --input train=PATH (given: holdout)" in run.stderr


def test_training_commands_do_not_depend_on_the_cores_given(workdir):
    """Snakemake caps {threads} at --cores, and the thread count changes trained weights: every training job
    gets its rule's fixed count, so the commands (and the weights) are the same whatever --cores is."""
    commands = {}
    for cores in (1, 8):  # 1 caps every rule's threads, 8 no training rule's
        run = _run(["snakemake", "-n", "-p", "--cores", str(cores), "all", "--configfile", "config/smoke.yaml"],
                   workdir)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        commands[cores] = sorted(line.strip() for line in run.stdout.splitlines() if "softdimo.train" in line)
    assert len(commands[1]) > 10 and commands[1] == commands[8]
    assert all("--threads " in c for c in commands[1])
