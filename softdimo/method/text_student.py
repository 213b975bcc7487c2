"""The one-step text-to-image student: Di[M]O distillation, optionally with differentiable reward fine-tuning
(Soft-Di[M]O's reward fine-tuning).

Phases of one step:
  generator  w_dimo * L_DiMO - w_reward * mean R(Dec(E_dec(p)), prompt) [+ w_gan * L_GAN], with p the soft
             embedding weights softmax(z) (or a Gumbel straight-through one-hot), decoded through the tokenizer's
             codebook
  aux        cross-entropy of the auxiliary model on a fresh, re-masked student sample (as for class-to-image)
  disc       only for a student with w_gan > 0 (a track whose student config has it): the class-to-image
             discriminator on the frozen text teacher, real = embedded tokens of real images with their prompts
The reward R is the track's reward (never one of the judges that score its table): a track subclasses this
stage and gives `build` (models via build_models, the reward, `train_prompts`: the prompt ids batches are
drawn from; for GAN students also `real_tokens` / `real_labels`), `reward_of_soft_tokens(probs, prompt_ids)` and
`periodic_eval`.
"""
import copy
from pathlib import Path

import torch

from softdimo.checkpoints import load_artefact, read_payload
from softdimo.config import Config, as_dict, replace
from softdimo.method.dimo import freeze_embeddings
from softdimo.method.gan import Discriminator
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
        self.w_gan = getattr(self.s, "w_gan", 0.0)  # Meissonic's students have no GAN term
        self.gan = getattr(section, "gan", None)
        self.phases = [Phase("generator", self.generator_loss, "student"),
                       Phase("aux", self.aux_loss, "aux", lr_scale=self.d.aux_lr_scale, clip=self.d.clip == "all")]
        if self.w_gan > 0:
            self.phases.append(Phase("disc", self.disc_loss, "disc", lr_scale=self.gan.lr_scale,
                                     clip=self.d.clip == "all"))

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
        disc = (Discriminator(self._kwargs["dim"], self.gan.layers, self.gan.head_hidden).to(device)
                if self.w_gan > 0 else None)
        if self.s.init != "teacher":
            init = read_payload(self.inputs["init"], "student", device)
            student.load_state_dict(init["state_dict"])
            aux.load_state_dict(init["aux_state_dict"])
            if disc is not None and init.get("disc_state_dict"):
                disc.load_state_dict(init["disc_state_dict"])
            self.init_steps = init["total_steps"]
        for model in (student, aux):
            freeze_embeddings(model, freeze_output=self.d.freeze_output)
        self.modules = {"student": student, "aux": aux, **({"disc": disc} if disc is not None else {})}
        self.tokenizer, _ = load_artefact(self.inputs["tokenizer"], "tokenizer", device)

    def draw_labels(self, b: int) -> torch.Tensor:
        """Prompt ids of a batch of student samples (global RNG)."""
        return self.train_prompts[torch.randint(0, len(self.train_prompts), (b,))]

    def next_batch(self, step):
        if self.w_gan <= 0:  # no real batch drawn: the RNG stream of a student without GAN is unchanged
            return {"labels": self.draw_labels(self.train_cfg.batch_size)}
        return super().next_batch(step)

    def refinement_loss(self, z, rngs, batch):
        """-w_reward * mean R(Dec(soft tokens), caption) through the tokenizer's decoder, plus w_gan * L_GAN
        through the soft embeddings into the teacher-backbone discriminator (as class-to-image)."""
        loss, parts = 0.0, {}
        if self.s.w_reward > 0:
            probs = relaxed_probs(z, self.s.estimator, rngs, self.d.gumbel_tau)
            r = self.reward_of_soft_tokens(probs, batch["labels"])
            loss, parts = -self.s.w_reward * r.mean(), {"reward": r.mean().detach()}
        if self.w_gan > 0:
            l_gan, gan_parts = self.gan_generator_loss(z, rngs, batch, self.w_gan, self.s.gan_r_max)
            loss, parts = loss + l_gan, {**parts, **gan_parts}
        return loss, parts

    def export(self):
        return {"kind": "student", "arch": self._arch, "kwargs": self._kwargs,
                "state_dict": self.modules["student"].state_dict(),
                "aux_state_dict": self.modules["aux"].state_dict(),
                "disc_state_dict": self.modules["disc"].state_dict() if self.w_gan > 0 else None,
                "student": as_dict(self.s), "method": self.method, "seed": self.seed,
                "total_steps": self.init_steps + self.s.steps}
