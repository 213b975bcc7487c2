"""The one training loop: exact resume after a kill, hard stop on a non-finite loss, curves as it goes."""
import csv

import pytest
import torch

from softdimo.stages import Phase, build_stage
from softdimo.train import TrainingDiverged, train


def run_tokenizer(cfg, split, workdir, stop_after=None):
    stage = build_stage("digits.tokenizer", cfg, {"train": split / "train.npz", "holdout": split / "holdout.npz"})
    train(stage, cfg.c2i.tokenizer.train, workdir, workdir / "curve.csv", stop_after=stop_after)
    return stage.modules["tokenizer"].state_dict()


def test_resume_after_interrupt_gives_the_same_weights(smoke_cfg, digits_split, tmp_path):
    straight = run_tokenizer(smoke_cfg, digits_split, tmp_path / "a")
    with pytest.raises(AssertionError):  # the interrupted run really stopped short of the end
        partial = run_tokenizer(smoke_cfg, digits_split, tmp_path / "b", stop_after=13)
        assert all(torch.equal(partial[k], straight[k]) for k in straight)
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=False)["step"] == 10  # ckpt_every: 10
    resumed = run_tokenizer(smoke_cfg, digits_split, tmp_path / "b")
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    rows = list(csv.DictReader(open(tmp_path / "b" / "curve.csv")))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]


def test_teacher_resume_with_ema_and_dropout(smoke_cfg, digits_split, tmp_path):
    from softdimo.io import atomic_torch_save

    tok_stage = build_stage("digits.tokenizer", smoke_cfg, {"train": digits_split / "train.npz",
                                                     "holdout": digits_split / "holdout.npz"})
    train(tok_stage, smoke_cfg.c2i.tokenizer.train, tmp_path / "tok", tmp_path / "tok.csv")
    atomic_torch_save(tok_stage.export(), tmp_path / "tokenizer.pt")
    inputs = {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz",
              "tokenizer": tmp_path / "tokenizer.pt"}
    tcfg = smoke_cfg.c2i.teacher.train
    a = build_stage("digits.teacher", smoke_cfg, inputs)
    train(a, tcfg, tmp_path / "a", tmp_path / "a.csv")
    b = build_stage("digits.teacher", smoke_cfg, inputs)
    train(b, tcfg, tmp_path / "b", tmp_path / "b.csv", stop_after=12)
    b = build_stage("digits.teacher", smoke_cfg, inputs)
    train(b, tcfg, tmp_path / "b", tmp_path / "b.csv")
    sa, sb = a.modules["teacher"].state_dict(), b.modules["teacher"].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


class ExplodingStage:
    """A linear regression whose loss turns NaN at a chosen step."""

    name = "exploding"

    def __init__(self, nan_at):
        self.nan_at = nan_at
        self.phases = [Phase("mse", self.loss, "net")]

    def build(self, device):
        self.modules = {"net": torch.nn.Linear(3, 1)}

    def next_batch(self, step):
        return torch.randn(8, 3)

    def loss(self, x, step):
        loss = self.modules["net"](x).pow(2).mean()
        return (loss * float("nan") if step >= self.nan_at else loss), {}


def test_nan_loss_stops_and_keeps_last_good_checkpoint(smoke_cfg, tmp_path):
    cfg = smoke_cfg.c2i.tokenizer.train  # ckpt_every 10
    with pytest.raises(TrainingDiverged, match="mse.*not finite at step 14.*nan.*last good checkpoint"):
        train(ExplodingStage(nan_at=14), cfg, tmp_path, tmp_path / "curve.csv")
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["modules"]["net"].values())


