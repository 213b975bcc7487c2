"""Training stages of the digits track (tiny class-to-image): the LFQ bit tokenizer, the digits CNN that
serves as feature extractor, the MaskBit-style bit teacher, and the one-step students.

Stage names for `python -m softdimo.train --stage`: digits.tokenizer, digits.classifier, digits.teacher,
digits.student:<method>:<seed>; for a further teacher family (c2i.families, e.g. the MaskGit-style VQ tokenizer
and embedding-table teacher): digits.family_tokenizer:<family>, digits.family_teacher:<family>,
digits.family_student:<family>:<method>:<seed>.
"""
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from softdimo.checkpoints import load_artefact
from softdimo.config import Config, family_config
from softdimo.io import load_split
from softdimo.method.student import StudentStage
from softdimo.method.teacher import MaskedTeacherStage
from softdimo.models import build_model
from softdimo.stages import Phase, random_rows
from softdimo.tokenizers import build_tokenizer
from softdimo.tokenizers.lfq import to_uint8, to_unit
from softdimo.tracks.digits.classifier import DigitsCNN, random_shift


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
        return self.data[random_rows(len(self.data), self.train_cfg.batch_size)]

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
        rows = random_rows(len(self.x), self.train_cfg.batch_size)
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


class TeacherStage(MaskedTeacherStage):
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
        self._kwargs = dict(seq_len=tok.seq_len, **self.vocabulary(tok), num_classes=c.num_classes,
                            dim=c.dim, depth=c.depth, heads=c.heads, mlp_ratio=c.mlp_ratio, dropout=c.dropout)
        self.modules = {"teacher": build_model(c.arch, **self._kwargs).to(device)}

    def vocabulary(self, tok) -> dict:
        """The token vocabulary's constructor arguments: the bit tokenizer's bits and groups."""
        return dict(bits=tok.bits, splits=tok.splits)


class Student(StudentStage):
    """The one-step student; its in-training monitor is FID / precision / recall against the held-out digits."""

    def monitor(self, images) -> dict:
        from evaluation.fid import compute_metrics

        ev = self.cfg.c2i.eval
        holdout, _ = load_split(self.inputs["reference"])
        return compute_metrics(images, holdout, evaluator=ev.evaluator, extractor_path=self.inputs["extractor"],
                               batch_size=ev.batch_size, prc_neighborhood=ev.prc_neighborhood,
                               is_convention=ev.is_convention, prc_arithmetic=ev.prc_arithmetic)


# ---- further teacher families (c2i.families.<family>): data, feature extractor and evaluation are the track's;
# the family's students are the Student stage above on the family's config view (softdimo.config.family_config)

def _family(cfg: Config, family: str):
    family_config(cfg, family)  # names the configured families when this one is not
    return cfg.c2i.families[family]


class FamilyTokenizerStage(TokenizerStage):
    """The VQ tokenizer (softdimo/tokenizers/vq.py) on the digits: reconstruction, codebook and commitment terms,
    unused codes restarted every restart_every steps."""
    ARGS = ("family",)

    def __init__(self, cfg: Config, inputs: dict[str, Path], family: str):
        self.name = f"{family}/tokenizer"
        self.cfg = _family(cfg, family).tokenizer
        self.train_cfg = self.cfg.train
        self.images, _ = load_split(inputs["train"])
        self.holdout, _ = load_split(inputs["holdout"])
        self.phases = [Phase("tokenizer", self.loss, "tokenizer")]

    def kwargs(self):
        c = self.cfg
        return dict(image_size=self.images.shape[1], channels=self.images.shape[3], codebook_size=c.codebook_size,
                    code_dim=c.code_dim, hidden_channels=c.hidden_channels, downsample=c.downsample)

    def loss(self, x, step):
        tok = self.modules["tokenizer"]
        restarted = tok.restart_dead_codes(x) if step and step % self.cfg.restart_every == 0 else 0
        t = tok.loss_terms(x)
        return t["rec"] + t["codebook"] + self.cfg.commit_weight * t["commit"], {**t, "restarted": restarted}

    @torch.no_grad()
    def evaluate(self):
        tok = self.modules["tokenizer"].eval()
        real = torch.from_numpy(self.holdout).to(self.device)
        tokens = tok.encode(real)
        mse = ((to_uint8(tok.decode(tokens)).float() - real.float()) / 255).pow(2).mean().item()
        return {"holdout_mse": mse, "holdout_psnr_db": 10 * math.log10(1 / max(mse, 1e-12)),
                "codes_used": int(torch.unique(tokens).numel()), "codebook_size": tok.codebook_size,
                "seq_len": tok.seq_len}


class FamilyTeacherStage(TeacherStage):
    """The masked-token objective (softdimo/method/teacher.py) for the family's embedding-table teacher."""
    ARGS = ("family",)

    def __init__(self, cfg: Config, inputs: dict[str, Path], family: str):
        super().__init__(cfg, inputs)
        self.name = f"{family}/teacher"
        self.cfg, self.train_cfg = _family(cfg, family).teacher, _family(cfg, family).teacher.train
        self.schedule = _family(cfg, family).sampling.schedule

    def vocabulary(self, tok) -> dict:
        return dict(codebook_size=tok.codebook_size)


def family_student(cfg: Config, inputs: dict[str, Path], family: str, method: str, seed: str):
    student = Student(family_config(cfg, family), inputs, method, seed)
    student.name = f"{family}/{student.name}"
    return student


family_student.ARGS = ("family", "method", "seed")


STAGES = {"tokenizer": TokenizerStage, "classifier": ClassifierStage, "teacher": TeacherStage, "student": Student,
          "family_tokenizer": FamilyTokenizerStage, "family_teacher": FamilyTeacherStage,
          "family_student": family_student}
