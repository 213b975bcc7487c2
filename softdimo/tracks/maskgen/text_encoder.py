"""MaskGen's text conditioning: OpenCLIP ViT-L-14-336 (OpenAI weights, from a local file) features per prompt.

MaskGen reads the penultimate block's token features (no final LayerNorm) as its sequence condition and the
projected pooled feature (final block, final LayerNorm, pooled at the end-of-text token) as its global
condition; TA-TiTok's decoder reads the final block's tokens after the final LayerNorm (`final`). Written as
a text bank (softdimo/text_bank.py) so models take prompt ids; '' is always included (the
unguided branch of classifier-free guidance).
"""
import torch


@torch.no_grad()
def encode_prompts(model, tokenizer, prompts: list[str], batch_size: int = 256, dtype=torch.float32) -> dict:
    """Token features (penultimate and final) stored in `dtype`, written batch by batch into preallocated tensors:
    a 150k-prompt bank in fp16 peaks at its own size (~35 GB), not at fp32 copies plus a concatenation."""
    from open_clip.transformer import text_global_pool

    prompts = list(dict.fromkeys(list(prompts) + [""]))
    tokens = final = None
    pooled_out = []
    for start in range(0, len(prompts), batch_size):
        ids = tokenizer(prompts[start:start + batch_size]).to(model.token_embedding.weight.device)
        x = model.token_embedding(ids) + model.positional_embedding
        for block in model.transformer.resblocks[:-1]:
            x = block(x, attn_mask=model.attn_mask)
        penultimate = x
        x = model.ln_final(model.transformer.resblocks[-1](x, attn_mask=model.attn_mask))
        if tokens is None:
            tokens = torch.empty((len(prompts), *x.shape[1:]), dtype=dtype)
            final = torch.empty_like(tokens)
        rows = slice(start, start + len(ids))
        final[rows] = x.float().cpu().to(dtype)  # fp32 first, then dtype: what converting the whole bank gave
        tokens[rows] = penultimate.float().cpu().to(dtype)
        pooled = text_global_pool(x, ids, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
        pooled = pooled[0] if isinstance(pooled, tuple) else pooled  # open_clip < 2.24 also returned the tokens
        proj = model.text_projection
        pooled_out.append((proj(pooled) if isinstance(proj, torch.nn.Linear) else pooled @ proj).float().cpu())
    return {"prompts": prompts, "tokens": tokens, "mask": torch.ones(tokens.shape[:2], dtype=torch.bool),
            "pooled": torch.cat(pooled_out), "final": final}


def load_text_encoder(weights, arch: str = "ViT-L-14-336"):
    """open_clip model and tokenizer from a local weight file (never the hub); weights=None: random (tests).
    OpenAI's CLIP weights were trained with QuickGELU, which open_clip turns on only for its own 'openai' tag,
    not for a file path: forced here, or every feature would be computed with the wrong activation."""
    import open_clip

    from softdimo.open_clip_archs import ensure
    from softdimo.pretrained import require_file

    model = open_clip.create_model(ensure(arch), pretrained=None if weights is None else str(require_file(weights)),
                                   force_quick_gelu=True)
    return model.eval().requires_grad_(False), open_clip.get_tokenizer(arch)
