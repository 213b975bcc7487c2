"""Meissonic (Table 2's second teacher): official names, shapes and sizes at paper scale (meta device), strict
round trips and the upstream class's logits on small random modules, the masked-model interface on it."""
import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers", reason="diffusers (pinned in pyproject.toml and the lock) is not installed: rerun make setup")

from softdimo.models import build_model  # noqa: E402
from softdimo.models.meissonic import paper_kwargs  # noqa: E402
from softdimo.text_bank import TextBank  # noqa: E402
from softdimo.tokenizers import build_tokenizer  # noqa: E402
from softdimo.tokenizers.meissonic_vq import official_state, paper_kwargs as vq_kwargs  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = dict(grid=8, vocab_size=40, codebook_size=32, heads=2, head_dim=16, dual_layers=1, single_layers=1,
             text_dim=24, pooled_dim=32, axes_dims_rope=(4, 6, 6), micro_conds=(1024, 1024, 0, 0, 6.0))
SMALL_VQ = dict(grid=4, codebook_size=16, latent_channels=8, block_out_channels=(32, 32), layers_per_block=1,
                norm_num_groups=8)


def bank(text_dim, pooled_dim, prompts=("a cat", "", "ugly, blurry"), null_prompt=""):
    n = len(prompts)
    return TextBank({"prompts": list(prompts), "tokens": torch.randn(n, 7, text_dim),
                     "mask": torch.ones(n, 7, dtype=torch.bool), "pooled": torch.randn(n, pooled_dim),
                     "null_prompt": null_prompt})


def test_paper_transformer_has_the_official_names_shapes_and_size():
    manifest = json.loads((FIXTURES / "meissonic_manifest.json").read_text())["meissonic_transformer"]
    with torch.device("meta"):
        model = build_model("meissonic", **paper_kwargs())
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == manifest
    assert sum(p.numel() for p in model.parameters()) == 1_006_946_304
    assert (len(model.transformer_blocks), len(model.single_transformer_blocks)) == (14, 28)
    assert model.mask_id == 8255 and model.classes_per_split == 8192 and model.seq_len == 64 * 64
    assert model.micro_conds == (1024.0, 1024.0, 0.0, 0.0, 6.0)
    assert model.embed.embeddings.weight.shape == (8256, 1024)


def test_paper_vq_and_text_encoder_sizes_match_the_official_files():
    from softdimo.tracks.meissonic.text_encoder import PAPER_TEXT_CONFIG, build_text_encoder

    with torch.device("meta"):
        vq = build_tokenizer("meissonic_vq", **vq_kwargs())
        text = build_text_encoder(PAPER_TEXT_CONFIG)
    # fp32 files of 585 MB and 1.42 GB (the hub's listing): 4 bytes per parameter
    assert sum(p.numel() for p in vq.parameters()) == 146_244_675
    assert sum(p.numel() for p in text.parameters()) == 354_032_640
    assert vq.codes.shape == (8192, 64) and vq.seq_len == 4096
    assert all(k.startswith("vq.") for k in vq.state_dict())


