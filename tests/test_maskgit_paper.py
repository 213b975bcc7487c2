"""Paper-scale MaskGit track: official names / shapes / parameter counts (meta device), strict conversion of the
three official layouts on small random modules of the same code, the MaskGIT-pytorch sampler, the soft
embedding over the code rows, and one Soft-Di[M]O step of the library's student on these modules."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from softdimo.checkpoints import load_artefact
from softdimo.config import from_dict
from softdimo.models import build_model
from softdimo.pretrained import record_path, sha256_of
from softdimo.sampling import ImageRngs
from softdimo.tokenizers import build_tokenizer
from softdimo.tracks.maskgit import pipeline
from softdimo.tracks.maskgit.sampler import cfg_ramp, forward_passes, sample_student, sample_teacher, token_budget

ROOT = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
SMALL_T = dict(image_tokens=16, codebook_size=32, num_classes=10, dim=32, depth=2, heads=2, mlp_dim=64, dropout=0.1)
SMALL_V = dict(image_size=16, ch=32, ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[16], z_channels=8,
               embed_dim=8, n_embed=32, dropout=0.0)


def transformer_manifest(dim=768, depth=24, mlp=3072, codes=1024, classes=1000, tokens=256) -> dict:
    """Keys and shapes of MaskGIT-pytorch's MaskTransformer, enumerated from its definition (not from our module)."""
    rows = codes + 1 + classes + 1
    out = {"tok_emb.weight": [rows, dim], "pos_emb": [1, tokens + 1, dim], "bias": [tokens + 1, rows]}
    for seq, linears, norms in (("first_layer", (2, 6), (0, 4)), ("last_layer", (2,), (0, 4))):
        out.update({f"{seq}.{i}.weight": [dim, dim] for i in linears} | {f"{seq}.{i}.bias": [dim] for i in linears})
        out.update({f"{seq}.{i}.{p}": [dim] for i in norms for p in ("weight", "bias")})
    for i in range(depth):
        a, f = f"transformer.layers.{i}.0", f"transformer.layers.{i}.1"
        out.update({f"{a}.norm.weight": [dim], f"{a}.norm.bias": [dim], f"{a}.fn.mha.in_proj_weight": [3 * dim, dim],
                    f"{a}.fn.mha.in_proj_bias": [3 * dim], f"{a}.fn.mha.out_proj.weight": [dim, dim],
                    f"{a}.fn.mha.out_proj.bias": [dim], f"{f}.norm.weight": [dim], f"{f}.norm.bias": [dim],
                    f"{f}.fn.net.0.weight": [mlp, dim], f"{f}.fn.net.0.bias": [mlp], f"{f}.fn.net.3.weight": [dim, mlp],
                    f"{f}.fn.net.3.bias": [dim]})
    return out


def vqgan_manifest(ch=128, mult=(1, 1, 2, 2, 4), blocks=2, attn=(16,), res=256, z=256, embed=256, n=1024) -> dict:
    """Keys and shapes of taming's VQModel (Encoder, Decoder, VectorQuantizer2), enumerated from its definition."""
    out = {}

    def conv(name, cout, cin, k):
        out.update({f"{name}.weight": [cout, cin, k, k], f"{name}.bias": [cout]})

    def gn(name, c):
        out.update({f"{name}.weight": [c], f"{name}.bias": [c]})

    def resblock(name, cin, cout):
        gn(f"{name}.norm1", cin), conv(f"{name}.conv1", cout, cin, 3), gn(f"{name}.norm2", cout)
        conv(f"{name}.conv2", cout, cout, 3)
        if cin != cout:
            conv(f"{name}.nin_shortcut", cout, cin, 1)

    def attnblock(name, c):
        gn(f"{name}.norm", c)
        for p in ("q", "k", "v", "proj_out"):
            conv(f"{name}.{p}", c, c, 1)

    def mid(name, c):
        resblock(f"{name}.block_1", c, c), attnblock(f"{name}.attn_1", c), resblock(f"{name}.block_2", c, c)

    conv("encoder.conv_in", ch, 3, 3)
    cur, cin = res, ch
    for i, m in enumerate(mult):
        for j in range(blocks):
            resblock(f"encoder.down.{i}.block.{j}", cin, ch * m)
            cin = ch * m
            if cur in attn:
                attnblock(f"encoder.down.{i}.attn.{j}", cin)
        if i != len(mult) - 1:
            conv(f"encoder.down.{i}.downsample.conv", cin, cin, 3)
            cur //= 2
    mid("encoder.mid", cin), gn("encoder.norm_out", cin), conv("encoder.conv_out", z, cin, 3)
    cin = ch * mult[-1]
    conv("decoder.conv_in", cin, z, 3), mid("decoder.mid", cin)
    for i in reversed(range(len(mult))):
        for j in range(blocks + 1):
            resblock(f"decoder.up.{i}.block.{j}", cin, ch * mult[i])
            cin = ch * mult[i]
            if cur in attn:
                attnblock(f"decoder.up.{i}.attn.{j}", cin)
        if i:
            conv(f"decoder.up.{i}.upsample.conv", cin, cin, 3)
            cur *= 2
    gn("decoder.norm_out", cin), conv("decoder.conv_out", 3, cin, 3)
    out["quantize.embedding.weight"] = [n, embed]
    conv("quant_conv", embed, z, 1), conv("post_quant_conv", z, embed, 1)
    return out


