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
