"""Tokenizers: encode(images) -> tokens, decode(tokens) -> images, decode_soft(probs) -> images."""
from softdimo.tokenizers.lfq import LFQTokenizer
from softdimo.tokenizers.maskbit import MaskBitTokenizer
from softdimo.tokenizers.vq import VQTokenizer

TOKENIZERS = {"tiny_lfq": LFQTokenizer, "tiny_vq": VQTokenizer, "maskbit_vqgan_plus": MaskBitTokenizer}


def build_tokenizer(arch: str, **kwargs):
    if arch not in TOKENIZERS:
        raise SystemExit(f"tokenizer arch {arch!r} is not built into this version; known: {sorted(TOKENIZERS)}")
    return TOKENIZERS[arch](**kwargs)
