"""Meissonic's sampler (its pipeline's scheduler, per-image streams), the official Di[M]O re-masking
(cosine clamped to [0.02, 0.98], at least one token) and the paper preset's meissonic section."""
import importlib.util
import math

import pytest
import torch

from softdimo.config import load_config
from softdimo.tracks.meissonic.sampler import remask_count, sample_meissonic

# the modules need diffusers (pinned in pyproject.toml and the lock); the rest of this file does not
needs_diffusers = pytest.mark.skipif(importlib.util.find_spec("diffusers") is None, reason="diffusers not installed")


def test_remask_counts_follow_the_upstream_scheduler():
    masked = torch.tensor([[4096]])
    assert int(remask_count("cosine", 0, 32, 4096, masked)) == math.floor(4096 * math.cos(math.pi / 2 / 32))
    assert int(remask_count("linear", 15, 32, 4096, masked)) == 2048
    assert int(remask_count("cosine", 30, 32, 4096, torch.tensor([[5]]))) == 4  # at most #masked - 1
    assert int(remask_count("cosine", 30, 32, 4096, torch.tensor([[1]]))) == 1  # at least 1


def test_clamped_cosine_remasking_keeps_at_least_one_token():
    from softdimo.method.dimo import remask

    torch.manual_seed(0)  # the official Meissonic re-mask: cos ratio clamped to [0.02, 0.98], at least one token
    _, masked = remask(torch.zeros(256, 8, 1, dtype=torch.long), 99, "cosine", min_masked=1, mask_unit="position",
                       ratio_range=(0.02, 0.98))  # 0.02 x 8 rounds to 0
    assert masked.flatten(1).sum(1).min() >= 1 and masked.flatten(1).sum(1).max() <= 8


@needs_diffusers
def test_sampler_commits_every_token_and_each_image_has_its_own_stream():
    from softdimo.models import build_model
    from softdimo.sampling import ImageRngs
    from tests.test_meissonic_modules import SMALL, bank

    torch.manual_seed(0)
    model = build_model("meissonic", **SMALL).eval().attach_text(bank(24, 32, null_prompt="ugly, blurry"))
    kwargs = dict(steps=4, guidance_scale=9.0, schedule="cosine", temperature_start=2.0, temperature_end=0.0)
    both = sample_meissonic(model, torch.tensor([0, 1]), ImageRngs([5, 6]), **kwargs)
    alone = sample_meissonic(model, torch.tensor([1]), ImageRngs([6]), **kwargs)
    assert both.shape == (2, 64, 1) and both.max() < 32 and both.min() >= 0
    assert torch.equal(both[1], alone[0])
    other = sample_meissonic(model, torch.tensor([1]), ImageRngs([7]), **kwargs)
    assert not torch.equal(other[0], alone[0])


def test_paper_preset_holds_the_official_recipe(root):
    m = load_config(root / "config" / "paper.yaml").meissonic
    d, r = m.distill, m.recipe
    assert (d.r_init, d.sigma_init, d.teacher_cfg, d.divergence_beta, d.schedule) == (0.5, 0.3, 4.0, 0.0, "cosine")
    assert (d.ratio_range, d.min_masked, d.teacher_dropout) == ((0.02, 0.98), 1, False)
    assert (d.aux_label_smoothing, d.train.lr, d.train.warmup_steps, d.train.batch_size) == (0.1, 1e-6, 100, 2)
    assert (r.accumulation_steps, d.train.adam_eps, d.clip, r.gradient_checkpointing) == (8, 1e-6, "generator", True)
    assert m.teacher.kwargs["vocab_size"] == 8256 and m.sampling.steps == (32,)


def test_table2_has_meissonic_rows_beside_the_papers_numbers(tmp_path):
    import json

    from reports import table2_paper as tab

    files = []
    for method, steps, geneval in (("teacher", 16, 0.47), ("meissonic_teacher", 32, 0.45), ("dimo", 1, 0.41),
                                   ("meissonic_dimo_released", 1, 0.42), ("meissonic_dimo", 1, 0.40),
                                   ("meissonic_soft_dimo+n16_tteo4", 1, 0.55), ("meissonic_soft_dimo+n4_tteo0", 1, 0.5),
                                   ("soft_dimo+n16_tteo0", 1, 0.52)):
        g = tmp_path / f"{method}g.json"
        g.write_text(json.dumps({"overall": geneval}))
        out = tmp_path / f"{method}.json"
        tab.main(["merge", "--method", method, "--steps", str(steps), "--seed", "0", "--parts", f"geneval={g}",
                  "--out", str(out)])
        files.append(str(out))
    table, grid = tab.build(files, "config/reported.csv", "paper", "soft_dimo", 16, 4)
    rows = list(zip(table["teacher"], table["method"], table["steps"]))
    assert rows == [("MaskGen-L", "teacher", 16), ("MaskGen-L", "dimo", 1), ("MaskGen-L", "soft_dimo+bon", 1),
                    ("Meissonic", "teacher", 32), ("Meissonic", "dimo", 1), ("Meissonic", "dimo_released", 1),
                    ("Meissonic", "soft_dimo+bon_tteo", 1)]  # n4_tteo0 is a grid point of the figure only
    assert list(grid["method"]) == ["soft_dimo+n16_tteo0"]  # the figure stays MaskGen-L's
    by = {(t, m): r for t, m, r in zip(table["teacher"], table["method"], table.to_dict("records"))}
    assert by[("Meissonic", "teacher")]["reported_geneval"] == 0.46
    assert by[("Meissonic", "teacher")]["reported_coco_fid"] == 50.13
    assert by[("Meissonic", "dimo_released")]["reported_hps"] == 28.59
    assert by[("MaskGen-L", "dimo")]["reported_geneval"] == 0.42 and by[("Meissonic", "dimo")]["geneval_mean"] == 0.40
    assert "Meissonic: dimo_released" in tab.to_markdown(table)
