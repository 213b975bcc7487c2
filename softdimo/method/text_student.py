"""The one-step text-to-image student: Di[M]O distillation, optionally with differentiable reward fine-tuning
(Soft-Di[M]O, paper.md §2.4).

Phases of one step:
  generator  w_dimo * L_DiMO - w_reward * mean R(Dec(E_dec(p)), prompt), with p the soft embedding weights
             softmax(z) (or a Gumbel straight-through one-hot), decoded through the tokenizer's codebook
  aux        cross-entropy of the auxiliary model on a fresh, re-masked student sample (as for class-to-image)
The reward R is the track's reward (never one of the judges that score its table): a track subclasses this
stage and gives `build` (models via build_models, the reward, `train_prompts`: the prompt ids batches are
drawn from), `reward_of_soft_tokens(probs, prompt_ids)` and `periodic_eval`.
"""
import copy
from pathlib import Path

import torch

from softdimo.checkpoints import load_artefact, read_payload
from softdimo.config import Config, as_dict, replace
from softdimo.method.dimo import freeze_embeddings
from softdimo.models import build_model
from softdimo.method.soft import relaxed_probs
from softdimo.stages import Phase
from softdimo.method.student import StudentStage
from softdimo.text_bank import load_bank


class TextStudentStage(StudentStage):
    config_section = "t2i"  # the config section holding distill / students

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: int | str):
        seed = int(seed)
        section = getattr(cfg, self.config_section)
        if method not in section.students:
            raise SystemExit(f"unknown {self.config_section} student {method!r}; configured: {sorted(section.students)}")
        self.name = f"{self.config_section}/{method}/seed{seed}"
        self.method, self.seed, self.inputs = method, seed, inputs
        self.cfg, self.d = cfg, section.distill
        self.s = section.students[method]
        self.train_cfg = replace(self.d.train, steps=self.s.steps, lr=self.d.train.lr * self.s.lr_scale,
                                             seed=self.d.train.seed + 1000 * seed)
        self.eval_every = self.d.eval_every
        self.ema_modules = ("student",)
        self.phases = [Phase("generator", self.generator_loss, "student"),
                       Phase("aux", self.aux_loss, "aux", lr_scale=self.d.aux_lr_scale, clip=self.d.clip == "all")]

    def build_models(self, device):
        """Text bank, teacher, student and auxiliary model (from the teacher or the init student), tokenizer."""
        self.device = device
        self.bank = load_bank(self.inputs["text_bank"]).to(device)
        self.teacher, payload = load_artefact(self.inputs["teacher"], "teacher", device)
        self.teacher.attach_text(self.bank)
        self.teacher.train(self.d.teacher_dropout)
        self._arch, self._kwargs = payload["arch"], payload["kwargs"]
        student = build_model(payload["arch"], **self._kwargs).to(device)
        student.load_state_dict(self.teacher.state_dict())
        student.attach_text(self.bank)
        aux = copy.deepcopy(student)
        self.init_steps = 0
        if self.s.init != "teacher":
            init = read_payload(self.inputs["init"], "student", device)
            student.load_state_dict(init["state_dict"])
            aux.load_state_dict(init["aux_state_dict"])
            self.init_steps = init["total_steps"]
        for model in (student, aux):
            freeze_embeddings(model, freeze_output=self.d.freeze_output)
        self.modules = {"student": student, "aux": aux}
        self.tokenizer, _ = load_artefact(self.inputs["tokenizer"], "tokenizer", device)

    def draw_labels(self, b: int) -> torch.Tensor:
        """Prompt ids of a batch of student samples (global RNG)."""
        return self.train_prompts[torch.randint(0, len(self.train_prompts), (b,))]

    def next_batch(self, step):
        return {"labels": self.draw_labels(self.train_cfg.batch_size)}

    def refinement_loss(self, z, rngs, batch):
        """-w_reward * mean R(Dec(soft tokens), caption): the reward through the tokenizer's decoder."""
        if self.s.w_reward <= 0:
            return 0.0, {}
        probs = relaxed_probs(z, self.s.estimator, rngs, self.d.gumbel_tau)
        r = self.reward_of_soft_tokens(probs, batch["labels"])
        return -self.s.w_reward * r.mean(), {"reward": r.mean().detach()}

    def export(self):
        return {"kind": "student", "arch": self._arch, "kwargs": self._kwargs,
                "state_dict": self.modules["student"].state_dict(),
                "aux_state_dict": self.modules["aux"].state_dict(),
                "student": as_dict(self.s), "method": self.method, "seed": self.seed,
                "total_steps": self.init_steps + self.s.steps}