def test_paper_modules_match_the_official_definitions_on_meta():
    cfg = from_dict(PAPER)
    with torch.device("meta"):
        _, _, teacher = pipeline.official_module(cfg.c2i_maskgit.teacher)
        _, _, vqgan = pipeline.official_module(cfg.c2i_maskgit.tokenizer)
    assert {k: list(v.shape) for k, v in teacher.state_dict().items()} == transformer_manifest()
    assert {k: list(v.shape) for k, v in vqgan.state_dict().items()} == vqgan_manifest()
    # upstream README: 174.161M transformer, 72.142M VQGAN
    assert sum(p.numel() for p in teacher.parameters()) == 174_160_874
    assert round(sum(p.numel() for p in vqgan.parameters()) / 1e3) == 72_142
    assert (teacher.mask_id, teacher.null_class, int(teacher.class_tokens(torch.tensor(999)))) == (1024, 1000, 2024)
    assert int(teacher.class_tokens(torch.tensor(teacher.null_class))) == 2025  # the table's last row


class FakeCallback:  # a foreign class pickled into a Lightning checkpoint: unpickled as an inert stand-in
    def __init__(self):
        self.best = "epoch=3.ckpt"


def small_cfg():
    raw = json.loads(json.dumps(PAPER))
    raw["c2i_maskgit"]["teacher"]["kwargs"] = SMALL_T
    raw["c2i_maskgit"]["tokenizer"]["kwargs"] = SMALL_V
    raw["c2i_maskgit"]["gan"]["layers"] = [0, 1]
    raw["c2i_maskgit"]["sampling"]["steps"] = [4, 8]  # 16 steps cannot share out 16 tokens by arccos
    raw["c2i"]["data"]["resolution"] = SMALL_V["image_size"]  # the VQGAN tokenises c2i.data's crops
    return from_dict(raw)


def _save(obj, path):
    torch.save(obj, path)
    record_path(path).write_text(json.dumps({"source": "test", "sha256": sha256_of(path)}))
    return path


