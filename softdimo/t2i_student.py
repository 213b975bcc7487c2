"""The one-step text-to-image student: Di[M]O distillation, optionally with differentiable reward fine-tuning
(Soft-Di[M]O, paper.md §2.4).

Phases of one step:
  generator  w_dimo * L_DiMO - w_reward * mean R(Dec(E_dec(p)), prompt), with p the soft embedding weights
             softmax(z) (or a Gumbel straight-through one-hot), decoded through the tokenizer's codebook
  aux        cross-entropy of the auxiliary model on a fresh, re-masked student sample (as for class-to-image)
The reward R is the workflow's `reward` network, never one of the judges that score Table 2.
"""
import copy
from pathlib import Path

import numpy as np
import torch

from softdimo.checkpoints import load_artefact
from softdimo.config import Config, as_dict, replace
from softdimo.distill import freeze_embeddings
from softdimo.models import build_model
from softdimo.soft import relaxed_probs
from softdimo.stages import Phase
from softdimo.student_stage import StudentStage
from softdimo.text import load_bank


def reward_of_images(reward, images: torch.Tensor, bank, prompt_ids: torch.Tensor) -> torch.Tensor:
    """Per-image reward of float NCHW images (decoder output, clamped to [-1, 1]) for their prompts."""
    return reward(images.clamp(-1, 1), bank.pooled[prompt_ids])


class TextStudentStage(StudentStage):
    track = "t2i"

    def __init__(self, cfg: Config, method: str, seed: int, inputs: dict[str, Path]):
        section = getattr(cfg, self.track)
        if method not in section.students:
            raise SystemExit(f"unknown {self.track} student {method!r}; configured: {sorted(section.students)}")
        self.name = f"{self.track}/{method}/seed{seed}"
        self.method, self.seed, self.inputs = method, seed, inputs
        self.cfg, self.d = cfg, section.distill
        self.s = section.students[method]
        self.train_cfg = replace(self.d.train, steps=self.s.steps, lr=self.d.train.lr * self.s.lr_scale,
                                             seed=self.d.train.seed + 1000 * seed)
        self.eval_every = self.d.eval_every
        self.ema_modules = ("student",)
        self.phases = [Phase("generator", self.generator_loss, "student"),
                       Phase("aux", self.aux_loss, "aux", lr_scale=self.d.aux_lr_scale)]

    def build_models(self, device):
        """Text bank, teacher, student and auxiliary model (from the teacher or the init student), tokenizer."""
        self.device = device
        self.bank = load_bank(self.inputs["text_bank"]).to(device)
        self.teacher, payload = load_artefact(self.inputs["teacher"], "teacher", device)
        self.teacher.attach_text(self.bank)
        self._arch, self._kwargs = payload["arch"], payload["kwargs"]
        student = build_model(payload["arch"], **self._kwargs).to(device)
        student.load_state_dict(self.teacher.state_dict())
        student.attach_text(self.bank)
        aux = copy.deepcopy(student)
        self.init_steps = 0
        if self.s.init != "teacher":
            init = torch.load(self.inputs["init"], map_location=device, weights_only=False)
            student.load_state_dict(init["state_dict"])
            aux.load_state_dict(init["aux_state_dict"])
            self.init_steps = init["total_steps"]
        for model in (student, aux):
            freeze_embeddings(model)
        self.modules = {"student": student, "aux": aux}
        self.tokenizer, _ = load_artefact(self.inputs["tokenizer"], "tokenizer", device)

    def build(self, device):
        from evaluation.t2i_metrics import Judges

        self.build_models(device)
        self.reward, _ = load_artefact(self.inputs["reward"], "judge", device)
        with np.load(self.inputs["train"]) as f:  # captions drawn with the training distribution's frequencies
            self.train_prompts = torch.from_numpy(f["prompt_ids"]).to(device)
        self.judges = Judges.load(self.cfg, self.inputs, device, need_fid=False)

    def next_batch(self, step):
        rows = torch.randint(0, len(self.train_prompts), (self.train_cfg.batch_size,))
        return {"labels": self.train_prompts[rows]}

    def refinement_loss(self, z, rngs, batch):
        """-w_reward * mean R(Dec(soft tokens), caption): the reward through the tokenizer's decoder."""
        if self.s.w_reward <= 0:
            return 0.0, {}
        probs = relaxed_probs(z, self.s.estimator, rngs, self.d.gumbel_tau)
        r = self.reward_of_soft_tokens(probs, batch["labels"])
        return -self.s.w_reward * r.mean(), {"reward": r.mean().detach()}

    def reward_of_soft_tokens(self, probs, prompt_ids):
        return reward_of_images(self.reward, self.tokenizer.decode_soft(probs), self.bank, prompt_ids)

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        """GenEval-shapes, CLIP score and preference of the (EMA) student on every caption (the curves of the
        soft vs Gumbel-ST figure)."""
        from softdimo.t2i_sample import generate_student

        student = modules["student"].eval()
        ids = self.judges.eval_prompt_ids(self.d.eval_samples)
        images = generate_student(student, self.tokenizer, ids, self.seed, self.s.r_init, self.d, len(ids))
        m = self.judges.score_prompts(images, ids)
        return {"eval_geneval": m["geneval"]["overall"], "eval_clip_score": m["clip_score"],
                "eval_preference": m["preference"], "total_step": self.init_steps + step}

    def export(self):
        return {"kind": "student", "arch": self._arch, "kwargs": self._kwargs,
                "state_dict": self.modules["student"].state_dict(),
                "aux_state_dict": self.modules["aux"].state_dict(),
                "student": as_dict(self.s), "method": self.method, "seed": self.seed,
                "total_steps": self.init_steps + self.s.steps}


