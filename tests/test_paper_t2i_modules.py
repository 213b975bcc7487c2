"""Paper-size MaskGen-L (VQ): checkpoint names and shapes, the shared masked-model interface, Di[M]O on it."""
import json
from pathlib import Path

import pytest
import torch

from softdimo.models import build_model
from softdimo.models.maskgen import aesthetic_embedding
from softdimo.text_bank import TextBank

MANIFEST = json.loads((Path(__file__).parent / "fixtures" / "maskgen_manifest.json").read_text())
PAPER = dict(seq_len=128, codebook_size=8192, num_classes=1000, text_dim=768, dim=1024, depth=16, heads=16,
             micro_condition_dim=256, aesthetic_score=6.5)


def bank(text_dim: int, prompts=("a photo of a cat", "", "two dogs")) -> TextBank:
    n = len(prompts)
    return TextBank({"prompts": list(prompts), "tokens": torch.randn(n, 77, text_dim),
                     "mask": torch.ones(n, 77, dtype=torch.bool), "pooled": torch.randn(n, text_dim)})


def test_maskgen_l_matches_official_manifest_and_round_trips(tmp_path):
    torch.manual_seed(0)
    with torch.device("meta"):  # names, shapes and size without allocating 2.4 GB
        full = build_model("maskgen_vq", **PAPER)
    shapes = {k: list(v.shape) for k, v in full.state_dict().items()}
    assert shapes == MANIFEST["maskgen_vq_l"]
    assert sum(p.numel() for p in full.parameters()) == 604_311_552
    assert full.lm_head.weight is full.embeddings.weight  # the head is tied to the table
    small = dict(PAPER, depth=2)  # round trip and forward on a shallower copy of full width
    saved = build_model("maskgen_vq", **small)
    torch.save(saved.state_dict(), tmp_path / "w.pt")
    again = build_model("maskgen_vq", **small)
    again.load_state_dict(torch.load(tmp_path / "w.pt"), strict=True)
    assert again.lm_head.weight is again.embeddings.weight
    assert all(torch.equal(v, saved.state_dict()[k]) for k, v in again.state_dict().items())
    model = saved.eval()
    model.attach_text(bank(768))
    assert model.null_class == 1 and model.num_classes == 2
    tokens = torch.randint(0, 8193, (1, 128, 1))
    with torch.no_grad():
        logits = model(tokens, torch.tensor([0]))
        assert logits.shape == (1, 128, 1, 8192) and torch.isfinite(logits).all()
        one_hot = torch.nn.functional.one_hot(tokens.clamp_max(8191), 8192).float()
        assert torch.allclose(model.soft_embed(one_hot), model.embed(tokens.clamp_max(8191)), atol=1e-6)


def test_aesthetic_embedding_and_condition_change_the_output():
    e = aesthetic_embedding(torch.tensor([0.0, 6.5]), 256)
    assert e.shape == (2, 256) and torch.equal(e[0, :128], torch.zeros(128)) and torch.equal(e[0, 128:], torch.ones(128))
    torch.manual_seed(0)
    small = build_model("maskgen_vq", **dict(PAPER, seq_len=8, codebook_size=16, num_classes=10, text_dim=12, dim=32,
                                             depth=2, heads=2, micro_condition_dim=8)).eval()
    small.attach_text(bank(12))
    tokens = torch.randint(0, 17, (3, 8, 1))
    with torch.no_grad():
        a, b = small(tokens, torch.tensor([0, 1, 2])), small(tokens, torch.tensor([2, 1, 0]))
        assert torch.equal(a[1], b[1]) and not torch.allclose(a[0], b[0])
        e = small.embed(tokens)
        t, _, p = small.text(torch.tensor([0, 1, 2]))
        assert not torch.allclose(small.forward_features(e, t, p, torch.full((3,), 6.5)),
                                  small.forward_features(e, t, p, torch.full((3,), 4.0)))
    with pytest.raises(ValueError, match="empty prompt"):
        small.attach_text(bank(12, prompts=("a", "b")))


