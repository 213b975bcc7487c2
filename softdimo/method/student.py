"""The one-step student stage: Di[M]O distillation, optionally with GAN refinement (Soft-Di[M]O).

Phases of one step (the shared loop runs them in order):
  generator  w_dimo * L_DiMO + w_gan * L_GAN on the student (GAN input: soft embeddings or Gumbel-ST)
  aux        cross-entropy of the auxiliary model on a fresh, re-masked student sample
  disc       non-saturating discriminator loss on real embedded tokens vs detached fake embeddings
A student whose `init` is another student continues that student's weights (student, auxiliary model and
discriminator heads) for the same seed. Teacher-agnostic: a track subclasses it, names it in its STAGES and
gives the in-training `monitor(images) -> {fid, precision, recall}` of its evaluator.
"""
import copy
from pathlib import Path

import numpy as np
import torch

from softdimo.checkpoints import load_artefact, read_payload
from softdimo.config import Config, as_dict, replace
from softdimo.io import load_split
from softdimo.method.dimo import aux_loss, dimo_loss, freeze_embeddings
from softdimo.method.gan import Discriminator, discriminator_loss, generator_loss, mask_positions
from softdimo.models import build_model
from softdimo.generation import generate, student_sampler
from softdimo.sampling import GlobalRngs, distill_input, image_seeds, sample_from_logits
from softdimo.method.soft import relaxed_probs
from softdimo.stages import Phase


