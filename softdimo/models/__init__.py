"""Masked models: the interface shared by teacher, student and auxiliary model.

    embed(tokens)               (B, L, S) long -> (B, L, D_in) input embeddings; masked groups embed as zeros
    soft_embed(probs)           (B, L, S, C) probabilities -> (B, L, D_in) expected embeddings (differentiable)
    forward_embeddings(e, cond) (B, L, D_in), (B,) -> (B, L, S, C) logits over group values (mask excluded)

S is the number of token groups per position (the bit splits of MaskBit; 1 for a VQ codebook), C the values
per group and `mask_id == C` the mask token. `null_class` is the condition used for the unguided branch
(a class index, or for text models the id of the empty prompt in the attached text bank).
"""
from softdimo.models.bit_transformer import MaskedBitTransformer
from softdimo.models.maskbit import MaskBitGenerator
from softdimo.models.maskgen import MaskGenVQ
from softdimo.models.maskgit import MaskGitTransformer
from softdimo.models.meissonic import MeissonicTransformer
from softdimo.models.text_transformer import TextMaskedTransformer
from softdimo.models.vq_transformer import MaskedVQTransformer

MODELS = {"tiny_bit_bert": MaskedBitTransformer, "tiny_text_mdm": TextMaskedTransformer,
          "maskbit_lfqbert": MaskBitGenerator, "maskgen_vq": MaskGenVQ,
          "maskgit_transformer": MaskGitTransformer, "meissonic": MeissonicTransformer,
          "tiny_vq_bert": MaskedVQTransformer}


def build_model(arch: str, **kwargs):
    if arch not in MODELS:
        raise SystemExit(f"masked model arch {arch!r} is not built into this version; known: {sorted(MODELS)}")
    return MODELS[arch](**kwargs)
