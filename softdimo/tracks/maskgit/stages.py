"""Training stages of the MaskGit track (paper-scale class-to-image with the MaskGIT-pytorch teacher): the one-step
students of the converted official transformer, by Di[M]O's official MaskGit recipe (config c2i_maskgit). The
tokenizer, teacher and released student are converted, not trained (softdimo/tracks/maskgit/pipeline.py).

Stage name for `python -m softdimo.train --stage`: maskgit.student:<method>:<seed>.
"""
from pathlib import Path

import torch

from softdimo.config import Config
from softdimo.method.gan import discriminator_loss, generator_loss
from softdimo.method.soft import relaxed_probs
from softdimo.method.student import StudentStage
from softdimo.sampling import random_positions
from softdimo.tracks.maskgit.pipeline import c2i_view


def mask_with(e: torch.Tensor, r: torch.Tensor, mask_row: torch.Tensor) -> torch.Tensor:
    """round(L * r_b) random positions of row b take the mask token's embedding (a table row here, not zeros)."""
    masked = random_positions((r * e.shape[1]).round().long(), e.shape[1])
    return torch.where(masked[..., None], mask_row.to(e.dtype), e)


class Student(StudentStage):
    """The library's student on the MaskGit section (its distill keys carry the official recipe: teacher dropout,
    counts >= 1, generator-only clipping, Adam eps); the discriminator's masked positions carry the mask row."""

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: str):
        super().__init__(c2i_view(cfg), inputs, method, seed)

    def _mask_row(self):
        return self.teacher.tok_emb.weight[self.teacher.mask_id]

    def refinement_loss(self, z, rngs, batch):
        if self.s.w_gan <= 0:
            return 0.0, {}
        labels = batch["labels"]
        fake = self.teacher.soft_embed(relaxed_probs(z, self.s.estimator, rngs, self.d.gumbel_tau))
        r = torch.rand(len(labels), device=self.device) * self.s.gan_r_max
        l_gan = generator_loss(self.modules["disc"](self.teacher, mask_with(fake, r, self._mask_row()), labels, r))
        batch["fake"] = fake.detach()
        return self.s.w_gan * l_gan, {"gan": l_gan.detach()}

    def disc_loss(self, batch, step):
        disc, b, row = self.modules["disc"], len(batch["labels"]), self._mask_row()
        real = self.teacher.embed(batch["real_tokens"])
        r_real, r_fake = (torch.rand(b, device=self.device) * self.s.gan_r_max for _ in range(2))
        d_real = disc(self.teacher, mask_with(real, r_real, row), batch["real_labels"], r_real)
        d_fake = disc(self.teacher, mask_with(batch["fake"], r_fake, row), batch["labels"], r_fake)
        loss = discriminator_loss(d_real, d_fake)
        return loss, {"bce": loss.detach(), "real_minus_fake": (d_real.mean() - d_fake.mean()).detach()}

    def monitor(self, images) -> dict:
        """FID-n of the EMA student against ADM's ImageNet reference statistics (the training curve)."""
        from evaluation.adm import adm_metrics, load_reference

        ev = self.cfg.c2i.eval
        return adm_metrics(images, load_reference(self.inputs["reference"]), self.inputs["extractor"],
                           batch_size=ev.batch_size, k=ev.prc_neighborhood, device=self.device,
                           is_convention=ev.is_convention, prc_arithmetic=ev.prc_arithmetic,
                           frechet_sqrt=ev.frechet_sqrt)


STAGES = {"student": Student}