def test_student_resume_with_three_optimizers_and_ema(smoke_cfg, digits_split, tmp_path):
    """Di[M]O + GAN (student, auxiliary model, discriminator heads; EMA of the student only) resumes exactly."""
    from softdimo.config import replace

    from softdimo.io import atomic_torch_save

    tok = build_stage("digits.tokenizer", smoke_cfg, {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    train(tok, smoke_cfg.c2i.tokenizer.train, tmp_path / "tok", tmp_path / "tok.csv")
    atomic_torch_save(tok.export(), tmp_path / "tokenizer.pt")
    inputs = {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz",
              "tokenizer": tmp_path / "tokenizer.pt"}
    teacher = build_stage("digits.teacher", smoke_cfg, inputs)
    train(teacher, smoke_cfg.c2i.teacher.train, tmp_path / "t", tmp_path / "t.csv")
    atomic_torch_save(teacher.export(), tmp_path / "teacher.pt")
    inputs["teacher"] = tmp_path / "teacher.pt"
    classifier = build_stage("digits.classifier", smoke_cfg, inputs)
    train(classifier, smoke_cfg.c2i.classifier.train, tmp_path / "c", tmp_path / "c.csv")
    atomic_torch_save(classifier.export(), tmp_path / "classifier.pt")
    inputs["extractor"] = tmp_path / "classifier.pt"
    inputs["reference"] = digits_split / "holdout.npz"
    students = dict(smoke_cfg.c2i.students)
    students["both"] = replace(students["soft_dimo"], init="teacher", steps=8)
    cfg = replace(smoke_cfg, c2i=replace(
        smoke_cfg.c2i, students=students, distill=replace(smoke_cfg.c2i.distill, eval_every=3)))

    def run(workdir, stop_after=None):
        stage = build_stage("digits.student:both:0", cfg, inputs)
        train(stage, stage.train_cfg, workdir, workdir / "curve.csv", stop_after=stop_after)
        return stage.modules

    straight = run(tmp_path / "a")
    run(tmp_path / "b", stop_after=5)
    resumed = run(tmp_path / "b")
    for name in ("student", "aux", "disc"):
        sa, sb = straight[name].state_dict(), resumed[name].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    frozen = [n for n, p in resumed["student"].named_parameters() if not p.requires_grad]
    assert "input_proj.weight" in frozen
    a, b = (list(csv.DictReader(open(tmp_path / d / "curve.csv"))) for d in "ab")
    assert [r["eval_fid"] for r in a] == [r["eval_fid"] for r in b]  # in-training FID curve identical too


def test_finished_or_foreign_checkpoint_is_not_resumed(smoke_cfg, digits_split, tmp_path):
    """A rerun (Snakemake deletes the outputs, the checkpoint stays) retrains instead of returning stale
    weights, and rewrites the whole curve; a checkpoint of other inputs is never resumed."""
    straight = run_tokenizer(smoke_cfg, digits_split, tmp_path / "a")
    (tmp_path / "a" / "curve.csv").unlink()
    stage = build_stage("digits.tokenizer", smoke_cfg, {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    out = train(stage, smoke_cfg.c2i.tokenizer.train, tmp_path / "a", tmp_path / "a" / "curve.csv")
    assert all(torch.equal(stage.modules["tokenizer"].state_dict()[k], straight[k]) for k in straight)
    assert [int(r["step"]) for r in csv.DictReader(open(tmp_path / "a" / "curve.csv"))] == [5, 10, 15, 20]
    assert out["steps"] == 20
    # an interrupted run of one fingerprint is not resumed under another
    stage = build_stage("digits.tokenizer", smoke_cfg, {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    train(stage, smoke_cfg.c2i.tokenizer.train, tmp_path / "b", tmp_path / "b.csv", stop_after=13, run_fingerprint="old")
    stage = build_stage("digits.tokenizer", smoke_cfg, {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"})
    train(stage, smoke_cfg.c2i.tokenizer.train, tmp_path / "b", tmp_path / "b.csv", run_fingerprint="new")
    assert all(torch.equal(stage.modules["tokenizer"].state_dict()[k], straight[k]) for k in straight)
    assert [int(r["step"]) for r in csv.DictReader(open(tmp_path / "b.csv"))] == [5, 10, 15, 20]


def test_fingerprint_follows_inputs_and_config(tmp_path):
    from softdimo.train import fingerprint

    (tmp_path / "x").write_bytes(b"abc")
    a = fingerprint("teacher", {"lr": 1}, {"train": tmp_path / "x"})
    assert a == fingerprint("teacher", {"lr": 1}, {"train": tmp_path / "x"})
    assert a != fingerprint("teacher", {"lr": 2}, {"train": tmp_path / "x"})
    (tmp_path / "x").write_bytes(b"abd")
    assert a != fingerprint("teacher", {"lr": 1}, {"train": tmp_path / "x"})


def test_training_is_bit_reproducible_across_processes(root, smoke_raw, tmp_path):
    """Two separate 2-thread runs of the training CLI give identical weights: multithreaded CPU convolution
    backward is not reproducible without deterministic algorithms (softdimo/runtime.py). Without them this test
    fails: 5 steps at batch 128 differed in 3 of 3 pairs (10 steps at batch 64 did not)."""
    import subprocess
    import sys

    import yaml

    from softdimo.config import from_dict
    from softdimo.tracks.shapes.world import prepare

    smoke_raw["t2i"]["tokenizer"]["train"].update(steps=5, batch_size=128)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(smoke_raw))
    prepare(from_dict(smoke_raw).t2i.world, tmp_path / "data")
    weights = []
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-m", "softdimo.train", "--config", str(tmp_path / "cfg.yaml"),
                        "--stage", "shapes.tokenizer", "--input", f"train={tmp_path / 'data' / 'train.npz'}",
                        "--threads", "2", "--out", str(tmp_path / run / "tok.pt"), "--workdir", str(tmp_path / run / "work"),
                        "--curve", str(tmp_path / run / "curve.csv")], check=True, capture_output=True, cwd=root)
        weights.append(torch.load(tmp_path / run / "tok.pt", weights_only=False)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # the guard itself, in case 5 steps do not show the nondeterminism on another processor
    check = ("import torch; from softdimo.runtime import setup_torch; setup_torch(2); "
             "assert torch.are_deterministic_algorithms_enabled()")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=root)