class PaperTextStudentStage(TextStudentStage):
    """The same student on MaskGen-L / TA-TiTok (config t2i_paper): prompts come from the training prompt
    set, TA-TiTok decodes with each caption's text tokens, the reward is the configured CLIP / HPS composite,
    and the training curve carries CLIP score and HPS of the EMA student on GenEval's prompts."""
    track = "t2i_paper"

    def build(self, device):
        from evaluation.clip_scorers import clip_score_model, hps_model
        from softdimo.t2i_paper import CompositeReward, bank_ids, load_prompt_set

        self.build_models(device)
        scorers = {"clip": clip_score_model(self.inputs["clip"]).to(device),
                   "hps": hps_model(self.inputs["hps"]).to(device)}
        weights = as_dict(self.cfg.t2i_paper.rewards)
        self.reward = CompositeReward(scorers, weights, self.bank.prompts)
        self.eval_scores = {k: CompositeReward(scorers, {k: 1.0}, self.bank.prompts) for k in scorers}
        self.train_prompts = bank_ids(self.bank, load_prompt_set(self.inputs["train_prompts"])["prompts"]).to(device)
        eval_prompts = load_prompt_set(self.inputs["eval_prompts"])["prompts"]
        self.eval_ids = bank_ids(self.bank, eval_prompts).repeat(-(-self.d.eval_samples // len(eval_prompts)))
        self.eval_ids = self.eval_ids[:self.d.eval_samples].to(device)

    def reward_of_soft_tokens(self, probs, prompt_ids):
        return self.reward(self.tokenizer.decode_soft(probs, self.bank.final_tokens(prompt_ids)).clamp(-1, 1), prompt_ids)

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        from softdimo.sampling import image_seeds
        from softdimo.t2i_paper import generate, student_tokens

        student = modules["student"].eval()
        images = generate(student_tokens(student, self.s.r_init, self.d), self.tokenizer, self.bank, self.eval_ids,
                          image_seeds(self.seed, len(self.eval_ids)), self.cfg.t2i_paper.eval.batch_size,
                          self.cfg.precision)
        x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        out = {"total_step": self.init_steps + step}
        for name, score in self.eval_scores.items():
            b = self.cfg.t2i_paper.eval.batch_size
            out[f"eval_{name}"] = float(torch.cat([score(x[i:i + b], self.eval_ids[i:i + b])
                                                   for i in range(0, len(x), b)]).mean())
        return out
