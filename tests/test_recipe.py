"""The recipe keys of the official Di[M]O scripts (issue 13): each one changes exactly what it names."""
import pytest
import torch

from softdimo.config import replace
from softdimo.io import atomic_torch_save
from softdimo.method.dimo import remask
from softdimo.sampling import GlobalRngs, initial_embeddings
from softdimo.stages import Phase, build_stage
from softdimo.train import lr_at, train
from tests.test_models import tiny_model


def masked_counts(masked):
    return masked.flatten(1).sum(1)


@pytest.mark.parametrize("unit", ["position", "group"])
def test_remask_counts_are_clamped_to_min_masked(unit):
    tokens = torch.zeros(2000, 16, 2, dtype=torch.long)
    torch.manual_seed(0)
    _, exact = remask(tokens, 8, "linear", min_masked=0, mask_unit=unit, ratio_range=(0.0, 1.0))
    torch.manual_seed(0)
    _, clamped = remask(tokens, 8, "linear", min_masked=1, mask_unit=unit, ratio_range=(0.0, 1.0))
    assert (masked_counts(exact) == 0).any()  # round(n * gamma) is 0 for gamma < 1 / 2n: about 1 row in 32
    assert (masked_counts(clamped) >= 1).all()
    differ = masked_counts(exact) != masked_counts(clamped)
    assert (masked_counts(exact)[differ] == 0).all()  # only the empty rows change


def test_remask_units_whole_positions_or_single_groups():
    tokens = torch.zeros(500, 16, 2, dtype=torch.long)
    torch.manual_seed(0)
    noisy, by_position = remask(tokens, 8, "arccos", min_masked=1, mask_unit="position",
                                ratio_range=(0.0, 1.0))
    assert torch.equal(by_position[..., 0], by_position[..., 1]) and torch.equal(noisy == 8, by_position)
    torch.manual_seed(0)
    noisy, by_group = remask(tokens, 8, "arccos", min_masked=1, mask_unit="group", ratio_range=(0.0, 1.0))
    assert not torch.equal(by_group[..., 0], by_group[..., 1]) and torch.equal(noisy == 8, by_group)
    # each row masks round(32 * gamma) of its 32 (position, group) pairs
    torch.manual_seed(0)
    from softdimo.sampling import random_ratios

    ratios = random_ratios(500, "arccos")
    assert torch.equal(masked_counts(by_group), (ratios * 32).round().long().clamp_min(1))


def test_student_input_r_init_zero_masks_one_unit_when_clamped():
    model = tiny_model()
    for min_masked, expected in ((0, 0), (1, 1)):
        e = initial_embeddings(model, GlobalRngs(3), r_init=0.0, sigma_init=0.0, min_masked=min_masked,
                               mask_unit="position")
        assert ((e.abs().sum(-1) == 0).sum(1) == expected).all()  # the mask token embeds to zero
    e = initial_embeddings(model, GlobalRngs(200), r_init=0.5, sigma_init=0.0, min_masked=1, mask_unit="group")
    # 16 positions x 2 groups of 3 bits: round(32 * 0.5) = 16 (position, group) pairs masked, 3 zero bits each
    assert ((e == 0).sum((1, 2)) == 16 * 3).all()
    groups_masked = (e.view(200, 16, 2, 3) == 0).all(-1)
    assert (groups_masked[..., 0] != groups_masked[..., 1]).any()  # some positions are masked in one group only


def train_cfg(**changes):
    from softdimo.config import TrainCfg

    base = dict(steps=1, batch_size=8, lr=0.1, warmup_steps=0, warmup_from="zero", weight_decay=0.0, beta1=0.9,
                beta2=0.999, adam_eps=1e-8, grad_clip=0.0, ema_decay=0.0, seed=0, log_every=1, ckpt_every=100)
    return TrainCfg(**{**base, **changes})


