"""Text conditioning as a table: every prompt's frozen text-encoder features, looked up by prompt id.

Teachers, students and rewards take prompt ids; a bank built once per prompt set (by a track's text encoder)
holds token features, their mask, the pooled vector and, for TA-TiTok, the final-layer tokens.
"""
from pathlib import Path

import torch

from softdimo.errors import ArtefactError


class TextBank(torch.nn.Module):
    """Prompt id -> (token features, mask, pooled), plus, for TA-TiTok, the final-layer tokens (`final`).

    The features are plain tensors, not buffers: they are never saved in checkpoints, averaged into an EMA
    copy or broadcast across ranks, and copying a model (student -> auxiliary model, EMA) shares the one bank.
    A small bank moves with the model it is attached to; a paper-scale bank (`on_host`, ~12 GB for 100k
    prompts) stays in host memory and only the rows of a batch go to the batch's device."""

    FIELDS = ("tokens", "mask", "pooled", "final")

    def __init__(self, bank: dict):
        super().__init__()
        self.prompts = list(bank["prompts"])
        self.on_host = bool(bank.get("on_host", False))
        self.tokens, self.mask, self.pooled = bank["tokens"], bank["mask"], bank["pooled"]
        self.final = bank.get("final")
        # the unguided branch of CFG: '' unless the bank names another (Meissonic's negative prompt)
        self.null_prompt = bank.get("null_prompt", "")

    def _apply(self, fn, recurse=True):  # .to(device) / .float(): moves the tensors unless the bank is on the host
        if not self.on_host:
            for name in self.FIELDS:
                if getattr(self, name) is not None:
                    setattr(self, name, fn(getattr(self, name)))
        return self

    def __deepcopy__(self, memo):
        return self  # read-only: every copy of a model shares it

    @property
    def dim(self) -> int:
        return self.tokens.shape[-1]

    def _rows(self, tensor, ids):
        if not self.on_host:
            return tensor[ids]
        return tensor[ids.cpu()].to(ids.device, non_blocking=True)

    def forward(self, ids: torch.Tensor):
        # paper-scale banks store tokens in fp16 (half the size); models always see fp32 features
        return self._rows(self.tokens, ids).float(), self._rows(self.mask, ids), self._rows(self.pooled, ids).float()

    def final_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Last block + final LayerNorm tokens: TA-TiTok's text guidance (MaskGen reads the penultimate ones)."""
        if self.final is None:
            raise ValueError("this text bank has no final-layer tokens (TA-TiTok's decoder needs them)")
        return self._rows(self.final, ids).float()


def load_bank(path) -> TextBank:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"text feature cache not found: {path}. Make it with "
                                "`snakemake --cores all results/t2i/text_bank.pt`.")
    # memory-mapped: the ranks of a node share one copy of a paper-scale bank (~24 GB for 100k prompts)
    try:
        bank = torch.load(path, weights_only=True, mmap=True)
    except Exception as error:  # truncated or damaged: name the file instead of torch's bare message
        raise ArtefactError(f"text bank {path} is unreadable ({type(error).__name__}); delete it and rebuild it with "
                            f"`snakemake --cores all {path}`") from None
    return TextBank(bank)
