"""Tokenizers: encode(images) -> tokens, decode(tokens) -> images, decode_soft(probs) -> images.

The text-aware TA-TiTok also takes the caption's text features: decode(tokens, text), decode_soft(probs, text)."""
from softdimo.tokenizers.lfq import LFQTokenizer
from softdimo.tokenizers.maskbit import MaskBitTokenizer
from softdimo.tokenizers.meissonic_vq import MeissonicVQ
from softdimo.tokenizers.tatitok import TATiTokVQ
from softdimo.tokenizers.vq import VQTokenizer
from softdimo.tokenizers.vqgan import TamingVQGAN

TOKENIZERS = {"tiny_lfq": LFQTokenizer, "tiny_vq": VQTokenizer, "maskbit_vqgan_plus": MaskBitTokenizer,
              "tatitok_vq": TATiTokVQ, "taming_vqgan": TamingVQGAN, "meissonic_vq": MeissonicVQ}


def build_tokenizer(arch: str, **kwargs):
    if arch not in TOKENIZERS:
        raise SystemExit(f"tokenizer arch {arch!r} is not built into this version; known: {sorted(TOKENIZERS)}")
    return TOKENIZERS[arch](**kwargs)