def test_strict_conversion_of_the_three_official_layouts(tmp_path):
    cfg = small_cfg()
    torch.manual_seed(0)
    teacher = build_model("maskgit_transformer", **SMALL_T)
    vqgan = build_tokenizer("taming_vqgan", **SMALL_V)
    optimizer = torch.optim.Adam(teacher.parameters())
    teacher(torch.zeros(1, 16, 1, dtype=torch.long), torch.zeros(1, dtype=torch.long)).sum().backward()
    optimizer.step()
    _save({"iter": 7, "global_epoch": 1, "model_state_dict": teacher.state_dict(),
           "optimizer_state_dict": optimizer.state_dict()}, tmp_path / "MaskGIT_ImageNet_256.pth")
    loss = {"loss.discriminator.main.0.weight": torch.randn(4, 3, 4, 4), "loss.perceptual_loss.lin0.model.1.weight":
            torch.randn(1, 64, 1, 1)}
    _save({"state_dict": {**vqgan.state_dict(), **loss}, "global_step": 3, "callbacks": {"ckpt": FakeCallback()}},
          tmp_path / "vqgan_last.ckpt")
    _save(teacher.state_dict(), tmp_path / "dimo_released_maskgit.bin")
    for kind, name, module in (("teacher", "MaskGIT_ImageNet_256.pth", teacher), ("tokenizer", "vqgan_last.ckpt", vqgan),
                               ("released", "dimo_released_maskgit.bin", teacher)):
        pipeline.convert(kind, cfg, tmp_path / name, tmp_path / f"{kind}.pt")
        loaded, payload = load_artefact(tmp_path / f"{kind}.pt", "student" if kind == "released" else kind)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in module.state_dict().items())
        assert payload["summary"]["sha256"] == sha256_of(tmp_path / name)
    assert payload["method"] == "dimo_released" and payload["student"]["r_init"] == 0.6
    torch.save({"model_state_dict": teacher.state_dict()}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    record_path(tmp_path / "legacy.pth").write_text(json.dumps({"source": "t", "sha256": sha256_of(tmp_path / "legacy.pth")}))
    pipeline.convert("teacher", cfg, tmp_path / "legacy.pth", tmp_path / "legacy.pt")  # pre-zip format: no mmap
    # strict: a missing tensor or an unknown one stops the conversion
    _save({"model_state_dict": {k: v for k, v in teacher.state_dict().items() if k != "bias"}}, tmp_path / "bad.pth")
    with pytest.raises(SystemExit, match="missing.*bias"):
        pipeline.convert("teacher", cfg, tmp_path / "bad.pth", tmp_path / "bad.pt")
    _save({**teacher.state_dict(), "extra.weight": torch.zeros(1)}, tmp_path / "bad.bin")
    with pytest.raises(SystemExit, match="unexpected.*extra.weight"):
        pipeline.convert("released", cfg, tmp_path / "bad.bin", tmp_path / "bad.pt")


def test_soft_embedding_and_decoding_use_the_code_rows_only():
    torch.manual_seed(0)
    model = build_model("maskgit_transformer", **SMALL_T).eval()
    vqgan = build_tokenizer("taming_vqgan", **SMALL_V).eval()
    tokens = torch.randint(0, 32, (2, 16, 1))
    one_hot = torch.nn.functional.one_hot(tokens, 32).float()
    assert torch.allclose(model.soft_embed(one_hot), model.embed(tokens))
    with torch.no_grad():
        logits = model(tokens, torch.tensor([1, 2]))
        assert logits.shape == (2, 16, 1, 32)
        full = model.logits_with_mask(model.embed(tokens), torch.tensor([1, 2]))
        assert full.shape == (2, 16, 33) and torch.equal(full[..., :32], logits[:, :, 0])
        vqgan.quantize.embedding.weight.normal_()
        image = vqgan.decode(tokens)
        assert image.shape == (2, 3, 16, 16)
        assert torch.allclose(vqgan.decode_soft(one_hot), image, atol=1e-5)
        assert torch.equal(vqgan.decode(torch.full_like(tokens, 32)), vqgan.decode(torch.full_like(tokens, 31)))
        codes = vqgan.encode(torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8))
        assert codes.shape == (2, 16, 1) and int(codes.max()) < 32


def test_token_budget_and_guidance_ramp_as_maskgit_pytorch():
    assert token_budget("arccos", 8, 256)[0] == 1 and sum(token_budget("arccos", 8, 256)) == 256
    budget = token_budget("arccos", 4, 256)
    assert budget == sorted(budget) and sum(budget) == 256  # arccos commits few tokens first, most last
    assert token_budget("linear", 2, 256) == [1, 255]  # the zero budget of step 0 is raised to 1
    assert [cfg_ramp(3.0, i, 4) for i in range(4)] == [0.0, 1.0, 2.0, 3.0]
    assert forward_passes(8, 3.0) == 15 and forward_passes(8, 0.0) == 8
    with pytest.raises(ValueError, match="2 steps"):
        cfg_ramp(3.0, 0, 1)
    with pytest.raises(ValueError, match="last step"):
        token_budget("arccos", 16, 16)


