"""Paper-scale text conditioning and scores through open_clip, under random weights (no file is fetched)."""
import pytest
import torch
import torch.nn.functional as F

from evaluation.clip_scorers import clip_score_model, hps_model, resize_max_pad
from softdimo.tracks.maskgen.text_encoder import encode_prompts, load_text_encoder


@pytest.fixture(scope="module")
def text_encoder():
    torch.manual_seed(0)
    return load_text_encoder(None, arch="ViT-B-32")


def test_maskgen_text_bank_penultimate_tokens_and_pooled(text_encoder):
    model, tokenizer = text_encoder
    from open_clip.transformer import QuickGELU

    assert isinstance(model.transformer.resblocks[0].mlp.gelu, QuickGELU)  # MaskGen's OpenAI ViT-L-14-336
    bank = encode_prompts(model, tokenizer, ["a photo of a cat", "two dogs"], batch_size=2)
    assert bank["prompts"] == ["a photo of a cat", "two dogs", ""]  # the null prompt is always there
    assert bank["tokens"].shape == (3, 77, 512) and bank["pooled"].shape == (3, 512) and bank["mask"].all()
    with torch.no_grad():  # the pooled condition is exactly open_clip's own text embedding
        assert torch.allclose(bank["pooled"], model.encode_text(tokenizer(bank["prompts"])), atol=1e-5)
        final = model.transformer(model.token_embedding(tokenizer(bank["prompts"])) + model.positional_embedding,
                                  attn_mask=model.attn_mask)
    assert not torch.allclose(bank["tokens"], final, atol=1e-3)  # penultimate block, not the last
    # TA-TiTok's text guidance: the last block's tokens after the final LayerNorm
    assert torch.allclose(bank["final"], model.ln_final(final), atol=1e-5)


def test_clip_score_protocol_and_gradients(tmp_path):
    torch.manual_seed(0)
    scorer = clip_score_model(None)
    text = scorer.encode_text(["a red cube", "a blue ball"])
    with torch.no_grad():
        expected = F.normalize(scorer.model.encode_text(scorer.tokenizer(["A photo depicts a red cube"])), dim=-1)
    assert torch.allclose(text[:1], expected, atol=1e-5)
    images = (torch.rand(2, 3, 256, 256) * 2 - 1).requires_grad_(True)
    scores = scorer(images, text)
    assert scores.shape == (2,) and (scores.abs() <= 1).all()
    scores.sum().backward()
    assert images.grad.abs().sum() > 0  # usable as a reward and for TTEO
    with torch.no_grad():
        assert torch.allclose(scorer(images[1:], text[1:]), scores[1:], atol=1e-5)  # batch independent
    with pytest.raises(SystemExit, match="not found"):
        clip_score_model(tmp_path / "ViT-B-32-openai.bin")
    from open_clip.transformer import QuickGELU

    # OpenAI's weights were trained with QuickGELU; a local file does not tell open_clip so
    assert isinstance(scorer.model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert isinstance(scorer.model.transformer.resblocks[0].mlp.gelu, QuickGELU)


def test_hps_loads_state_dict_file_and_pads_to_square(tmp_path):
    import open_clip
    from open_clip.transformer import QuickGELU

    torch.manual_seed(1)
    base = open_clip.create_model("ViT-B-32", pretrained=None)
    torch.save({"state_dict": base.state_dict()}, tmp_path / "HPS_v2.1_compressed.pt")
    hps = hps_model(tmp_path / "HPS_v2.1_compressed.pt", arch="ViT-B-32")  # the real one is ViT-H-14
    assert torch.equal(hps.model.visual.conv1.weight, base.visual.conv1.weight)
    assert not isinstance(hps.model.transformer.resblocks[0].mlp.gelu, QuickGELU)  # LAION-trained: plain GELU
    wide = torch.ones(1, 3, 100, 200)
    out = resize_max_pad(wide, 224)
    assert out.shape == (1, 3, 224, 224) and out[..., :50, :].abs().max() == 0 and out[..., 60:160, :].min() > 0.9
    score = hps(torch.zeros(1, 3, 256, 256), hps.encode_text(["a cat"]))
    assert score.shape == (1,) and score.abs().item() <= 100
