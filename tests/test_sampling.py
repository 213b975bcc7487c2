"""The MaskGIT sampler: image i depends only on its seed, never on batch size or batch neighbours."""
import math

import pytest
import torch

from softdimo.sampling import ImageRngs, image_seeds, mask_ratio, sample_maskgit
from tests.test_models import tiny_model

SETTINGS = dict(schedule="arccos", cfg_scale=2.0, randomize_temperature=4.5, temperature=1.0)


def sample(model, seeds, labels, steps=4):
    return sample_maskgit(model, labels, ImageRngs(seeds), steps=steps, **SETTINGS)


def test_sample_does_not_depend_on_batch_size():
    model = tiny_model().eval()
    seeds = image_seeds(3, 7)
    labels = torch.arange(7) % 10
    full = sample(model, seeds, labels)
    one_by_one = torch.cat([sample(model, seeds[i:i + 1], labels[i:i + 1]) for i in range(7)])
    in_threes = torch.cat([sample(model, seeds[i:i + 3], labels[i:i + 3]) for i in range(0, 7, 3)])
    assert torch.equal(full, one_by_one) and torch.equal(full, in_threes)


def test_seeds_change_samples_and_no_mask_survives():
    model = tiny_model().eval()
    labels = torch.zeros(4, dtype=torch.long)
    a, b = sample(model, [0, 1, 2, 3], labels), sample(model, [4, 5, 6, 7], labels)
    assert not torch.equal(a, b)
    for steps in (1, 2, 16, 40):
        out = sample(model, [0, 1, 2, 3], labels, steps=steps)
        assert out.max() < model.mask_id


def test_image_seeds_are_disjoint_across_eval_seeds():
    assert not set(image_seeds(0, 1000)) & set(image_seeds(1, 1000))


@pytest.mark.parametrize("schedule", ["arccos", "cosine", "linear"])
def test_schedules_go_from_all_masked_to_none(schedule):
    assert mask_ratio(schedule, 0.0) == pytest.approx(1.0)
    assert mask_ratio(schedule, 1.0) == pytest.approx(0.0, abs=1e-12)
    values = [mask_ratio(schedule, p / 10) for p in range(11)]
    assert all(x >= y for x, y in zip(values, values[1:]))


def test_arccos_is_the_maskgit_formula():
    assert mask_ratio("arccos", 0.5) == pytest.approx(math.acos(0.5) / (math.pi / 2))


def test_maskbit_settings_unmask_groups_and_anneal_guidance():
    """MaskBit: each bit group unmasks on its own; the CFG weight ramps from 1 to cfg_scale (cosine_power)."""
    from softdimo.sampling import guidance_weight

    assert guidance_weight(8.1, "cosine_power", 3.0, 0, 64) == 1.0
    ramp = [guidance_weight(8.1, "cosine_power", 3.0, i, 64) for i in range(64)]
    assert all(a <= b for a, b in zip(ramp, ramp[1:])) and 7.5 < ramp[-1] < 8.1
    assert guidance_weight(2.0, "constant", 3.0, 0, 64) == 2.0

    model = tiny_model().eval()
    seeds, labels = image_seeds(5, 6), torch.arange(6) % 10
    group = dict(SETTINGS, cfg_scale=3.0, cfg_schedule="cosine_power", cfg_power=3.0, mask_unit="group")
    full = sample_maskgit(model, labels, ImageRngs(seeds), steps=6, **group)
    split = torch.cat([sample_maskgit(model, labels[i:i + 2], ImageRngs(seeds[i:i + 2]), steps=6, **group)
                       for i in range(0, 6, 2)])
    assert torch.equal(full, split) and full.max() < model.mask_id

    seen = []
    original = model.forward
    model.forward = lambda tokens, cond: (seen.append(tokens[:1].clone()), original(tokens, cond))[1]
    sample_maskgit(model, labels[:1], ImageRngs(seeds[:1]), steps=6, **group)
    half_masked = [(t == model.mask_id) for t in seen[1:]]
    # some position has one group unmasked and the other still masked: groups are separate units
    assert any((m[..., 0] != m[..., 1]).any() for m in half_masked)
