"""Bit tokens: a latent position is a ±1 vector of `bits` bits, factorised into `splits` groups (MaskBit).

Group j of a position is the integer whose binary digits are its bits (+1 -> 1), most significant first (the
tiny models) or least significant first (MaskBit's checkpoints: lsb_first=True), so
a group of b bits takes one of 2**b values. Expected bit vectors under a categorical distribution are what
soft embeddings feed to the masked model and to the tokenizer decoder.
"""
import torch


def _powers(b: int, lsb_first: bool, device=None) -> torch.Tensor:
    powers = 2 ** torch.arange(b, device=device)
    return powers if lsb_first else powers.flip(0)


def group_codebook(bits_per_split: int, device=None, lsb_first: bool = False) -> torch.Tensor:
    """(2**b, b) table of the ±1 bit vector of every group value."""
    values = torch.arange(2**bits_per_split, device=device)
    return ((values[:, None] // _powers(bits_per_split, lsb_first, device)) % 2).float() * 2 - 1


def bits_to_tokens(code: torch.Tensor, splits: int, lsb_first: bool = False) -> torch.Tensor:
    """(..., bits) ±1 (sign is taken) -> (..., splits) long group values."""
    b = code.shape[-1] // splits
    ones = (code > 0).long().reshape(*code.shape[:-1], splits, b)
    return (ones * _powers(b, lsb_first, code.device)).sum(-1)


def tokens_to_bits(tokens: torch.Tensor, bits_per_split: int, mask_id: int | None = None,
                   lsb_first: bool = False) -> torch.Tensor:
    """(..., splits) long -> (..., splits*b) ±1 float; groups equal to mask_id become all-zero bits."""
    table = group_codebook(bits_per_split, tokens.device, lsb_first)
    if mask_id is not None:
        table = torch.cat([table, table.new_zeros(1, bits_per_split)])
        assert mask_id == table.shape[0] - 1, "mask id must follow the last group value"
    out = table[tokens]
    return out.reshape(*tokens.shape[:-1], -1)


def expected_bits(probs: torch.Tensor, lsb_first: bool = False) -> torch.Tensor:
    """(..., splits, 2**b) probabilities -> (..., splits*b) expected ±1 bits (differentiable)."""
    b = probs.shape[-1].bit_length() - 1
    out = probs @ group_codebook(b, probs.device, lsb_first).to(probs.dtype)
    return out.reshape(*probs.shape[:-2], -1)
