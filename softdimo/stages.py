"""Training stages for the one loop in softdimo/train.py.

A stage owns its modules (`modules`, saved in checkpoints), draws the batch of a step (`next_batch`, using
only the already-seeded global RNG) and lists its `phases`: (name, loss callable, module it updates). Losses
are small callables `loss(batch, step) -> (scalar, {name: value})`.
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from evaluation.digits_cnn import DigitsCNN, random_shift
from softdimo.checkpoints import load_artefact
from softdimo.config import Config
from softdimo.data import load_split
from softdimo.models import build_model
from softdimo.sampling import random_positions, random_ratios
from softdimo.tokenizers import build_tokenizer
from softdimo.tokenizers.lfq import to_uint8, to_unit


@dataclass
class Phase:
    name: str
    loss: Callable
    module: str
    lr_scale: float = 1.0  # this phase's learning rate relative to the stage's train.lr


def _random_rows(n: int, batch_size: int) -> torch.Tensor:
    return torch.randint(0, n, (batch_size,))


class TokenizerStage:
    name = "tokenizer"

    def __init__(self, cfg: Config, inputs: dict[str, Path]):
        self.cfg, self.tcfg = cfg.c2i.tokenizer, cfg.c2i.tokenizer.train
        self.train_cfg = self.tcfg
        self.images, _ = load_split(inputs["train"])
        self.holdout, _ = load_split(inputs["holdout"])
        self.phases = [Phase("tokenizer", self.loss, "tokenizer")]

    def kwargs(self):
        c = self.cfg
        return dict(image_size=self.images.shape[1], channels=self.images.shape[3], bits=c.bits, splits=c.splits,
                    hidden_channels=c.hidden_channels, downsample=c.downsample)

    def build(self, device):
        self.device = device
        self.modules = {"tokenizer": build_tokenizer(self.cfg.arch, **self.kwargs()).to(device)}
        self.data = to_unit(torch.from_numpy(self.images)).to(device)

    def next_batch(self, step):
        return self.data[_random_rows(len(self.data), self.train_cfg.batch_size)]

    def loss(self, x, step):
        t = self.modules["tokenizer"].loss_terms(x)
        total = t["rec"] + self.cfg.commit_weight * t["commit"] - self.cfg.entropy_weight * t["entropy"]
        return total, t

    @torch.no_grad()
    def evaluate(self):
        tok = self.modules["tokenizer"].eval()
        real = torch.from_numpy(self.holdout).to(self.device)
        tokens = tok.encode(real)
        rec = to_uint8(tok.decode(tokens))
        mse = ((rec.float() - real.float()) / 255).pow(2).mean().item()
        flat = tokens.reshape(-1, tokens.shape[-1])
        return {"holdout_mse": mse, "holdout_psnr_db": 10 * math.log10(1 / max(mse, 1e-12)),
                "group_values_used": [int(torch.unique(flat[:, j]).numel()) for j in range(flat.shape[1])],
                "group_values_total": tok.classes_per_split, "seq_len": tok.seq_len}

    def export(self):
        return {"kind": "tokenizer", "arch": self.cfg.arch, "kwargs": self.kwargs(),
                "state_dict": self.modules["tokenizer"].state_dict()}


class ClassifierStage:
    name = "classifier"

    def __init__(self, cfg: Config, inputs: dict[str, Path]):
        self.cfg, self.train_cfg = cfg.c2i.classifier, cfg.c2i.classifier.train
        self.images, self.labels = load_split(inputs["train"])
        self.holdout, self.holdout_labels = load_split(inputs["holdout"])
        self.phases = [Phase("classifier", self.loss, "classifier")]

    def kwargs(self):
        return dict(width=self.cfg.width, feature_dim=self.cfg.feature_dim, num_classes=10,
                    image_size=self.images.shape[1])

    def build(self, device):
        self.device = device
        self.modules = {"classifier": DigitsCNN(**self.kwargs()).to(device)}
        self.x = torch.from_numpy(self.images).permute(0, 3, 1, 2).to(device)
        self.y = torch.from_numpy(self.labels).to(device)

    def next_batch(self, step):
        rows = _random_rows(len(self.x), self.train_cfg.batch_size)
        return random_shift(self.x[rows]), self.y[rows]

    def loss(self, batch, step):
        x, y = batch
        _, logits = self.modules["classifier"](x)
        loss = F.cross_entropy(logits, y)
        return loss, {"ce": loss.item(), "acc": (logits.argmax(1) == y).float().mean().item()}

    @torch.no_grad()
    def evaluate(self):
        model = self.modules["classifier"].eval()
        _, logits = model(torch.from_numpy(self.holdout).permute(0, 3, 1, 2).to(self.device))
        acc = (logits.argmax(1).cpu().numpy() == self.holdout_labels).mean()
        return {"holdout_accuracy": float(acc), "n_holdout": int(len(self.holdout_labels))}

    def export(self):
        return {"kind": "classifier", "arch": "digits_cnn", "kwargs": self.kwargs(),
                "state_dict": self.modules["classifier"].state_dict()}


class TeacherStage:
    name = "teacher"

    def __init__(self, cfg: Config, inputs: dict[str, Path]):
        self.cfg, self.train_cfg = cfg.c2i.teacher, cfg.c2i.teacher.train
        self.schedule = cfg.c2i.sampling.schedule
        self.tokenizer_path = inputs["tokenizer"]
        self.images, self.labels = load_split(inputs["train"])
        self.holdout, self.holdout_labels = load_split(inputs["holdout"])
        self.phases = [Phase("teacher", self.loss, "teacher")]

    def build(self, device):
        self.device = device
        tok, _ = load_artefact(self.tokenizer_path, "tokenizer", device)
        self.tokens = tok.encode(torch.from_numpy(self.images).to(device))
        self.holdout_tokens = tok.encode(torch.from_numpy(self.holdout).to(device))
        self.y = torch.from_numpy(self.labels).to(device)
        c = self.cfg
        self._kwargs = dict(seq_len=tok.seq_len, bits=tok.bits, splits=tok.splits, num_classes=c.num_classes,
                            dim=c.dim, depth=c.depth, heads=c.heads, mlp_ratio=c.mlp_ratio, dropout=c.dropout)
        self.modules = {"teacher": build_model(c.arch, **self._kwargs).to(device)}

    def next_batch(self, step):
        rows = _random_rows(len(self.tokens), self.train_cfg.batch_size)
        return self.tokens[rows], self.y[rows]

    def masked_ce(self, model, tokens, labels):
        b, L, _ = tokens.shape
        ratios = random_ratios(b, self.schedule, tokens.device)
        mask = random_positions((ratios * L).round().clamp(1, L).long(), L)  # at least one target per row
        inputs = torch.where(mask[..., None], model.mask_id, tokens)
        logits = model(inputs, labels)
        return F.cross_entropy(logits[mask].flatten(0, 1), tokens[mask].flatten())

    def loss(self, batch, step):
        tokens, labels = batch
        model = self.modules["teacher"]
        drop = torch.rand(len(labels), device=labels.device) < self.cfg.label_dropout
        labels = torch.where(drop, model.null_class, labels)
        loss = self.masked_ce(model, tokens, labels)
        return loss, {"ce": loss.item()}

    @torch.no_grad()
    def evaluate(self):
        model = self.modules["teacher"].eval()
        torch.manual_seed(0)
        y = torch.from_numpy(self.holdout_labels).to(self.device)
        ce = self.masked_ce(model, self.holdout_tokens, y).item()
        return {"holdout_masked_ce": ce, "n_params": sum(p.numel() for p in model.parameters())}

    def export(self):
        return {"kind": "teacher", "arch": self.cfg.arch, "kwargs": self._kwargs,
                "state_dict": self.modules["teacher"].state_dict()}


STAGES = {"tokenizer": TokenizerStage, "classifier": ClassifierStage, "teacher": TeacherStage}


def build_stage(name: str, cfg: Config, inputs: dict[str, Path]):
    """`name` is a stage name, t2i_judge:<which>, or [t2i_]student:<method>:<seed> for a one-step student of
    config c2i.students (t2i.students)."""
    if name.startswith("student:"):
        from softdimo.student_stage import StudentStage

        _, method, seed = name.split(":")
        return StudentStage(cfg, method, int(seed), inputs)
    if name.startswith("t2i_student:"):
        from softdimo.t2i_student import TextStudentStage

        _, method, seed = name.split(":")
        return TextStudentStage(cfg, method, int(seed), inputs)
    if name.startswith("t2i_paper_student:"):
        from softdimo.t2i_student import PaperTextStudentStage

        if cfg.t2i_paper is None:
            raise SystemExit("stage t2i_paper_student needs a config with a t2i_paper section (config/paper.yaml)")
        _, method, seed = name.split(":")
        return PaperTextStudentStage(cfg, method, int(seed), inputs)
    from softdimo.t2i_stages import JUDGE_NAMES, T2I_STAGES, JudgeStage

    if name.startswith("t2i_judge:") and name.split(":")[1] in JUDGE_NAMES:
        return JudgeStage(cfg, name.split(":")[1], inputs)
    if name in T2I_STAGES:
        return T2I_STAGES[name](cfg, inputs)
    if name not in STAGES:
        raise SystemExit(f"unknown stage {name!r}; known: {sorted(STAGES) + sorted(T2I_STAGES)}, "
                         f"t2i_judge:<{'|'.join(JUDGE_NAMES)}>, student:<method>:<seed>, t2i_student:<method>:<seed> or "
                         "t2i_paper_student:<method>:<seed>")
    return STAGES[name](cfg, inputs)