def test_transformer_reproduces_the_upstream_class_and_round_trips_strictly(tmp_path):
    ref = torch.load(FIXTURES / "meissonic_reference_logits.pt", weights_only=True)
    model = build_model("meissonic", **SMALL).eval()
    model.load_state_dict(ref["state_dict"], strict=True)
    b = len(ref["tokens"])
    for timestep, logits in ref["logits"].items():
        with torch.no_grad():
            ours = model.forward_features(model.embed(ref["tokens"].flatten(1)[..., None]), ref["text"], ref["pooled"],
                                          torch.full((b,), float(timestep)))
        assert ours.shape == (b, 64, 1, 32)
        assert torch.allclose(ours[:, :, 0], logits.flatten(2).transpose(1, 2), atol=1e-5)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = build_model("meissonic", **SMALL)
    again.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True), strict=True)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in again.state_dict().items())
    extra = dict(ref["state_dict"], **{"pos_embed.extra": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="Unexpected"):
        again.load_state_dict(extra, strict=True)


def test_masked_model_interface_on_meissonic():
    torch.manual_seed(0)
    model = build_model("meissonic", **SMALL).eval().attach_text(bank(24, 32, null_prompt="ugly, blurry"))
    assert model.null_class == 2 and model.num_classes == 2
    tokens = torch.randint(0, 32, (3, 64, 1))
    one_hot = torch.nn.functional.one_hot(tokens, 32).float()
    assert torch.allclose(model.soft_embed(one_hot), model.embed(tokens), atol=1e-5)
    masked = torch.full_like(tokens, model.mask_id)
    with torch.no_grad():
        a, b = model(masked, torch.tensor([0, 1, 2])), model(masked, torch.tensor([2, 1, 0]))
    assert a.shape == (3, 64, 1, 32) and torch.equal(a[1], b[1]) and not torch.allclose(a[0], b[0])
    with torch.no_grad():  # the timestep conditions the output (Di[M]O passes 0, the pipeline the step index)
        t = model.forward_embeddings(model.embed(masked), torch.tensor([0, 1, 2]), timestep=torch.full((3,), 3.0))
    assert not torch.allclose(a, t)
    with pytest.raises(ValueError, match="null prompt"):
        model.attach_text(bank(24, 32, prompts=("a", "b"), null_prompt="c"))


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = build_model("meissonic", **SMALL).train().attach_text(bank(24, 32))
    tokens, cond = torch.randint(0, 40, (2, 64, 1)), torch.tensor([0, 2])
    grads = []
    for checkpointing in (False, True):
        model.zero_grad()
        model.gradient_checkpointing = checkpointing
        model(tokens, cond).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert all(torch.allclose(g, h, atol=1e-6) for g, h in zip(*grads))


def test_vq_decodes_tokens_and_soft_tokens_alike_and_loads_official_names(tmp_path):
    torch.manual_seed(0)
    vq = build_tokenizer("meissonic_vq", **SMALL_VQ).eval()
    official = {k[len("vq."):]: v for k, v in vq.state_dict().items()}  # what the hub file holds
    again = build_tokenizer("meissonic_vq", **SMALL_VQ)
    again.load_state_dict(official_state(official), strict=True)
    tokens = torch.randint(0, 16, (2, 16, 1))
    with torch.no_grad():
        images = again.decode(tokens)
        soft = again.decode_soft(torch.nn.functional.one_hot(tokens, 16).float())
        reference = again.vq.decode(tokens.flatten(), force_not_quantize=True, shape=(2, 4, 4, 8)).sample * 2 - 1
    assert images.shape == (2, 3, 8, 8)  # two blocks: one 2x upsampling
    assert torch.allclose(images, soft, atol=1e-5) and torch.allclose(images, reference, atol=1e-5)


def test_dimo_loss_and_one_step_sampler_run_on_meissonic():
    from softdimo.method.dimo import aux_loss, dimo_loss
    from softdimo.sampling import ImageRngs, sample_one_step

    torch.manual_seed(0)
    teacher, student, aux = (build_model("meissonic", **SMALL).attach_text(bank(24, 32, null_prompt="ugly, blurry"))
                             for _ in range(3))
    labels = torch.tensor([0, 1])
    tokens = sample_one_step(student.eval(), labels, ImageRngs([1, 2]), r_init=0.5, sigma_init=0.3, temperature=1.0,
                             min_masked=1, mask_unit="position")
    assert tokens.shape == (2, 64, 1) and tokens.max() < 32
    z = student.train()(torch.full_like(tokens, student.mask_id), labels)
    loss, masked = dimo_loss(z, tokens, labels, teacher.eval(), aux, teacher_cfg=4.0, beta=0.0, schedule="cosine",
                             min_masked=1, mask_unit="position", ratio_range=(0.02, 0.98))
    loss.backward()
    assert masked.any() and student.transformer_blocks[0].attn.to_q.weight.grad is not None
    assert torch.isfinite(aux_loss(aux, tokens, labels, schedule="cosine", label_smoothing=0.1, min_masked=1,
                                   mask_unit="position", ratio_range=(0.02, 0.98)))
