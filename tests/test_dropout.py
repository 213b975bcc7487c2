"""The tiny transformers' dropout: `torch` is torch's dropout exactly; `bits16` keeps each element with the
asked probability (to 2^-17), independently, scaled as torch scales, reproducibly from torch's seed."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

from softdimo.config import ConfigError, load_config
from softdimo.models.bit_transformer import Block
from softdimo.models.dropout import Dropout, bits16_keep_mask, dropout, dropout_draws, set_dropout_draws

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def draws():
    """Set the process-wide choice for one test and put torch's back after it."""
    yield set_dropout_draws
    set_dropout_draws("torch")


def test_torch_draws_are_torchs_dropout(draws):
    draws("torch")
    x = torch.randn(7, 33)
    torch.manual_seed(3)
    ours = Dropout(0.1)(x)
    torch.manual_seed(3)
    assert torch.equal(ours, nn.Dropout(0.1)(x))
    assert dropout(x, 0.1, training=False) is x and dropout(x, 0.0) is x


def test_block_with_torch_draws_computes_what_nn_dropout_computed(draws):
    """The block's state dict and numbers are those of the nn.Dropout version (the published tiny numbers)."""
    draws("torch")
    torch.manual_seed(0)
    block = Block(32, 4, 2.0, 0.1)
    reference = Block(32, 4, 2.0, 0.1)
    reference.mlp[2], reference.drop = nn.Dropout(0.1), nn.Dropout(0.1)
    reference.load_state_dict(block.state_dict())
    x = torch.randn(4, 9, 32)
    outs = []
    for module in (block, reference):
        torch.manual_seed(5)
        outs.append(module(x))
    assert torch.equal(*outs)


def test_bits16_keep_rate_scale_and_independence(draws):
    draws("bits16")
    torch.manual_seed(0)
    p, n = 0.1, 4_000_003  # not a multiple of four: the last 64-bit word is cut
    y = dropout(torch.ones(n), p)
    kept = y != 0
    torch_scale = F.dropout(torch.ones(64), p, True).max().item()
    assert torch.unique(y).tolist() == [0.0, torch_scale]  # kept values scaled exactly as torch scales them
    keep = round((1 - p) * 65536) / 65536
    sd = math.sqrt(keep * (1 - keep) / n)
    assert abs(kept.double().mean().item() - keep) < 5 * sd
    # each of the four 16-bit lanes of a draw keeps at the same rate (a lane with a fixed bit would not)
    lanes = kept[: n // 4 * 4].view(-1, 4).double().mean(0)
    assert (lanes - keep).abs().max().item() < 5 * math.sqrt(keep * (1 - keep) / (n // 4))
    # neighbours are independent: P(both kept) = keep^2
    both = (kept[:-1] & kept[1:]).double().mean().item()
    assert abs(both - keep**2) < 5 * math.sqrt(keep**2 * (1 - keep**2) / n)


@pytest.mark.parametrize("p", [1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
def test_bits16_mask_is_the_uniforms_below_the_rounded_keep_probability(p):
    """The same draws, read as unsigned 16-bit numbers in int32: kept where below round((1 - p) * 65536)."""
    torch.manual_seed(2)
    mask = bits16_keep_mask((5, 301), p)
    torch.manual_seed(2)
    words = torch.empty((5 * 301 + 3) // 4, dtype=torch.int64).random_(-2**63, None)
    unsigned = words.view(torch.int16)[: 5 * 301].view(5, 301).to(torch.int32) + 32768
    assert torch.equal(mask, unsigned < round((1 - p) * 65536))
    if p < 2**-17:
        assert mask.all()
    if p > 1 - 2**-17:
        assert not mask.any()


def test_bits16_is_seeded_and_differentiable(draws):
    draws("bits16")
    x = torch.randn(3, 5, 7, requires_grad=True)
    torch.manual_seed(11)
    a = dropout(x, 0.3)
    torch.manual_seed(11)
    b = dropout(x, 0.3)
    assert torch.equal(a, b)
    a.sum().backward()
    torch.manual_seed(11)
    expected = bits16_keep_mask(x.shape, 0.3).float() / 0.7
    assert torch.allclose(x.grad, expected)
    assert not torch.equal(a, F.dropout(x, 0.3, True))  # another random stream than torch's


def test_bits16_block_trains_and_differs_from_torch_draws(draws):
    torch.manual_seed(0)
    block, x = Block(32, 4, 2.0, 0.1), torch.randn(4, 9, 32)
    outs = {}
    for kind in ("torch", "bits16"):
        draws(kind)
        torch.manual_seed(5)
        outs[kind] = block(x)
        outs[kind].square().mean().backward()
    assert dropout_draws() == "bits16"
    assert not torch.equal(outs["torch"], outs["bits16"])
    block.eval()
    assert torch.equal(block(x), block(x))  # no dropout in evaluation, whatever the draws


def test_unknown_draws_rejected():
    with pytest.raises(ValueError, match="dropout_draws='philox'"):
        set_dropout_draws("philox")


def test_bits16_on_cuda_rejected_in_the_config(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg["dropout_draws"] = "bits16"
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="dropout_draws.*on cuda torch's dropout runs"):
        load_config(path)
    tiny = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert load_config(ROOT / "config" / "config.yaml").dropout_draws == tiny["dropout_draws"] == "torch"
    tiny["dropout_draws"] = "bits16"
    path.write_text(yaml.safe_dump(tiny))
    assert load_config(path).dropout_draws == "bits16"