def real_tokens(inputs: dict[str, Path], tokenizer, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The GAN's real data: tokens of real images (pre-tokenised at paper scale, encoded here for tiny data)."""
    if "real_tokens" in inputs:
        with np.load(inputs["real_tokens"]) as f:
            # int16 on the device (1.28M x 256 x 2 tokens: 1.3 GB, not 5 GB); batches are widened in next_batch
            return torch.from_numpy(f["tokens"]).to(device), torch.from_numpy(f["labels"].astype(np.int64)).to(device)
    images, labels = load_split(inputs["train"])
    return tokenizer.encode(torch.from_numpy(images).to(device)), torch.from_numpy(labels).to(device)


class StudentStage:
    ARGS = ("method", "seed")  # the stage name's arguments: <track>.student:<method>:<seed>

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: int | str):
        seed = int(seed)
        if method not in cfg.c2i.students:
            raise SystemExit(f"unknown student {method!r}; configured: {sorted(cfg.c2i.students)}")
        self.name = f"{method}/seed{seed}"
        self.method, self.seed, self.inputs = method, seed, inputs
        self.cfg, self.d, self.gan = cfg, cfg.c2i.distill, cfg.c2i.gan
        self.s = cfg.c2i.students[method]
        self.train_cfg = replace(self.d.train, steps=self.s.steps, lr=self.d.train.lr * self.s.lr_scale,
                                             seed=self.d.train.seed + 1000 * seed)
        self.eval_every = self.d.eval_every
        self.ema_modules = ("student",)  # EMA of the generator only, as in the official code
        clip_all = self.d.clip == "all"
        self.phases = [Phase("generator", self.generator_loss, "student"),
                       Phase("aux", self.aux_loss, "aux", lr_scale=self.d.aux_lr_scale, clip=clip_all)]
        if self.s.w_gan > 0:
            self.phases.append(Phase("disc", self.disc_loss, "disc", lr_scale=self.gan.lr_scale, clip=clip_all))

    def build(self, device):
        self.device = device
        self.teacher, payload = load_artefact(self.inputs["teacher"], "teacher", device)
        self.teacher.train(self.d.teacher_dropout)
        self._arch, self._kwargs = payload["arch"], payload["kwargs"]
        student = build_model(payload["arch"], **self._kwargs).to(device)
        student.load_state_dict(self.teacher.state_dict())
        aux = copy.deepcopy(student)
        disc = Discriminator(self._kwargs["dim"], self.gan.layers, self.gan.head_hidden).to(device)
        self.init_steps = 0
        if self.s.init != "teacher":
            init = read_payload(self.inputs["init"], "student", device)
            student.load_state_dict(init["state_dict"])
            aux.load_state_dict(init["aux_state_dict"])
            if init.get("disc_state_dict"):
                disc.load_state_dict(init["disc_state_dict"])
            self.init_steps = init["total_steps"]
        for model in (student, aux):
            freeze_embeddings(model, freeze_output=self.d.freeze_output)
        self.modules = {"student": student, "aux": aux, "disc": disc}
        tokenizer, _ = load_artefact(self.inputs["tokenizer"], "tokenizer", device)
        self.tokenizer = tokenizer
        self.real_tokens, self.real_labels = real_tokens(self.inputs, tokenizer, device)

    def draw_labels(self, b: int) -> torch.Tensor:
        """Conditions of a batch of student samples (global RNG)."""
        return torch.randint(0, self.teacher.num_classes, (b,), device=self.device)

    def next_batch(self, step):
        b = self.train_cfg.batch_size
        rows = torch.randint(0, len(self.real_tokens), (b,))  # before the labels: the order of the RNG stream
        labels = self.draw_labels(b)
        return {"labels": labels, "real_tokens": self.real_tokens[rows].long(), "real_labels": self.real_labels[rows]}

    def _student_logits(self, model, labels):
        e = distill_input(model, GlobalRngs(len(labels), self.device), self.s.r_init, self.d)
        return model.forward_embeddings(e, labels)

    def generator_loss(self, batch, step):
        """w_dimo * L_DiMO plus the stage's refinement term on the same logits (GAN here, reward for t2i)."""
        student, labels = self.modules["student"], batch["labels"]
        z = self._student_logits(student, labels)
        rngs = GlobalRngs(len(labels), self.device)
        tokens = sample_from_logits(z.detach(), rngs, self.d.temperature)
        loss, parts = z.sum() * 0, {}
        if self.s.w_dimo > 0:
            l_dimo, masked = dimo_loss(z, tokens, labels, self.teacher, self.modules["aux"],
                                       teacher_cfg=self.d.teacher_cfg, beta=self.d.divergence_beta,
                                       schedule=self.d.schedule, min_masked=self.d.min_masked,
                                       mask_unit=self.d.mask_unit, ratio_range=self.d.ratio_range)
            loss = loss + self.s.w_dimo * l_dimo
            parts.update(dimo=l_dimo.detach(), masked_fraction=masked.float().mean())
        extra, extra_parts = self.refinement_loss(z, rngs, batch)
        return loss + extra, {**parts, **extra_parts}

    def refinement_loss(self, z, rngs, batch):
        """w_gan * L_GAN through soft embeddings (or Gumbel-ST) into the teacher-backbone discriminator."""
        if self.s.w_gan <= 0:
            return 0.0, {}
        return self.gan_generator_loss(z, rngs, batch, self.s.w_gan, self.s.gan_r_max)

    def gan_generator_loss(self, z, rngs, batch, w_gan: float, r_max: float):
        """w_gan * L_GAN of the student's relaxed tokens; keeps the fake embeddings for the disc phase."""
        labels = batch["labels"]
        fake = self.teacher.soft_embed(relaxed_probs(z, self.s.estimator, rngs, self.d.gumbel_tau))
        r = torch.rand(len(labels), device=self.device) * r_max
        masked_fake = mask_positions(fake, r, self.mask_embedding())
        l_gan = generator_loss(self.modules["disc"](self.teacher, masked_fake, labels, r))
        batch["fake"] = fake.detach()
        return w_gan * l_gan, {"gan": l_gan.detach()}

    def mask_embedding(self):
        """The teacher's embedding of a masked position, or None for a bit model (a masked position is zeros)."""
        if hasattr(self.teacher, "mask_embedding"):
            return self.teacher.mask_embedding()
        if hasattr(self.teacher, "bits_per_split"):
            return None
        # an embedding-table model without it would be masked with zeros, which is not its mask token
        raise TypeError(f"{type(self.teacher).__name__} needs mask_embedding() for the GAN's masked inputs")

    def aux_loss(self, batch, step):
        labels = self.draw_labels(len(batch["labels"])) if self.d.aux_fresh_labels else batch["labels"]
        with torch.no_grad():
            z = self._student_logits(self.modules["student"], labels)
            tokens = sample_from_logits(z, GlobalRngs(len(z), self.device), self.d.temperature)
        loss = aux_loss(self.modules["aux"], tokens, labels, schedule=self.d.schedule,
                        label_smoothing=self.d.aux_label_smoothing, min_masked=self.d.min_masked,
                        mask_unit=self.d.mask_unit, ratio_range=self.d.ratio_range)
        return loss, {"ce": loss.detach()}

    def disc_loss(self, batch, step):
        disc, b = self.modules["disc"], len(batch["labels"])
        real = self.teacher.embed(batch["real_tokens"])
        r_real = torch.rand(b, device=self.device) * self.s.gan_r_max
        r_fake = torch.rand(b, device=self.device) * self.s.gan_r_max
        mask = self.mask_embedding()
        d_real = disc(self.teacher, mask_positions(real, r_real, mask), batch["real_labels"], r_real)
        d_fake = disc(self.teacher, mask_positions(batch["fake"], r_fake, mask), batch["labels"], r_fake)
        loss = discriminator_loss(d_real, d_fake)
        return loss, {"bce": loss.detach(), "real_minus_fake": (d_real.mean() - d_fake.mean()).detach()}

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        """One-step FID of the (EMA) student on fixed image seeds: the FID-vs-training-step curves."""
        student = modules["student"].eval()
        n = self.d.eval_samples
        labels = torch.arange(n, device=self.device) % student.num_classes
        images = generate(student_sampler(student, self.s.r_init, self.d, self.d.monitor_temperature), self.tokenizer,
                          image_seeds(self.seed, n),
                          labels, batch_size=self.cfg.c2i.sampling.batch_size, quantize=self.cfg.c2i.sampling.quantize)
        m = self.monitor(images)
        return {"eval_fid": m["fid"], "eval_precision": m["precision"], "eval_recall": m["recall"],
                "total_step": self.init_steps + step}

    def monitor(self, images) -> dict:
        """{fid, precision, recall} of uint8 NHWC samples by the track's evaluator."""
        raise TypeError(f"{type(self).__name__} must define monitor(images): the track's in-training evaluator")

    def evaluate(self):
        return {"method": self.method, "seed": self.seed, "init": self.s.init, "init_steps": self.init_steps,
                "total_steps": self.init_steps + self.s.steps}

    def export(self):
        return {"kind": "student", "arch": self._arch, "kwargs": self._kwargs,
                "state_dict": self.modules["student"].state_dict(),
                "aux_state_dict": self.modules["aux"].state_dict(),
                "disc_state_dict": self.modules["disc"].state_dict() if self.s.w_gan > 0 else None,
                "student": as_dict(self.s), "method": self.method, "seed": self.seed,
                "total_steps": self.init_steps + self.s.steps}
