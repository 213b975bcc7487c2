"""Masked-token training of a teacher (the MaskGIT objective): mask a random fraction of positions drawn from
the sampling schedule, predict the masked tokens, cross-entropy; with condition dropout for guidance.

A track's teacher stage sets `cfg` (with `label_dropout` or its own dropout), `train_cfg`, `schedule` and,
in `build`, `tokens`, `y`, `holdout_tokens`, `holdout_labels`, `_kwargs` and `modules["teacher"]`.
"""
import torch
import torch.nn.functional as F

from softdimo.sampling import random_positions, random_ratios
from softdimo.stages import random_rows


class MaskedTeacherStage:
    name = "teacher"

    def next_batch(self, step):
        rows = random_rows(len(self.tokens), self.train_cfg.batch_size)
        return self.tokens[rows], self.y[rows]

    def masked_ce(self, model, tokens, labels):
        b, L, _ = tokens.shape
        ratios = random_ratios(b, self.schedule, tokens.device)
        mask = random_positions((ratios * L).round().clamp(1, L).long(), L)  # at least one target per row
        inputs = torch.where(mask[..., None], model.mask_id, tokens)
        logits = model(inputs, labels)
        return F.cross_entropy(logits[mask].flatten(0, 1), tokens[mask].flatten())

    def condition_dropout(self) -> float:
        return self.cfg.label_dropout

    def loss(self, batch, step):
        tokens, labels = batch
        model = self.modules["teacher"]
        drop = torch.rand(len(labels), device=labels.device) < self.condition_dropout()
        loss = self.masked_ce(model, tokens, torch.where(drop, model.null_class, labels))
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
