"""Bit tokens: a latent position is a ±1 vector of `bits` bits, factorised into `splits` groups (MaskBit).

Group j of a position is the integer whose binary digits are its bits (+1 -> 1), most significant first, so
a group of b bits takes one of 2**b values. Expected bit vectors under a categorical distribution are what
soft embeddings feed to the masked model and to the tokenizer decoder.
"""
import torch


def group_codebook(bits_per_split: int, device=None) -> torch.Tensor:
    """(2**b, b) table of the ±1 bit vector of every group value."""
    values = torch.arange(2**bits_per_split, device=device)
    powers = 2 ** torch.arange(bits_per_split - 1, -1, -1, device=device)
    return ((values[:, None] // powers) % 2).float() * 2 - 1


def bits_to_tokens(code: torch.Tensor, splits: int) -> torch.Tensor:
    """(..., bits) ±1 (sign is taken) -> (..., splits) long group values."""
    b = code.shape[-1] // splits
    ones = (code > 0).long().reshape(*code.shape[:-1], splits, b)
    powers = 2 ** torch.arange(b - 1, -1, -1, device=code.device)
    return (ones * powers).sum(-1)


def tokens_to_bits(tokens: torch.Tensor, bits_per_split: int, mask_id: int | None = None) -> torch.Tensor:
    """(..., splits) long -> (..., splits*b) ±1 float; groups equal to mask_id become all-zero bits."""
    table = group_codebook(bits_per_split, tokens.device)
    if mask_id is not None:
        table = torch.cat([table, table.new_zeros(1, bits_per_split)])
        assert mask_id == table.shape[0] - 1, "mask id must follow the last group value"
    out = table[tokens]
    return out.reshape(*tokens.shape[:-1], -1)


def expected_bits(probs: torch.Tensor) -> torch.Tensor:
    """(..., splits, 2**b) probabilities -> (..., splits*b) expected ±1 bits (differentiable)."""
    b = probs.shape[-1].bit_length() - 1
    out = probs @ group_codebook(b, probs.device).to(probs.dtype)
    return out.reshape(*probs.shape[:-2], -1)
