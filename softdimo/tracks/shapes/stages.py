"""Training stages of the shapes track (tiny text-to-image) for the one loop in softdimo/train.py: the VQ
tokenizer, the text-conditioned teacher, the judges (CLIP-score model, training reward, preference model, FID
CNN) and the one-step students. Stage names: shapes.tokenizer, shapes.teacher, shapes.judge:<which>,
shapes.student:<method>:<seed>.

All of them learn from the rendered shapes scenes (results/t2i/data/train.npz); the text side is the frozen
MiniLM feature bank (softdimo/tracks/shapes/text_encoder.py) looked up by prompt id.
"""
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from softdimo.checkpoints import load_artefact
from softdimo.config import Config
from softdimo.method.teacher import MaskedTeacherStage
from softdimo.method.reward import reward_of_images
from softdimo.method.text_student import TextStudentStage
from softdimo.models import build_model
from softdimo.stages import Phase, random_rows
from softdimo.text_bank import load_bank
from softdimo.tokenizers import build_tokenizer
from softdimo.tokenizers.lfq import to_uint8, to_unit
from softdimo.tracks.shapes.judges import build_judge, degrade, uint8_to_unit
from softdimo.tracks.shapes.world import GRID, load_prompts, world_from_config


def load_scenes(path):
    with np.load(path) as f:
        return f["arr_0"], f["prompt_ids"], f["cell_labels"]


