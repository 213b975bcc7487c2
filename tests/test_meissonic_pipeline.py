"""The Meissonic track's commands on small random stand-ins of every official file: text bank from a local CLIP
folder, strict conversion (teacher, VQ, released student), teacher and student sampling, the student stage with
the official recipe's loop settings and reward fine-tuning."""
import json
import string

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("diffusers", reason="diffusers (pinned in pyproject.toml and the lock) is not installed: rerun make setup")

from softdimo.tracks.meissonic import pipeline  # noqa: E402
from tests.test_meissonic_modules import SMALL, SMALL_VQ  # noqa: E402

CLIP = dict(vocab_size=58, hidden_size=24, intermediate_size=48, projection_dim=32, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=77, hidden_act="gelu")


class TinyScorer(torch.nn.Module):
    """A differentiable scorer with the CLIP scorers' interface (encode_text, forward(images, text)): the CLIP and
    HPS networks are tested with the MaskGen-L track; here only the reward's path through the decoder matters."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3, 4)

    def encode_text(self, prompts):
        return [torch.tensor([len(p) % 5, p.count(" "), 1.0, -1.0]) for p in prompts]

    def forward(self, images, text):
        return (self.proj(images.mean((2, 3))) * text.to(images.device)).sum(-1).tanh()


@pytest.fixture
def tiny_scorers(monkeypatch):
    import evaluation.clip_scorers as scorers

    monkeypatch.setattr(scorers, "clip_score_model", lambda weights, arch: TinyScorer())
    monkeypatch.setattr(scorers, "hps_model", lambda weights, arch: TinyScorer())


def hub_folder(tmp):
    """text_encoder/ and tokenizer/ as the hub holds them, tiny: a character-level CLIP BPE vocabulary."""
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTokenizer

    from softdimo.tracks.meissonic.text_encoder import build_text_encoder

    chars = list(string.ascii_lowercase) + [",", "."]
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    (tmp / "vocab.json").write_text(json.dumps(vocab))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt")).save_pretrained(str(tmp / "hub" / "tokenizer"))
    config = CLIPTextConfig(**CLIP)
    (tmp / "hub" / "text_encoder").mkdir()
    config.to_json_file(str(tmp / "hub" / "text_encoder" / "config.json"))
    save_file(build_text_encoder(config).state_dict(), str(tmp / "hub" / "text_encoder" / "model.safetensors"))
    return tmp / "hub"


def official_config(kind, m):
    """A diffusers config.json with the configured architecture (the keys CONFIG_KEYS compares)."""
    arch = "meissonic_vq" if kind == "tokenizer" else "meissonic"
    kwargs = m["tokenizer" if kind == "tokenizer" else "teacher"]["kwargs"]
    return {"_class_name": "VQModel" if kind == "tokenizer" else "Transformer2DModel",
            **{key: kwargs[ours] for key, ours in pipeline.CONFIG_KEYS[arch].items()}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from safetensors.torch import save_file

    from softdimo.models import build_model
    from softdimo.tokenizers import build_tokenizer

    tmp = tmp_path_factory.mktemp("meissonic")
    torch.manual_seed(0)
    raw = yaml.safe_load(open("config/paper.yaml"))
    raw["device"], raw["precision"], raw["torch_threads"] = "cpu", "fp32", 1
    m = raw["meissonic"]
    m["teacher"]["kwargs"] = {**SMALL, "grid": 4, "micro_conds": list(SMALL["micro_conds"]),
                              "axes_dims_rope": list(SMALL["axes_dims_rope"])}
    m["tokenizer"]["kwargs"] = {**SMALL_VQ, "codebook_size": 32, "block_out_channels": list(SMALL_VQ["block_out_channels"])}
    m["sampling"]["negative_prompt"] = "ugly, blurry"
    m["distill"].update(eval_samples=2)
    m["distill"]["train"].update(batch_size=1, log_every=1, warmup_steps=0)  # one step each: warm-up would give lr 0
    m["recipe"]["accumulation_steps"] = 2
    m["students"]["dimo"]["steps"] = m["students"]["soft_dimo"]["steps"] = 1
    m["test_time"].update(best_of_n=[1, 2], tteo_iters=[0, 1], table_n=2, table_tteo_iters=1)
    f = {"config": tmp / "config.yaml"}
    f["config"].write_text(yaml.safe_dump(raw))
    for name, prompts in (("train", ["a red cube", "two dogs"]), ("geneval", ["a cat", "a red cube"])):
        f[name] = tmp / f"{name}.json"
        f[name].write_text(json.dumps({"set": name, "prompts": prompts}))
    pipeline.main(["text-bank", "--config", str(f["config"]), "--hub", str(hub_folder(tmp)), "--prompts",
                   str(f["train"]), str(f["geneval"]), "--out", str(tmp / "bank.pt")])
    f["bank"] = tmp / "bank.pt"
    teacher_kwargs = {**m["teacher"]["kwargs"]}
    for kind, module in (("teacher", build_model("meissonic", **teacher_kwargs)),
                         ("released", build_model("meissonic", **teacher_kwargs)),
                         ("tokenizer", build_tokenizer("meissonic_vq", **m["tokenizer"]["kwargs"]))):
        state = module.state_dict()
        if kind == "tokenizer":  # the hub file holds VQModel's own names
            state = {k[len("vq."):]: v for k, v in state.items()}
        folder = tmp / kind  # as on the hub: config.json beside the weights
        folder.mkdir()
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "diffusion_pytorch_model.safetensors"))
        (folder / "config.json").write_text(json.dumps(official_config(kind, m)))
        f[kind] = tmp / f"{kind}.pt"
        pipeline.main(["convert", "--kind", kind, "--config", str(f["config"]), "--official",
                       str(folder / "diffusion_pytorch_model.safetensors"), "--out", str(f[kind])])
    f["clip"], f["hps"] = tmp / "clip.bin", tmp / "hps.pt"  # hashed into the run's fingerprint, not loaded
    f["clip"].write_bytes(b"clip"), f["hps"].write_bytes(b"hps")
    return tmp, f


def test_bank_conversion_and_sampling(files):
    from safetensors.torch import load_file, save_file

    from softdimo.text_bank import load_bank

    tmp, f = files
    bank = load_bank(f["bank"])
    assert bank.null_prompt == "ugly, blurry" and {"", "ugly, blurry", "a cat"} <= set(bank.prompts)
    assert bank.tokens.shape[1:] == (77, 24) and bank.pooled.shape[1:] == (32,)
    released = torch.load(f["released"], weights_only=True)
    assert released["kind"] == "student" and released["method"] == "dimo_released"
    assert released["student"] == {"r_init": 0.6, "sigma_init": 0.1, "temperature": 0.5}
    state = load_file(str(tmp / "teacher" / "diffusion_pytorch_model.safetensors"))
    state.pop("mlm_layer.conv2.weight")
    (tmp / "broken").mkdir()
    save_file(state, str(tmp / "broken" / "diffusion_pytorch_model.safetensors"))
    config = json.loads((tmp / "teacher" / "config.json").read_text())
    (tmp / "broken" / "config.json").write_text(json.dumps(config))
    convert = ["convert", "--kind", "teacher", "--config", str(f["config"]), "--official",
               str(tmp / "broken" / "diffusion_pytorch_model.safetensors"), "--out", str(tmp / "broken.pt")]
    with pytest.raises(SystemExit, match="missing"):
        pipeline.main(convert)
    (tmp / "broken" / "config.json").write_text(json.dumps({**config, "num_single_layers": 28}))
    with pytest.raises(SystemExit, match="single_layers"):
        pipeline.main(convert)
    common = ["sample", "--config", str(f["config"]), "--tokenizer", str(f["tokenizer"]), "--text-bank",
              str(f["bank"]), "--prompts", str(f["geneval"]), "--per-prompt", "2", "--seed", "1"]
    teacher = ["--teacher", str(f["teacher"]), "--steps", "3", "--method", "meissonic_teacher"]
    pipeline.main(common + teacher + ["--batch-size", "4", "--out", str(tmp / "t.npz")])
    pipeline.main(common + teacher + ["--batch-size", "1", "--out", str(tmp / "t1.npz")])
    pipeline.main(common + ["--student", str(f["released"]), "--method", "meissonic_dimo_released",
                            "--out", str(tmp / "r.npz")])
    with np.load(tmp / "t.npz") as a, np.load(tmp / "t1.npz") as b, np.load(tmp / "r.npz") as r:
        assert a["arr_0"].shape == (4, 8, 8, 3) and a["arr_0"].dtype == np.uint8
        assert np.array_equal(a["arr_0"], b["arr_0"]) and r["arr_0"].shape == (4, 8, 8, 3)
    meta = json.loads((tmp / "t.json").read_text())
    assert meta["nfe"] == 3 * 2  # per image: 3 steps x (prompt, negative prompt)
    assert json.loads((tmp / "r.json").read_text())["what"] == "dimo_released"
    from softdimo.io import check_samples  # the sidecar names the row, checked by the evaluators

    assert check_samples(tmp / "r.npz", {"method": "meissonic_dimo_released", "seed": 1, "steps": 1})
    from softdimo.errors import ArtefactError  # a row name that is not the sampled model's is refused

    with pytest.raises(ArtefactError, match="expected 'meissonic_dimo_released'"):
        pipeline.main(common + ["--student", str(f["released"]), "--method", "meissonic_soft_dimo",
                                "--out", str(tmp / "x.npz")])
    with pytest.raises(ArtefactError, match="expected 'meissonic_teacher'"):
        pipeline.main(common + teacher[:-1] + ["meissonic_dimo", "--out", str(tmp / "x.npz")])


def test_student_stage_runs_the_official_recipe(files, tiny_scorers):
    from softdimo import train

    tmp, f = files
    inputs = ["--input", f"teacher={f['teacher']}", "--input", f"tokenizer={f['tokenizer']}",
              "--input", f"text_bank={f['bank']}", "--input", f"clip={f['clip']}", "--input", f"hps={f['hps']}",
              "--input", f"train_prompts={f['train']}", "--input", f"eval_prompts={f['geneval']}"]
    for name, init in (("dimo", []), ("soft_dimo", ["--input", f"init={tmp / 'dimo.pt'}"])):
        train.main(["--config", str(f["config"]), "--stage", f"meissonic.student:{name}:0", *inputs, *init,
                    "--out", str(tmp / f"{name}.pt"), "--workdir", str(tmp / f"ckpt_{name}"),
                    "--curve", str(tmp / f"{name}.csv")])
    header = (tmp / "soft_dimo.csv").read_text().splitlines()[0].split(",")
    assert {"generator_reward", "generator_dimo", "generator_grad_norm", "eval_clip"} <= set(header), header
    assert "aux_grad_norm" not in header  # the official recipe clips the generator only
    soft, dimo = (torch.load(tmp / f"{n}.pt", weights_only=True) for n in ("soft_dimo", "dimo"))
    assert soft["total_steps"] == 2 and soft["method"] == "soft_dimo"
    frozen = [k for k in dimo["state_dict"] if k.startswith(("embed.", "mlm_layer."))]
    teacher = torch.load(f["teacher"], weights_only=True)["state_dict"]
    assert frozen and all(torch.equal(soft["state_dict"][k], teacher[k]) for k in frozen)
    assert any(not torch.equal(soft["state_dict"][k], v) for k, v in dimo["state_dict"].items())


def test_test_time_grid_cli(files, tiny_scorers):
    tmp, f = files
    out = tmp / "tt"
    pipeline.main(["test-time", "--config", str(f["config"]), "--tokenizer", str(f["tokenizer"]), "--text-bank",
                   str(f["bank"]), "--prompts", str(f["geneval"]), "--student", str(f["released"]), "--clip",
                   str(f["clip"]), "--hps", str(f["hps"]), "--per-prompt", "1", "--seed", "0", "--method",
                   "meissonic_dimo_released", "--out-dir", str(out)])
    grid = json.loads((out / "grid.json").read_text())
    assert grid["grid"] == [[1, 0], [1, 1], [2, 0], [2, 1]] and grid["student"] == "dimo_released"
    assert json.loads((out / "n2_tteo1.json").read_text())["method"] == "meissonic_dimo_released+n2_tteo1"
    with np.load(out / "n1_tteo0.npz") as one, np.load(out / "n2_tteo1.npz") as two:
        assert one["arr_0"].shape == (2, 8, 8, 3) and two["arr_0"].shape == (2, 8, 8, 3)
