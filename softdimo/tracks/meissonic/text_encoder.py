"""Meissonic's text conditioning: transformers' CLIPTextModelWithProjection (the repository's `text_encoder/`,
a CLIP ViT-H/14 text tower) loaded strictly from local files, and the text bank of every prompt.

Meissonic reads the penultimate layer's token features (hidden_states[-2], 77 x 1024) as its sequence condition
and the projected pooled feature (text_embeds, 1024) as its global one. The bank stores both per distinct prompt
(softdimo/text_bank.py) and names its CFG branch: the negative prompt of the official recipe, or ''.
"""
from pathlib import Path

import torch

# transformers' CLIPTextConfig of the repository's text_encoder/config.json (hidden 1024, 24 layers, 16 heads,
# projection 1024: read from a same-size copy of that file, docs/meissonic.md; the download rule fetches the real one)
PAPER_TEXT_CONFIG = dict(vocab_size=49408, hidden_size=1024, intermediate_size=4096, projection_dim=1024,
                         num_hidden_layers=24, num_attention_heads=16, max_position_embeddings=77,
                         hidden_act="gelu", layer_norm_eps=1e-5)
# keys some writers store that are buffers, not weights, in newer transformers
NON_WEIGHTS = ("text_model.embeddings.position_ids",)


def build_text_encoder(config):
    """From a dict of CLIPTextConfig arguments or a CLIPTextConfig."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    return CLIPTextModelWithProjection(config if isinstance(config, CLIPTextConfig) else CLIPTextConfig(**config))


def load_text_encoder(folder):
    """(model, tokenizer) from a local copy of text_encoder/ (config.json, model.safetensors) and tokenizer/;
    every weight of the file must fill a parameter of the model and the other way round."""
    from safetensors.torch import load_file
    from transformers import CLIPTextConfig, CLIPTokenizer

    from softdimo.pretrained import require_file

    folder = Path(folder)
    model = build_text_encoder(CLIPTextConfig.from_json_file(str(require_file(folder / "text_encoder" / "config.json"))))
    state = load_file(str(require_file(folder / "text_encoder" / "model.safetensors")))
    own = set(model.state_dict())
    state = {k: v for k, v in state.items() if k in own or k not in NON_WEIGHTS}
    model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False), CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))


@torch.no_grad()
def encode_prompts(model, tokenizer, prompts: list[str], null_prompt: str, batch_size: int = 128) -> dict:
    """Bank dict of the distinct prompts plus the null prompt: tokens (penultimate layer), pooled (projected)."""
    prompts = list(dict.fromkeys(list(prompts) + [null_prompt]))
    device = next(model.parameters()).device
    tokens, pooled = [], []
    for start in range(0, len(prompts), batch_size):
        ids = tokenizer(prompts[start:start + batch_size], padding="max_length", max_length=77, truncation=True,
                        return_tensors="pt").input_ids.to(device)
        out = model(ids, output_hidden_states=True)
        tokens.append(out.hidden_states[-2].float().cpu())
        pooled.append(out.text_embeds.float().cpu())
    t = torch.cat(tokens)
    return {"prompts": prompts, "tokens": t, "mask": torch.ones(t.shape[:2], dtype=torch.bool),
            "pooled": torch.cat(pooled), "null_prompt": null_prompt}
