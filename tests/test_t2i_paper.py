"""Paper-scale text-to-image pipeline pieces on small random MaskGen / TA-TiTok / OpenCLIP modules (CPU)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from evaluation.prompt_sets import HPS_STYLES, prompt_set
from softdimo.method.reward import CompositeReward
from softdimo.tracks.maskgen import pipeline
from softdimo.config import ConfigError, from_dict
from softdimo.text_bank import TextBank

SMALL_TEACHER = dict(seq_len=16, codebook_size=32, num_classes=1000, text_dim=512, dim=32, depth=2, heads=2,
                     micro_condition_dim=8, aesthetic_score=6.5)
SMALL_TOKENIZER = dict(image_size=32, patch_size=8, encoder_size="small", decoder_size="small", num_latent_tokens=16,
                       codebook_size=32, code_dim=8, text_dim=512, text_length=77)


def small_config(tmp_path, **changes):
    raw = yaml.safe_load(open("config/paper.yaml"))
    raw["device"], raw["precision"], raw["torch_threads"] = "cpu", "fp32", 1
    raw["t2i_paper"]["teacher"]["kwargs"] = dict(SMALL_TEACHER)
    raw["t2i_paper"]["tokenizer"]["kwargs"] = dict(SMALL_TOKENIZER)
    raw["t2i_paper"]["gan"]["layers"] = [1]  # the small teacher has 2 blocks
    for path, value in changes.items():
        *parents, key = path.split(".")
        node = raw
        for p in parents:
            node = node[p]
        node[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return raw, path


def test_paper_config_checks_the_official_constructor_arguments(tmp_path):
    raw, _ = small_config(tmp_path)
    cfg = from_dict(raw)
    assert cfg.t2i_paper.sampling.guidance_decay == "cosine" and cfg.t2i_paper.rewards.hps == 0.01
    bad = json.loads(json.dumps(raw))
    bad["t2i_paper"]["teacher"]["kwargs"]["depht"] = 3
    with pytest.raises(ConfigError, match=r"t2i_paper.teacher.kwargs.*unknown \['depht'\]"):
        from_dict(bad)
    bad = json.loads(json.dumps(raw))
    del bad["t2i_paper"]["tokenizer"]["kwargs"]["code_dim"]
    with pytest.raises(ConfigError, match=r"missing \['code_dim'\]"):
        from_dict(bad)
    bad = json.loads(json.dumps(raw))
    bad["t2i_paper"]["rewards"] = {"clip": 0.0, "hps": 0.0}
    with pytest.raises(ConfigError, match="t2i_paper.rewards"):
        from_dict(bad)
    bad = json.loads(json.dumps(raw))
    bad["t2i_paper"]["test_time"]["student"] = "nobody"
    with pytest.raises(ConfigError, match="t2i_paper.test_time.student"):
        from_dict(bad)
    # Table 2's CLIP score: the activation its weights need, and the official model and image path in the paper preset
    bad = json.loads(json.dumps(raw))
    bad["t2i_paper"]["eval"]["clip_score"]["quick_gelu"] = True
    with pytest.raises(ConfigError, match=r"t2i_paper.eval.clip_score.quick_gelu.*ViT-g-14's weights need"):
        from_dict(bad)
    bad["t2i_paper"]["eval"]["clip_score"].update(arch="ViT-B-32", images="tensor_bicubic")  # valid, not official
    with pytest.raises(ConfigError, match=r"t2i_paper.eval.clip_score.*ViT-g-14, images gigagan_pil"):
        from_dict(bad)


def test_prompt_sets(tmp_path):
    meta = [{"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "a photo of a cat"},
            {"tag": "counting", "include": [{"class": "dog", "count": 2}], "prompt": "a photo of two dogs"}]
    (tmp_path / "evaluation_metadata.jsonl").write_text("\n".join(json.dumps(m) for m in meta) + "\n")
    g = prompt_set("geneval", tmp_path / "evaluation_metadata.jsonl")
    assert g["prompts"] == ["a photo of a cat", "a photo of two dogs"] and g["metadata"][1]["tag"] == "counting"
    hps = tmp_path / "benchmark"
    hps.mkdir()
    for k, style in enumerate(HPS_STYLES):
        (hps / f"{style}.json").write_text(json.dumps([f"{style} prompt {i}" for i in range(k + 1)]))
    h = prompt_set("hps", hps)
    assert len(h["prompts"]) == 10 and h["styles"][:3] == ["anime", "concept-art", "concept-art"]
    (tmp_path / "captions.csv").write_text("image_id,text\n42,a bus\n7,a cat on a mat\n")
    c = prompt_set("coco", tmp_path / "captions.csv")
    assert c["prompts"] == ["a bus", "a cat on a mat"] and c["image_ids"] == [42, 7]
    (tmp_path / "train.txt").write_text("one\n\ntwo\nthree\n")
    assert prompt_set("train", tmp_path / "train.txt", 2)["prompts"] == ["one", "two"]
    with pytest.raises(SystemExit, match="holds 3 prompts"):
        prompt_set("train", tmp_path / "train.txt", 5)


@pytest.fixture(scope="module")
def paper_files(tmp_path_factory, tiny_clip_arch):
    """Small random stand-ins for every file of the paper track, converted through the CLI."""
    import open_clip

    from softdimo.models import build_model
    from softdimo.pretrained import record_path, sha256_of
    from softdimo.tokenizers import build_tokenizer

    tmp = tmp_path_factory.mktemp("paper_t2i")
    torch.manual_seed(0)
    _, cfg_path = small_config(tmp, **{
        "t2i_paper.distill.eval_samples": 4, "t2i_paper.distill.train.log_every": 1,
        "t2i_paper.students.dimo.steps": 2, "t2i_paper.students.soft_dimo.steps": 2,
        "t2i_paper.distill.train.batch_size": 2, "t2i_paper.test_time.best_of_n": [1, 2],
        "t2i_paper.test_time.tteo_iters": [0, 1], "t2i_paper.test_time.table_n": 2,
        "t2i_paper.test_time.table_tteo_iters": 1, "t2i_paper.rewards.hps": 0.0,  # one scorer in the reward: CPU time
        "t2i_paper.gan_data.n_pairs": 3, "t2i_paper.gan_data.batch_size": 2,
        "t2i_paper.students.gan_only.steps": 2, "t2i_paper.students.gan_only.init": "teacher"})
    f = {"config": cfg_path}
    for name, prompts in (("train", ["a red cube", "two dogs", "a blue ball"]), ("geneval", ["a cat", "a red cube"])):
        f[name] = tmp / f"{name}.json"
        f[name].write_text(json.dumps({"set": name, "prompts": prompts}))
    encoder = tmp / "encoder.bin"  # MaskGen's is ViT-L-14-336; ViT-B-32 keeps the test small
    torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), encoder)
    bank = pipeline.make_text_bank(["a red cube", "two dogs", "a blue ball", "a cat", "a red cube"], encoder,
                                    "ViT-B-32")
    assert bank["prompts"][-1] == "" and len(bank["prompts"]) == 5 and bank["tokens"].dtype == torch.float16
    f["bank"] = tmp / "bank.pt"
    torch.save(bank, f["bank"])
    f["clip"] = tmp / "clip.bin"
    torch.save(open_clip.create_model(tiny_clip_arch, pretrained=None).state_dict(), f["clip"])
    f["hps"] = tmp / "hps.pt"
    torch.save({"state_dict": open_clip.create_model(tiny_clip_arch, pretrained=None).state_dict()}, f["hps"])
    for kind, module in (("teacher", build_model("maskgen_vq", **SMALL_TEACHER)),
                         ("tokenizer", build_tokenizer("tatitok_vq", **SMALL_TOKENIZER))):
        official = tmp / f"{kind}_official.bin"
        torch.save(module.state_dict(), official)
        record_path(official).write_text(json.dumps({"source": "test", "sha256": sha256_of(official)}))
        f[kind] = tmp / f"{kind}.pt"
        pipeline.main(["convert", "--kind", kind, "--config", str(cfg_path), "--official", str(official),
                        "--out", str(f[kind])])
    return tmp, f


def test_bank_rows_convert_and_sample_cli(paper_files):
    import copy

    from softdimo.checkpoints import load_artefact

    tmp, f = paper_files
    bank = TextBank(torch.load(f["bank"], weights_only=False))
    assert pipeline.bank_ids(bank, ["two dogs", "a red cube"]).tolist() == [1, 0]
    # a paper bank stays on the host, is shared by model copies and is no buffer (no EMA / broadcast / save)
    teacher, _ = load_artefact(f["teacher"], "teacher")
    teacher.attach_text(bank)
    twin = copy.deepcopy(teacher)
    assert twin.text is bank and bank.on_host and not any(b is bank.tokens for b in teacher.buffers())
    assert "text.tokens" not in teacher.state_dict()
    tokens, _, pooled = bank(torch.tensor([1]))
    assert tokens.dtype == torch.float32 and tokens.shape == (1, 77, 512) and pooled.shape == (1, 512)
    assert not torch.allclose(bank.final_tokens(torch.tensor([1])), tokens)  # TA-TiTok reads other features
    tokenizer, _ = load_artefact(f["tokenizer"], "tokenizer")
    scoring = pipeline.PaperScoring(tokenizer, None, bank)
    codes, ids = torch.randint(0, 32, (2, 16, 1)), torch.tensor([0, 1])
    assert torch.equal(scoring.decode(codes, ids), tokenizer.decode(codes, bank.final_tokens(ids)))
    with pytest.raises(ValueError, match="not in the text bank"):
        pipeline.bank_ids(bank, ["a horse"])
    student = dict(torch.load(f["teacher"], weights_only=False), kind="student", student={"r_init": 0.5},
                   method="dimo")
    torch.save(student, tmp / "student.pt")
    common = ["sample", "--config", str(f["config"]), "--teacher", str(f["teacher"]), "--tokenizer",
              str(f["tokenizer"]), "--text-bank", str(f["bank"]), "--prompts", str(f["geneval"]),
              "--per-prompt", "2", "--seed", "3"]
    teacher_row, student_row = ["--method", "teacher"], ["--method", "dimo"]
    pipeline.main(common + teacher_row + ["--steps", "2", "--batch-size", "4", "--out", str(tmp / "t.npz")])
    pipeline.main(common + teacher_row + ["--steps", "2", "--batch-size", "1", "--out", str(tmp / "t1.npz")])
    pipeline.main(common + student_row + ["--student", str(tmp / "student.pt"), "--out", str(tmp / "s.npz")])
    with np.load(tmp / "t.npz") as a, np.load(tmp / "t1.npz") as b, np.load(tmp / "s.npz") as s:
        assert a["arr_0"].shape == (4, 32, 32, 3) and a["arr_0"].dtype == np.uint8
        # batch size changes no token and no image beyond float rounding: batched matmuls may round differently,
        # which can move a decoded value across a uint8 level (1 of 12,288 values with these weights)
        diff = np.abs(a["arr_0"].astype(int) - b["arr_0"].astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
        assert a["prompt_rows"].tolist() == [0, 0, 1, 1] and s["arr_0"].shape == (4, 32, 32, 3)
        assert not np.array_equal(a["arr_0"][0], a["arr_0"][1])  # same prompt, own seed
    meta = json.loads((tmp / "s.json").read_text())
    assert meta["what"] == "student" and meta["n_images"] == 4 and meta["images_per_s"] > 0
    assert meta["method"] == "dimo" and meta["prompt_set"] == "geneval" and meta["seed"] == 3 and meta["steps"] == 1


def test_paper_evaluators_refuse_samples_of_another_row(tmp_path):
    """Issue 17 class 3 on the paper text-to-image track: the GenEval layout, HPS and COCO evaluators check the
    samples' sidecar (sha256 and what the rule's path names) before loading anything else."""
    from evaluation import coco, geneval_official, hps_benchmark
    from softdimo.errors import ArtefactError
    from softdimo.io import write_samples

    path = tmp_path / "seed0.npz"
    write_samples(path, {"method": "dimo", "prompt_set": "hps", "seed": 0, "steps": 1},
                  arr_0=np.zeros((2, 8, 8, 3), np.uint8))
    missing = ["--prompts", "absent.json", "--weights", "absent.pt", "--out", str(tmp_path / "o.json")]
    with pytest.raises(ArtefactError, match=r"made for method='dimo', but this job expects method='soft_dimo'"):
        hps_benchmark.main(["--samples", str(path), *missing, "--expect", "method=soft_dimo"])
    with pytest.raises(ArtefactError, match=r"made for seed=0, but this job expects seed='1'"):
        coco.main(["--samples", str(path), "--captions", "c", "--stats", "s", "--inception", "i", "--clip", "c",
                   "--clip-arch", "ViT-g-14", "--clip-quick-gelu", "false", "--clip-images", "gigagan_pil",
                   "--out", str(tmp_path / "o.json"), "--expect", "method=dimo", "--expect", "seed=1"])
    with pytest.raises(ArtefactError, match="made for prompt_set='hps'"):
        geneval_official.main(["layout", "--samples", str(path), "--metadata", "m", "--images-per-prompt", "1",
                               "--out", str(tmp_path / "g"), "--expect", "prompt_set=geneval"])
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])  # changed after it was written
    with pytest.raises(ArtefactError, match="but its sidecar"):
        hps_benchmark.main(["--samples", str(path), *missing, "--expect", "method=dimo"])


def test_paper_student_stage_and_test_time_grid(paper_files, tiny_scorers):
    from softdimo import train

    tmp, f = paper_files
    inputs = ["--input", f"teacher={f['teacher']}", "--input", f"tokenizer={f['tokenizer']}",
              "--input", f"text_bank={f['bank']}", "--input", f"clip={f['clip']}", "--input", f"hps={f['hps']}",
              "--input", f"train_prompts={f['train']}", "--input", f"eval_prompts={f['geneval']}"]
    for name, init in (("dimo", []), ("soft_dimo", ["--input", f"init={tmp / 'dimo.pt'}"])):
        train.main(["--config", str(f["config"]), "--stage", f"maskgen.student:{name}:0", *inputs, *init,
                    "--out", str(tmp / f"{name}.pt"), "--workdir", str(tmp / f"ckpt_{name}"),
                    "--curve", str(tmp / f"{name}.csv")])
    curve = (tmp / "soft_dimo.csv").read_text().splitlines()
    header = curve[0].split(",")
    assert {"generator_reward", "generator_dimo", "eval_clip", "eval_hps"} <= set(header), header
    soft = torch.load(tmp / "soft_dimo.pt", weights_only=False)
    assert soft["kind"] == "student" and soft["total_steps"] == 4 and soft["method"] == "soft_dimo"
    dimo = torch.load(tmp / "dimo.pt", weights_only=False)
    assert any(not torch.equal(soft["state_dict"][k], v) for k, v in dimo["state_dict"].items())

    out = tmp / "tt"
    pipeline.main(["test-time", "--config", str(f["config"]), "--teacher", str(f["teacher"]), "--tokenizer",
                    str(f["tokenizer"]), "--text-bank", str(f["bank"]), "--prompts", str(f["geneval"]),
                    "--student", str(tmp / "soft_dimo.pt"), "--clip", str(f["clip"]), "--hps", str(f["hps"]),
                    "--per-prompt", "1", "--seed", "0", "--method", "soft_dimo", "--out-dir", str(out)])
    grid = json.loads((out / "grid.json").read_text())
    assert grid["grid"] == [[1, 0], [1, 1], [2, 0], [2, 1]] and grid["rewards"] == {"clip": 1.0, "hps": 0.0}
    from softdimo.io import check_samples  # each file's sidecar names the row the tables give it

    assert check_samples(out / "n2_tteo1.npz", {"method": "soft_dimo+n2_tteo1", "seed": 0, "steps": 1,
                                                 "prompt_set": "geneval"})["best_of_n"] == 2
    with np.load(out / "n1_tteo0.npz") as one, np.load(out / "n2_tteo0.npz") as two:
        assert one["arr_0"].shape == (2, 32, 32, 3) and two["arr_0"].shape == (2, 32, 32, 3)


def test_paper_gan_student_reads_tokenised_pairs_with_their_captions(paper_files, tiny_scorers):
    """The GAN's real data on MaskGen-L: the user's CSV of image-caption pairs, ADM-cropped and tokenised by
    TA-TiTok (an image's tokens do not depend on its batch), captions as bank rows; then a GAN-only student
    trains its discriminator on them, and a bad CSV stops naming what is wrong."""
    from PIL import Image

    from softdimo import train
    from softdimo.checkpoints import load_artefact
    from softdimo.images import center_crop_adm
    from softdimo.tracks.maskgen import real_pairs

    tmp, f = paper_files
    pairs_dir = tmp / "pairs"
    pairs_dir.mkdir()
    rng = np.random.default_rng(0)
    captions = ["two dogs", "a cat", "a red cube"]
    for i, (h, w) in enumerate([(40, 70), (96, 64), (32, 32)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(pairs_dir / f"{i}.png")
    csv_path = pairs_dir / "pairs.csv"
    # as a spreadsheet saves it: a byte-order mark before the header
    csv_path.write_text("\ufeffimage,caption\n" + "".join(f"{i}.png,{c}\n" for i, c in enumerate(captions)))
    out, caps = tmp / "gan_real" / "tokens.npz", tmp / "gan_real" / "captions.json"
    real_pairs.main(["--config", str(f["config"]), "--tokenizer", str(f["tokenizer"]), "--pairs", str(csv_path),
                     "--out", str(out), "--prompts-out", str(caps)])
    tokenizer, _ = load_artefact(f["tokenizer"], "tokenizer")
    with np.load(out) as t:
        tokens = t["tokens"]
    assert tokens.shape == (3, 16, 1) and tokens.dtype == np.int16
    for i in range(3):  # batch 2 in the job; each image alone here
        with Image.open(pairs_dir / f"{i}.png") as image:
            alone = tokenizer.encode(torch.from_numpy(center_crop_adm(image, 32).copy())[None])
        assert np.array_equal(tokens[i], alone[0].numpy())
    assert json.loads(caps.read_text()) == {"set": "gan_real", "prompts": captions}

    bad = {"columns": ("file,caption\n0.png,a cat\n", "missing image"),
           "rows": ("image,caption\n0.png,a cat\n", "holds 1 pairs; t2i_paper.gan_data.n_pairs asks for 3"),
           "image": ("image,caption\n0.png,a cat\n9.png,a cat\n1.png,a cat\n", r"data row 2: image .*9.png"),
           "short": ("image,caption\n0.png,a cat\n1.png\n2.png,a cat\n", "data row 2: needs both an image and a caption")}
    for name, (text, message) in bad.items():
        (pairs_dir / f"{name}.csv").write_text(text)
        with pytest.raises(SystemExit, match=message):
            real_pairs.read_pairs(pairs_dir / f"{name}.csv", 3)

    inputs = ["--input", f"teacher={f['teacher']}", "--input", f"tokenizer={f['tokenizer']}",
              "--input", f"text_bank={f['bank']}", "--input", f"clip={f['clip']}", "--input", f"hps={f['hps']}",
              "--input", f"train_prompts={f['train']}", "--input", f"eval_prompts={f['geneval']}",
              "--input", f"real_tokens={out}", "--input", f"real_prompts={caps}"]
    train.main(["--config", str(f["config"]), "--stage", "maskgen.student:gan_only:0", *inputs,
                "--out", str(tmp / "gan_only.pt"), "--workdir", str(tmp / "ckpt_gan_only"),
                "--curve", str(tmp / "gan_only.csv")])
    header = (tmp / "gan_only.csv").read_text().splitlines()[0].split(",")
    assert {"generator_gan", "disc_bce", "disc_real_minus_fake"} <= set(header) and "generator_dimo" not in header
    student = torch.load(tmp / "gan_only.pt", weights_only=False)
    assert student["disc_state_dict"] and student["method"] == "gan_only"


def test_gan_masks_embedding_models_with_their_mask_row():
    """MaskGen-L and MaskGit mask the discriminator's inputs with their mask token's embedding; a model with an
    embedding table but no mask_embedding() is refused rather than masked with zeros."""
    from softdimo.method.student import StudentStage
    from softdimo.models import build_model

    teacher = build_model("maskgen_vq", **SMALL_TEACHER)
    mask = torch.full((1, 1, 1), teacher.mask_id)
    assert torch.equal(teacher.mask_embedding(), teacher.embed(mask)[0, 0])
    maskgit = build_model("maskgit_transformer", image_tokens=4, codebook_size=8, num_classes=3, dim=8, depth=1,
                          heads=2, mlp_dim=16, dropout=0.0)
    assert torch.equal(maskgit.mask_embedding(), maskgit.embed(torch.full((1, 1, 1), 8))[0, 0])
    stage = StudentStage.__new__(StudentStage)
    stage.teacher = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="needs mask_embedding"):
        stage.mask_embedding()


def test_composite_reward_weights_cache_and_gradients(tmp_path, tiny_scorers):
    from evaluation.clip_scorers import clip_score_model

    torch.manual_seed(0)
    clip = clip_score_model(None)
    prompts = ["a red cube", "two dogs", ""]
    reward = CompositeReward({"clip": clip}, {"clip": 2.0, "hps": 0.0}, prompts)
    assert list(reward.scorers) == ["clip"]  # a zero weight loads nothing
    images = (torch.rand(3, 3, 64, 64) * 2 - 1).requires_grad_(True)
    ids = torch.tensor([1, 0, 1])
    r = reward(images, ids)
    expected = 2.0 * clip(images, clip.encode_text(["two dogs", "a red cube", "two dogs"]))
    assert torch.allclose(r, expected, atol=1e-5) and sorted(reward._text["clip"]) == [0, 1]
    r.sum().backward()
    assert images.grad.abs().sum() > 0
    with torch.no_grad():
        assert torch.allclose(reward(images[2:], ids[2:]), r[2:], atol=1e-5)


def test_hps_benchmark_summary():
    from evaluation.hps_benchmark import summarize

    styles = [s for s in HPS_STYLES for _ in range(20)]
    scores = np.concatenate([np.full(20, 25.0), np.full(20, 27.0), np.linspace(26, 30, 20), np.full(20, 29.0)])
    out = summarize(scores, styles)
    assert out["anime"] == {"hps": 25.0, "chunk_std": 0.0, "n": 20}
    assert out["paintings"]["hps"] == pytest.approx(28.0) and out["paintings"]["chunk_std"] > 0
    assert out["average"] == pytest.approx((25 + 27 + 28 + 29) / 4)


def test_paper_table2_rows_reported_numbers_and_figures(tmp_path):
    from reports import table2_paper as tab
    from evaluation.geneval import TASKS

    def metrics(method, steps, seed, geneval, hps=None, coco=None):
        parts = {"geneval": tmp_path / f"{method}{steps}{seed}g.json"}
        parts["geneval"].write_text(json.dumps({"overall": geneval, **{t: geneval for t in TASKS}}))
        if hps is not None:
            parts["hps"] = tmp_path / f"{method}{steps}{seed}h.json"
            parts["hps"].write_text(json.dumps({"average": hps, **{s: {"hps": hps} for s in HPS_STYLES}}))
        if coco is not None:
            parts["coco"] = tmp_path / f"{method}{steps}{seed}c.json"
            parts["coco"].write_text(json.dumps({"coco_fid": coco, "clip_score": 0.31}))
            parts["sampling"] = tmp_path / f"{method}{steps}{seed}s.json"
            parts["sampling"].write_text(json.dumps({"images_per_s": 70.0}))
        out = tmp_path / f"m_{method}_{steps}_{seed}.json"
        tab.main(["merge", "--method", method, "--steps", str(steps), "--seed", str(seed), "--parts",
                  *[f"{k}={v}" for k, v in parts.items()], "--out", str(out)])
        return str(out)

    files = [metrics("teacher", 16, 0, 0.50, 27.0, 22.0), metrics("teacher", 16, 1, 0.46, 27.4, 23.0),
             metrics("soft_dimo", 1, 0, 0.49, 29.0, 23.5), metrics("dimo", 1, 0, 0.40, 27.1, 24.0)]
    for n in (1, 4):
        for k in (0, 2):
            row = (n, k) in {(1, 2), (4, 0), (4, 2)}
            files.append(metrics(f"soft_dimo+n{n}_tteo{k}", 1, 0, 0.5 + 0.02 * n + 0.01 * k, 30.0 if row else None))
    out = {name: tmp_path / name for name in ("t.csv", "t.md", "bon.png", "curves.png")}
    curve = tmp_path / "students" / "soft_dimo" / "seed0" / "curve.csv"
    curve.parent.mkdir(parents=True)
    curve.write_text("step,total_step,eval_clip,eval_hps\n0,0,0.30,27.0\n10,10,0.31,28.0\n")
    tab.main(["table", "--metrics", *files, "--reported", "config/reported.csv", "--preset", "paper", "--tt-student",
              "soft_dimo", "--table-n", "4", "--table-tteo", "2", "--curves", str(curve), "--out-csv", str(out["t.csv"]),
              "--out-md", str(out["t.md"]), "--out-bon", str(out["bon.png"]), "--out-curves", str(out["curves.png"])])
    table = pd.read_csv(out["t.csv"])
    assert list(table["method"]) == ["teacher", "dimo", "soft_dimo", "soft_dimo+bon", "soft_dimo+bon_tteo",
                                     "soft_dimo+tteo"]
    teacher = table.iloc[0]
    assert teacher["n_seeds"] == 2 and teacher["geneval_mean"] == pytest.approx(0.48)
    assert teacher["geneval_std"] == pytest.approx(np.std([0.5, 0.46], ddof=1))
    assert teacher["reported_geneval"] == 0.48 and teacher["reported_hps"] == 27.60 and teacher["reported_coco_fid"] == 22.64
    bon = table[table["method"] == "soft_dimo+bon_tteo"].iloc[0]
    assert bon["geneval_mean"] == pytest.approx(0.5 + 0.08 + 0.02) and np.isnan(bon["coco_fid_mean"])
    assert bon["reported_geneval"] == 0.632
    md = out["t.md"].read_text()
    assert "| teacher | 16 | 0.480 ± 0.028 (0.48)" in md and "| soft_dimo+bon | 1 |" in md
    assert out["bon.png"].stat().st_size > 1000 and out["curves.png"].stat().st_size > 1000


@pytest.mark.slow  # 11-70 s on 2 cores; the script is for a GPU, this keeps it runnable (it had fallen behind dimo_loss)
def test_gpu_benchmark_script_runs_on_small_modules(tmp_path):
    from softdimo.tracks.maskgen import gpu_benchmark

    gpu_benchmark.main(["--small", "--batch-size", "2", "--out", str(tmp_path / "b.json")])
    out = json.loads((tmp_path / "b.json").read_text())
    assert out["speedup"] > 0
    for step in ("reward_finetune_step", "gan_step", "tteo_iteration"):
        assert out[step]["seconds"] > 0, out[step]
