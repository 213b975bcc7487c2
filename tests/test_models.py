"""Interfaces and shapes of the bit helpers, the LFQ tokenizer and the masked bit transformer."""
import pytest
import torch
import torch.nn.functional as F

from softdimo.bits import bits_to_tokens, expected_bits, group_codebook, tokens_to_bits
from softdimo.models import build_model
from softdimo.tokenizers import build_tokenizer


def tiny_tokenizer():
    torch.manual_seed(0)
    return build_tokenizer("tiny_lfq", image_size=8, channels=1, bits=6, splits=2, hidden_channels=8, downsample=1)


def tiny_model(dropout=0.0):
    torch.manual_seed(0)
    return build_model("tiny_bit_bert", seq_len=16, bits=6, splits=2, num_classes=10, dim=32, depth=2, heads=2,
                       mlp_ratio=2.0, dropout=dropout)


def test_bits_round_trip():
    tokens = torch.randint(0, 8, (5, 16, 2))
    bits = tokens_to_bits(tokens, 3)
    assert bits.shape == (5, 16, 6) and set(bits.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(bits_to_tokens(bits, 2), tokens)
    assert torch.equal(group_codebook(2), torch.tensor([[-1., -1.], [-1., 1.], [1., -1.], [1., 1.]]))


def test_mask_id_embeds_as_zero_bits():
    tokens = torch.tensor([[[8, 3]]])
    bits = tokens_to_bits(tokens, 3, mask_id=8)
    assert bits[0, 0, :3].abs().sum() == 0 and bits[0, 0, 3:].abs().sum() == 3


def test_expected_bits_of_one_hot_equals_hard_bits():
    tokens = torch.randint(0, 8, (4, 16, 2))
    assert torch.allclose(expected_bits(F.one_hot(tokens, 8).float()), tokens_to_bits(tokens, 3))


def test_tokenizer_shapes_and_soft_decode_of_one_hot():
    tok = tiny_tokenizer().eval()
    images = torch.randint(0, 256, (3, 8, 8, 1), dtype=torch.uint8)
    tokens = tok.encode(images)
    assert tokens.shape == (3, tok.seq_len, 2) and tokens.max() < tok.classes_per_split
    hard = tok.decode(tokens)
    assert hard.shape == (3, 1, 8, 8)
    soft = tok.decode_soft(F.one_hot(tokens, tok.classes_per_split).float())
    assert torch.allclose(hard, soft, atol=1e-6)


def test_soft_decode_is_differentiable():
    tok = tiny_tokenizer()
    logits = torch.randn(2, tok.seq_len, 2, tok.classes_per_split, requires_grad=True)
    tok.decode_soft(logits.softmax(-1)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_masked_model_interface():
    model = tiny_model().eval()
    tokens = torch.randint(0, 8, (3, 16, 2))
    tokens[:, :5] = model.mask_id
    labels = torch.tensor([0, 5, model.null_class])
    e = model.embed(tokens)
    assert e.shape == (3, 16, 6) and e[:, :5].abs().sum() == 0
    logits = model.forward_embeddings(e, labels)
    assert logits.shape == (3, 16, 2, model.classes_per_split)
    assert torch.equal(logits, model(tokens, labels))
    onehot = F.one_hot(tokens[:, 5:], model.classes_per_split).float()
    assert torch.allclose(model.soft_embed(onehot), e[:, 5:])
    _, hidden = model.forward_embeddings(e, labels, return_hidden=True)
    assert len(hidden) == 2 and hidden[0].shape == (3, 17, 32)


def test_soft_embedding_gradient_reaches_logits_through_the_model():
    model = tiny_model()
    logits = torch.randn(2, 16, 2, 8, requires_grad=True)
    out = model.forward_embeddings(model.soft_embed(logits.softmax(-1)), torch.tensor([1, 2]))
    out.logsumexp(-1).sum().backward()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("head_dim,masked", [(16, False), (24, True), (24, "a row without keys")])
def test_training_attention_equals_torchs_bit_for_bit(head_dim, masked, threads):
    """The CPU training attention (without torch's all -inf row test) gives torch's outputs and gradients
    exactly, for a scale that is not a power of two and for padding masks as the text models pass them; a
    different op order or scale would fail this on the last bits. A mask that leaves a query no key goes to
    torch's own attention (zeros for that row, not NaN)."""
    from softdimo.models.bit_transformer import attention

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(head_dim)
        q, k, v = (torch.randn(8, 4, 41, head_dim, generator=gen).requires_grad_() for _ in range(3))
        mask = None
        if masked:
            mask = torch.rand(8, 1, 1, 41, generator=gen) > 0.4
            mask[..., 25:] = True  # the image tokens: every query has a key
            if masked == "a row without keys":
                mask[2] = False
        weights = torch.randn(8, 4, 41, head_dim, generator=gen)
        results = []
        for f in (lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.1),
                  lambda: attention(q, k, v, mask, 0.1)):
            torch.manual_seed(3)
            out = f()
            results.append((out, *torch.autograd.grad((out * weights).sum(), (q, k, v))))
        for ours, torchs in zip(results[1], results[0]):
            assert torch.equal(ours, torchs)
        torch.manual_seed(3)
        assert not torch.equal(attention(q, k, v, mask, 0.1), attention(q, k, v, mask, 0.0))  # dropout acts
    finally:
        torch.set_num_threads(before)
