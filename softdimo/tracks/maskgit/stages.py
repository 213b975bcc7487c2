"""Training stages of the MaskGit track (paper-scale class-to-image with the MaskGIT-pytorch teacher): the one-step
students of the converted official transformer, by Di[M]O's official MaskGit recipe (config c2i_maskgit). The
tokenizer, teacher and released student are converted, not trained (softdimo/tracks/maskgit/pipeline.py).

Stage name for `python -m softdimo.train --stage`: maskgit.student:<method>:<seed>.
"""
from pathlib import Path

from softdimo.config import Config
from softdimo.method.student import StudentStage
from softdimo.tracks.maskgit.pipeline import c2i_view


class Student(StudentStage):
    """The library's student on the MaskGit section (its distill keys carry the official recipe: teacher dropout,
    counts >= 1, generator-only clipping, Adam eps); the discriminator's masked positions carry the mask row
    (MaskGitTransformer.mask_embedding)."""

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: str):
        super().__init__(c2i_view(cfg), inputs, method, seed)

    def monitor(self, images) -> dict:
        """FID-n of the EMA student against ADM's ImageNet reference statistics (the training curve)."""
        from evaluation.adm import adm_metrics, load_reference

        ev = self.cfg.c2i.eval
        return adm_metrics(images, load_reference(self.inputs["reference"]), self.inputs["extractor"],
                           batch_size=ev.batch_size, k=ev.prc_neighborhood, device=self.device,
                           is_convention=ev.is_convention, prc_arithmetic=ev.prc_arithmetic,
                           frechet_sqrt=ev.frechet_sqrt)


STAGES = {"student": Student}