def test_warmup_from_zero_is_one_step_behind():
    cfg = train_cfg(lr=1.0, warmup_steps=4, warmup_from="zero")
    assert [lr_at(s, cfg) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    cfg = replace(cfg, warmup_from="one_step")
    assert [lr_at(s, cfg) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


class TwoPhaseStage:
    """Two linear regressions, one phase each; only the first asks to be clipped."""

    name = "two_phase"

    def __init__(self):
        self.phases = [Phase("generator", self.loss("g"), "g"), Phase("aux", self.loss("a"), "a", clip=False)]

    def build(self, device):
        self.modules = {"g": torch.nn.Linear(3, 1), "a": torch.nn.Linear(3, 1)}

    def next_batch(self, step):
        return torch.randn(8, 3)

    def loss(self, name):
        return lambda x, step: (1000 * self.modules[name](x).pow(2).mean(), {})


def test_only_phases_that_ask_are_clipped(tmp_path, monkeypatch):
    clipped = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm):
        params = list(params)
        clipped.append(params[0] is stage.modules["g"].weight)
        return real(params, max_norm)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    stage = TwoPhaseStage()
    train(stage, train_cfg(steps=3, grad_clip=1.0), tmp_path / "w", tmp_path / "c.csv")
    assert clipped == [True, True, True]


@pytest.fixture
def student_inputs(smoke_cfg, digits_split, tmp_path):
    """Untrained tokenizer and teacher artefacts of the smoke digits track: enough to build a student."""
    split = {"train": digits_split / "train.npz", "holdout": digits_split / "holdout.npz"}
    tokenizer = build_stage("digits.tokenizer", smoke_cfg, split)
    tokenizer.build("cpu")
    atomic_torch_save(tokenizer.export(), tmp_path / "tokenizer.pt")
    teacher = build_stage("digits.teacher", smoke_cfg, {**split, "tokenizer": tmp_path / "tokenizer.pt"})
    teacher.build("cpu")
    atomic_torch_save(teacher.export(), tmp_path / "teacher.pt")
    return {**split, "tokenizer": tmp_path / "tokenizer.pt", "teacher": tmp_path / "teacher.pt"}


@pytest.mark.parametrize("official", [True, False])
def test_student_stage_follows_the_recipe_keys(smoke_cfg, student_inputs, official):
    d = replace(smoke_cfg.c2i.distill, teacher_dropout=official, freeze_output=official,
                clip="generator" if official else "all", aux_fresh_labels=official)
    cfg = replace(smoke_cfg, c2i=replace(smoke_cfg.c2i, distill=d))
    stage = build_stage("digits.student:soft_dimo_gan:0" if "soft_dimo_gan" in cfg.c2i.students else
                        "digits.student:dimo:0", cfg, student_inputs)
    stage.build("cpu")
    assert stage.teacher.training == official
    head_frozen = {name: not p.requires_grad for name, p in stage.modules["student"].named_parameters()}
    assert head_frozen["head.weight"] == official and head_frozen["head.bias"]
    assert [p.clip for p in stage.phases] == [True] + [not official] * (len(stage.phases) - 1)
    drawn = []
    real = stage.draw_labels
    stage.draw_labels = lambda b: drawn.append(b) or real(b)
    batch = stage.next_batch(0)
    stage.aux_loss(batch, 0)
    assert len(drawn) == (2 if official else 1)


def test_ratio_range_clamps_the_remask_ratio():
    tokens = torch.zeros(4000, 256, 1, dtype=torch.long)
    torch.manual_seed(0)
    _, free = remask(tokens, 9, "cosine", min_masked=1, mask_unit="position", ratio_range=(0.0, 1.0))
    torch.manual_seed(0)
    _, clamped = remask(tokens, 9, "cosine", min_masked=1, mask_unit="position", ratio_range=(0.02, 0.98))
    free, clamped = masked_counts(free), masked_counts(clamped)
    assert free.max() == 256 and free.min() < 5  # cos(pi u / 2) reaches both ends
    assert clamped.min() == round(256 * 0.02) and clamped.max() == round(256 * 0.98)
    inside = (free >= 6) & (free <= 250)
    assert torch.equal(free[inside], clamped[inside])


def test_recipe_table_and_figure(tmp_path):
    """reports.recipe: the final eval_fid of each curve, per variant and student over seeds, the difference to the
    official students with scipy's Welch test, the changed keys named; and the figure drawn from it."""
    import numpy as np
    from scipy import stats

    from reports import recipe

    fids = {("official", "dimo"): [120.0, 130.0, 110.0], ("worse", "dimo"): [200.0, 220.0, 215.0],
            ("official", "soft_dimo"): [100.0, 105.0, 98.0], ("worse", "soft_dimo"): [101.0, 99.0, 104.0]}
    args = []
    for (variant, student), values in fids.items():
        for seed, fid in enumerate(values):
            path = tmp_path / f"{variant}_{student}_{seed}.csv"
            # the last row with an eval_fid counts, not a later row without one
            path.write_text(f"step,eval_fid,loss\n10,999,1\n20,{fid},1\n25,,1\n")
            args.append(f"{variant}/{student}/{seed}={path}")
    variants = tmp_path / "ablation.yaml"
    variants.write_text("students: [dimo, soft_dimo]\nvariants:\n  worse:\n    c2i.distill.mask_unit: group\n")
    out, figure = tmp_path / "recipe.csv", tmp_path / "recipe.png"
    recipe.main(["--curves", *args, "--variants", str(variants), "--out", str(out), "--figure", str(figure)])
    import pandas as pd

    table = pd.read_csv(out)
    assert list(zip(table["variant"], table["student"])) == [("official", "dimo"), ("worse", "dimo"),
                                                              ("official", "soft_dimo"), ("worse", "soft_dimo")]
    for _, row in table[table["variant"] == "worse"].iterrows():
        a, b = fids[("worse", row["student"])], fids[("official", row["student"])]
        assert row["fid_mean"] == pytest.approx(np.mean(a), rel=1e-3)
        assert row["diff_vs_official"] == pytest.approx(np.mean(a) - np.mean(b), rel=1e-3)
        assert row["welch_p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-3)
        assert row["changed"] == "c2i.distill.mask_unit=group"
    assert table["welch_p"].iloc[1] < 0.05 < table["welch_p"].iloc[3]
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
