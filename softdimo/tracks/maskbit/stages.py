"""Training stages of the MaskBit track (paper-scale class-to-image on ImageNet-256): the one-step students
of the converted official MaskBit generator. Tokenizer and teacher are converted, not trained
(softdimo/pretrained.py).

Stage name for `python -m softdimo.train --stage`: maskbit.student:<method>:<seed>.
"""
from softdimo.method.student import StudentStage


class Student(StudentStage):
    """The one-step student; its in-training monitor is FID-n against ADM's ImageNet reference statistics."""

    def monitor(self, images) -> dict:
        from evaluation.adm import adm_metrics, load_reference

        ev = self.cfg.c2i.eval
        return adm_metrics(images, load_reference(self.inputs["reference"]), self.inputs["extractor"],
                           batch_size=ev.batch_size, k=ev.prc_neighborhood, device=self.device,
                           is_convention=ev.is_convention, prc_arithmetic=ev.prc_arithmetic,
                           frechet_sqrt=ev.frechet_sqrt)


STAGES = {"student": Student}