def holdout_split(n: int, fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The last 5% of the training scenes are held out for each stage's own validation numbers."""
    cut = n - max(1, int(n * fraction))
    return np.arange(cut), np.arange(cut, n)


class VQTokenizerStage:
    name = "t2i_tokenizer"

    def __init__(self, cfg: Config, inputs: dict[str, Path]):
        self.cfg, self.train_cfg = cfg.t2i.tokenizer, cfg.t2i.tokenizer.train
        images, _, _ = load_scenes(inputs["train"])
        train, held = holdout_split(len(images))
        self.images, self.holdout = images[train], images[held]
        self.phases = [Phase("tokenizer", self.loss, "tokenizer")]

    def kwargs(self):
        c = self.cfg
        return dict(image_size=self.images.shape[1], channels=3, codebook_size=c.codebook_size, code_dim=c.code_dim,
                    hidden_channels=c.hidden_channels, downsample=c.downsample)

    def build(self, device):
        self.device = device
        self.modules = {"tokenizer": build_tokenizer(self.cfg.arch, **self.kwargs()).to(device)}
        self.data = to_unit(torch.from_numpy(self.images)).to(device)

    def next_batch(self, step):
        return self.data[random_rows(len(self.data), self.train_cfg.batch_size)]

    def loss(self, x, step):
        tok = self.modules["tokenizer"]
        restarted = tok.restart_dead_codes(x) if step and step % self.cfg.restart_every == 0 else 0
        t = tok.loss_terms(x)
        total = t["rec"] + t["codebook"] + self.cfg.commit_weight * t["commit"]
        return total, {**t, "restarted": restarted}

    @torch.no_grad()
    def evaluate(self):
        tok = self.modules["tokenizer"].eval()
        real = torch.from_numpy(self.holdout).to(self.device)
        tokens = tok.encode(real)
        mse = ((to_uint8(tok.decode(tokens)).float() - real.float()) / 255).pow(2).mean().item()
        return {"holdout_mse": mse, "holdout_psnr_db": 10 * math.log10(1 / max(mse, 1e-12)),
                "codes_used": int(torch.unique(tokens).numel()), "codebook_size": tok.codebook_size,
                "seq_len": tok.seq_len}

    def export(self):
        return {"kind": "tokenizer", "arch": self.cfg.arch, "kwargs": self.kwargs(),
                "state_dict": self.modules["tokenizer"].state_dict()}


class TextTeacherStage(MaskedTeacherStage):
    """The masked-token cross-entropy with prompt ids as the condition and the empty prompt replacing a
    text_dropout fraction of captions."""
    name = "t2i_teacher"

    def __init__(self, cfg: Config, inputs: dict[str, Path]):
        self.cfg, self.train_cfg = cfg.t2i.teacher, cfg.t2i.teacher.train
        self.schedule = cfg.t2i.sampling.schedule
        self.inputs = inputs
        images, prompt_ids, _ = load_scenes(inputs["train"])
        train, held = holdout_split(len(images))
        self.images, self.labels = images[train], prompt_ids[train]
        self.holdout, self.holdout_labels = images[held], prompt_ids[held]
        self.phases = [Phase("teacher", self.loss, "teacher")]

    def build(self, device):
        self.device = device
        tok, _ = load_artefact(self.inputs["tokenizer"], "tokenizer", device)
        bank = load_bank(self.inputs["text_bank"])
        self.tokens = tok.encode(torch.from_numpy(self.images).to(device))
        self.holdout_tokens = tok.encode(torch.from_numpy(self.holdout).to(device))
        self.y = torch.from_numpy(self.labels).to(device)
        c = self.cfg
        null = load_prompts(self.inputs["prompts"])["null_prompt_id"]
        self._kwargs = dict(seq_len=tok.seq_len, codebook_size=tok.codebook_size, num_prompts=null, null_prompt=null,
                            text_dim=bank.dim, dim=c.dim, depth=c.depth, heads=c.heads, mlp_ratio=c.mlp_ratio,
                            dropout=c.dropout)
        self.modules = {"teacher": build_model(c.arch, **self._kwargs).to(device).attach_text(bank)}

    def condition_dropout(self) -> float:
        return self.cfg.text_dropout


class JudgeStage:
    """Trains one judge (clip | reward | preference | shapes_cnn) with the loss its architecture needs."""
    ARCH = {"clip": "contrastive", "reward": "contrastive", "preference": "preference", "shapes_cnn": "shapes_cnn"}
    ARGS = ("which",)

    def __init__(self, cfg: Config, inputs: dict[str, Path], which: str):
        if which not in self.ARCH:
            raise SystemExit(f"unknown judge {which!r}; known: {', '.join(self.ARCH)}")
        self.name, self.which = f"t2i_{which}", which
        self.cfg = getattr(cfg.t2i.judges, which)
        self.geneval_rule = cfg.t2i.eval.geneval_rule  # the caption-truth check of evaluate()
        self.train_cfg = self.cfg.train
        self.world = world_from_config(cfg.t2i.world)
        images, prompt_ids, cells = load_scenes(inputs["train"])
        train, held = holdout_split(len(images))
        half = len(train) // 2
        train = {"all": train, "first_half": train[:half], "second_half": train[half:]}[self.cfg.data]
        self.split = {"train": (images[train], prompt_ids[train], cells[train]),
                      "holdout": (images[held], prompt_ids[held], cells[held])}
        self.inputs = inputs
        self.phases = [Phase(which, self.loss, "judge")]

    def kwargs(self):
        size = self.world.image_size
        if self.which == "shapes_cnn":
            return dict(width=self.cfg.width, feature_dim=self.cfg.embed_dim, cells=GRID * GRID,
                        cell_classes=self.world.cell_classes, image_size=size)
        return dict(width=self.cfg.width, embed_dim=self.cfg.embed_dim, text_dim=self.bank.dim, image_size=size)

    def build(self, device):
        self.device = device
        self.bank = load_bank(self.inputs["text_bank"]).to(device)
        self.modules = {"judge": build_judge(self.ARCH[self.which], **self.kwargs()).to(device)}
        self.tensors = {k: tuple(torch.from_numpy(a).to(device) for a in v) for k, v in self.split.items()}
        self.n_prompts = len(self.bank.prompts) - 1  # the empty prompt is never a caption of a scene

    def next_batch(self, step):
        images, ids, cells = self.tensors["train"]
        rows = random_rows(len(images), self.train_cfg.batch_size)
        return images[rows], ids[rows], cells[rows]

    def _loss(self, images, ids, cells):
        judge, x = self.modules["judge"], uint8_to_unit(images)
        if self.which == "shapes_cnn":
            _, logits = judge(images.permute(0, 3, 1, 2))
            return F.cross_entropy(logits.flatten(0, 1), cells.flatten()), (logits.argmax(-1) == cells).all(1).float().mean()
        if self.ARCH[self.which] == "contrastive":
            return judge.loss(x, ids, self.bank.pooled[:self.n_prompts])
        # preference: the clean render of a prompt beats a degraded copy, or a render of another prompt
        b = len(x)
        other = torch.roll(x, 1, 0)
        mismatch = (torch.rand(b, device=x.device) < 0.5) & (torch.roll(ids, 1, 0) != ids)
        rejected = torch.where(mismatch[:, None, None, None], other, degrade(x, torch.randint(0, 4, (b,))))
        pooled = self.bank.pooled[ids]
        margin = judge(x, pooled) - judge(rejected, pooled)
        return F.softplus(-margin).mean(), (margin > 0).float().mean()

    def loss(self, batch, step):
        loss, acc = self._loss(*batch)
        return loss, {"loss": loss.detach(), "acc": acc}

    @torch.no_grad()
    def evaluate(self):
        judge = self.modules["judge"].eval()
        torch.manual_seed(0)
        _, acc = self._loss(*self.tensors["holdout"])
        what = {"clip": "top-1 prompt retrieval", "reward": "top-1 prompt retrieval",
                "preference": "pair accuracy (clean matching render preferred)",
                "shapes_cnn": "all four cells classified"}[self.which]
        out = {"holdout_accuracy": float(acc), "accuracy_is": what, "n_holdout": int(len(self.tensors["holdout"][0]))}
        if self.ARCH[self.which] == "contrastive":  # several captions are true of one scene: is the top-1 one?
            from evaluation.geneval import score_image
            from softdimo.tracks.shapes.detector import ShapesDetector

            images, _, _ = self.split["holdout"]
            metadata = load_prompts(self.inputs["prompts"])["metadata"]
            x = uint8_to_unit(torch.from_numpy(images).to(self.device))
            top = (judge.embed_images(x) @ judge.embed_text(self.bank.pooled[:self.n_prompts]).T).argmax(1).tolist()
            detect = ShapesDetector(self.world.shapes, self.world.colors)
            rule = self.geneval_rule
            out["holdout_top1_caption_true"] = float(np.mean([score_image(detect(img), metadata[p], rule)[0]
                                                              for img, p in zip(images, top)]))
        return out

    def export(self):
        return {"kind": "judge", "arch": self.ARCH[self.which], "kwargs": self.kwargs(), "which": self.which,
                "state_dict": self.modules["judge"].state_dict()}


class Student(TextStudentStage):
    """The one-step student; its reward is the workflow's `reward` judge and its in-training curves are
    GenEval-shapes, CLIP score and preference of the EMA student on every caption."""
    def build(self, device):
        from softdimo.tracks.shapes.metrics import Judges

        self.build_models(device)
        self.reward, _ = load_artefact(self.inputs["reward"], "judge", device)
        with np.load(self.inputs["train"]) as f:  # captions drawn with the training distribution's frequencies
            self.train_prompts = torch.from_numpy(f["prompt_ids"]).to(device)
        if self.w_gan > 0:  # the discriminator's real data: every training render, tokenised, with its caption
            images, prompt_ids, _ = load_scenes(self.inputs["train"])
            self.real_tokens = self.tokenizer.encode(torch.from_numpy(images).to(device))
            self.real_labels = torch.from_numpy(prompt_ids).to(device)
        self.judges = Judges.load(self.cfg, self.inputs, device, need_fid=False)

    def reward_of_soft_tokens(self, probs, prompt_ids):
        return reward_of_images(self.reward, self.tokenizer.decode_soft(probs), self.bank, prompt_ids)

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        """GenEval-shapes, CLIP score and preference of the (EMA) student on every caption (the curves of the
        soft vs Gumbel-ST figure)."""
        from softdimo.tracks.shapes.sample import generate_student

        student = modules["student"].eval()
        ids = self.judges.eval_prompt_ids(self.d.eval_samples)
        images = generate_student(student, self.tokenizer, ids, self.seed, self.s.r_init, self.d, len(ids),
                                  quantize=self.cfg.t2i.sampling.quantize,
                                  temperature=self.d.monitor_temperature)
        m = self.judges.score_prompts(images, ids)
        return {"eval_geneval": m["geneval"]["overall"], "eval_clip_score": m["clip_score"],
                "eval_preference": m["preference"], "total_step": self.init_steps + step}


JUDGE_NAMES = tuple(JudgeStage.ARCH)
STAGES = {"tokenizer": VQTokenizerStage, "teacher": TextTeacherStage, "judge": JudgeStage, "student": Student}