@pytest.mark.parametrize("mask_class", ["clamp", "exclude"])
def test_teacher_sampler_commits_every_position_and_is_batch_independent(mask_class):
    torch.manual_seed(0)
    model = build_model("maskgit_transformer", **SMALL_T).eval()
    settings = dict(steps=4, schedule="arccos", cfg_w=3.0, softmax_temperature=1.0, randomize_temperature=4.5,
                    randomize="linear", mask_class=mask_class)
    counted = pipeline.Counter(model)
    labels = torch.tensor([1, 2, 3])
    a = sample_teacher(counted, labels, ImageRngs([5, 6, 7]), **settings)
    assert counted.nfe(3) == forward_passes(4, 3.0) == 7
    b = sample_teacher(model, labels[1:], ImageRngs([6, 7]), **settings)
    assert a.shape == (3, 16, 1) and torch.equal(a[1:], b)
    assert int(a.max()) <= (32 if mask_class == "clamp" else 31) and int(a.min()) >= 0
    # the mask row is drawn only with clamp: make it certain and see it appear
    with torch.no_grad():
        model.bias[:, 32] = 1e4
    c = sample_teacher(model, labels, ImageRngs([5, 6, 7]), **settings)
    assert bool((c == 32).all()) == (mask_class == "clamp")
    s = sample_student(model, labels, ImageRngs([1, 2, 3]), r_init=0.6, sigma_init=0.1, temperature=1.0,
                       mask_class=mask_class, min_masked=1)
    assert s.shape == (3, 16, 1)


def test_soft_dimo_step_on_the_maskgit_modules(tmp_path):
    """The library's student stage through c2i_view: generator (Di[M]O + GAN), auxiliary and discriminator phases."""
    from softdimo.io import atomic_torch_save
    from softdimo.stages import build_stage

    torch.manual_seed(0)
    cfg = small_cfg()
    students = dict(cfg.c2i_maskgit.students, soft_dimo=cfg.c2i_maskgit.students["soft_dimo"].model_copy(
        update={"init": "teacher"}))  # from the teacher: no Di[M]O weights to continue here
    cfg = cfg.model_copy(update={"c2i_maskgit": cfg.c2i_maskgit.model_copy(update={"students": students})})
    for kind, arch, kwargs in (("teacher", "maskgit_transformer", SMALL_T), ("tokenizer", "taming_vqgan", SMALL_V)):
        module = (build_model if kind == "teacher" else build_tokenizer)(arch, **kwargs)
        atomic_torch_save({"kind": kind, "arch": arch, "kwargs": kwargs, "state_dict": module.state_dict()},
                          tmp_path / f"{kind}.pt")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "real.npz", tokens=rng.integers(0, 32, (64, 16, 1)).astype(np.int16),
             labels=rng.integers(0, 10, 64).astype(np.int16))
    inputs = {"teacher": tmp_path / "teacher.pt", "tokenizer": tmp_path / "tokenizer.pt",
              "real_tokens": tmp_path / "real.npz"}
    stage = build_stage("maskgit.student:soft_dimo:0", cfg, inputs)
    assert stage.d == cfg.c2i_maskgit.distill and stage.s.w_gan == 200.0
    stage.train_cfg = stage.train_cfg.model_copy(update={"batch_size": 4})
    stage.build("cpu")
    frozen = {n for n, p in stage.modules["student"].named_parameters() if not p.requires_grad}
    assert frozen == {"tok_emb.weight", "pos_emb", "bias"}
    assert stage.teacher.training and not any(p.requires_grad for p in stage.teacher.parameters())
    assert stage.d.min_masked == 1 and stage.train_cfg.adam_eps == 1e-6
    assert [p.clip for p in stage.phases] == [True, False, False]  # the official clips the generator only
    batch = stage.next_batch(0)
    for phase in stage.phases:
        loss, _ = phase.loss(batch, 0)
        loss.backward()
        assert torch.isfinite(loss), phase.name
    assert [p.name for p in stage.phases] == ["generator", "aux", "disc"]
    assert stage.modules["disc"].heads[0].parameters().__next__().grad is not None