def test_dimo_and_sampler_run_on_maskgen():
    from softdimo.method.dimo import aux_loss, dimo_loss
    from softdimo.sampling import ImageRngs, sample_maskgit

    torch.manual_seed(0)
    kwargs = dict(PAPER, seq_len=8, codebook_size=16, num_classes=10, text_dim=12, dim=32, depth=2, heads=2,
                  micro_condition_dim=8)
    teacher, student, aux = (build_model("maskgen_vq", **kwargs).attach_text(bank(12)) for _ in range(3))
    labels = torch.tensor([0, 2])
    tokens = sample_maskgit(teacher.eval(), labels, ImageRngs([1, 2]), steps=3, schedule="arccos", cfg_scale=3.0,
                            randomize_temperature=2.0, temperature=1.0)
    assert tokens.shape == (2, 8, 1) and tokens.max() < 16
    z = student(torch.full_like(tokens, student.mask_id), labels)
    loss, masked = dimo_loss(z, tokens, labels, teacher, aux, teacher_cfg=3.0, beta=0.0, schedule="arccos",
                             min_masked=1, mask_unit="position", ratio_range=(0.0, 1.0))
    loss.backward()
    assert torch.isfinite(loss) and student.blocks[0].attn.to_q.weight.grad is not None
    assert torch.isfinite(aux_loss(aux, tokens, labels, schedule="arccos", label_smoothing=0.1, min_masked=1,
                                   mask_unit="position", ratio_range=(0.0, 1.0)))


TATITOK = dict(image_size=256, patch_size=16, encoder_size="base", decoder_size="large", num_latent_tokens=128,
               codebook_size=8192, code_dim=64, text_dim=768, text_length=77)


def test_tatitok_bl128_matches_official_manifest_and_decodes_with_text():
    from softdimo.tokenizers import build_tokenizer

    with torch.device("meta"):  # names, shapes and size without allocating 1.6 GB
        full = build_tokenizer("tatitok_vq", **TATITOK)
    assert {k: list(v.shape) for k, v in full.state_dict().items()} == MANIFEST["tatitok_bl128_vq"]
    assert sum(p.numel() for p in full.parameters()) == 391_046_292
    # encoding and text-guided decoding on a smaller copy: official codebook and text width, small ViTs, 64 px
    torch.manual_seed(0)
    tok = build_tokenizer("tatitok_vq", **dict(TATITOK, image_size=64, encoder_size="small", decoder_size="small",
                                               num_latent_tokens=32)).eval()
    with torch.no_grad():
        tok.quantize.embedding.weight.normal_()  # a spread-out codebook (the random init is nearly constant)
        tokens = tok.encode(torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8))
        assert tokens.shape == (1, 32, 1) and int(tokens.max()) < 8192
        text, other = torch.randn(1, 77, 768), torch.randn(1, 77, 768)
        image = tok.decode(tokens, text)
        assert image.shape == (1, 3, 64, 64)
        soft = tok.decode_soft(torch.nn.functional.one_hot(tokens, 8192).float(), text)
        assert torch.allclose(image, soft, atol=1e-4)
        assert not torch.allclose(image, tok.decode(tokens, other), atol=1e-3)  # the caption guides decoding


def test_maskgen_sampler_schedule_and_batch_independence():
    from softdimo.sampling import ImageRngs, maskgen_guidance, sample_maskgen

    assert maskgen_guidance(12.0, "cosine", 1.0, 1.0) == pytest.approx(12.0)
    assert maskgen_guidance(12.0, "cosine", 1.0, 0.5) == pytest.approx(6.5)
    assert maskgen_guidance(12.0, "linear", 1.0, 0.25) == pytest.approx(3.75)
    assert maskgen_guidance(12.0, "none", 1.0, 0.1) == 12.0
    torch.manual_seed(0)
    small = build_model("maskgen_vq", **dict(PAPER, seq_len=16, codebook_size=32, num_classes=10, text_dim=12, dim=32,
                                             depth=2, heads=2, micro_condition_dim=8)).eval().attach_text(bank(12))
    settings = dict(steps=4, schedule="arccos", guidance_scale=12.0, guidance_decay="cosine", guidance_scale_pow=1.0,
                    randomize_temperature=2.0, softmax_temperature_annealing=True)
    ids = torch.tensor([0, 2, 0])
    tokens = sample_maskgen(small, ids, ImageRngs([5, 6, 7]), **settings)
    assert tokens.shape == (3, 16, 1) and tokens.max() < 32 and tokens.min() >= 0
    alone = sample_maskgen(small, ids[1:2], ImageRngs([6]), **settings)
    assert torch.equal(alone, tokens[1:2])  # image i depends only on its seed and prompt
    again = sample_maskgen(small, ids, ImageRngs([5, 6, 7]), **settings)
    assert torch.equal(again, tokens)
    other = sample_maskgen(small, ids, ImageRngs([8, 9, 10]), **settings)
    assert not torch.equal(other, tokens)
