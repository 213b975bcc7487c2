"""Di[M]O's gradient, soft embeddings and the Gumbel straight-through baseline."""
import pytest
import torch
import torch.nn.functional as F

from softdimo.method.dimo import dimo_loss, divergence_gradient, freeze_embeddings, surrogate_loss
from softdimo.sampling import GlobalRngs, ImageRngs, image_seeds, initial_embeddings, sample_from_logits, \
    sample_one_step
from softdimo.method.soft import gumbel_straight_through, soft_probs
from tests.test_models import tiny_model, tiny_tokenizer


def kl(p_log, q_log):
    return (p_log.exp() * (p_log - q_log)).sum(-1)


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_divergence_gradient_is_the_gradient_of_the_jeffrey_mix(beta):
    torch.manual_seed(0)
    z_teacher = torch.randn(4, 5, 2, 8)
    z_aux = torch.randn(4, 5, 2, 8, requires_grad=True)
    lt, la = z_teacher.log_softmax(-1), z_aux.log_softmax(-1)
    divergence = ((1 - beta) * kl(lt, la) + beta * kl(la, lt)).sum()
    (autograd,) = torch.autograd.grad(divergence, z_aux)
    assert torch.allclose(divergence_gradient(z_teacher, z_aux.detach(), beta), autograd, atol=1e-6)


def test_fkl_gradient_is_p_aux_minus_p_teacher():
    z_t, z_a = torch.randn(3, 4, 1, 6), torch.randn(3, 4, 1, 6)
    assert torch.allclose(divergence_gradient(z_t, z_a, 0.0), z_a.softmax(-1) - z_t.softmax(-1))


def test_surrogate_loss_puts_exactly_g_over_batch_on_the_logits():
    z = torch.randn(5, 7, 2, 8, requires_grad=True)
    g = torch.randn(5, 7, 2, 8)
    surrogate_loss(z, g).backward()
    assert torch.allclose(z.grad, g / 5)


def test_dimo_loss_gradient_on_student_logits_at_masked_positions_only():
    torch.manual_seed(1)
    teacher, aux = tiny_model().eval(), tiny_model().eval()
    with torch.no_grad():  # make the auxiliary model differ from the teacher
        for p in aux.parameters():
            p.add_(0.1 * torch.randn_like(p))
    labels = torch.tensor([1, 2, 3])
    z = torch.randn(3, 16, 2, 8, requires_grad=True)
    tokens = z.detach().argmax(-1)
    torch.manual_seed(5)
    loss, masked = dimo_loss(z, tokens, labels, teacher, aux, teacher_cfg=2.0, beta=0.0, schedule="arccos",
                             min_masked=1, mask_unit="position", ratio_range=(0.0, 1.0))
    loss.backward()
    torch.manual_seed(5)  # the same re-masking as inside dimo_loss
    from softdimo.method.dimo import remask
    from softdimo.sampling import guided_logits

    noisy, masked_again = remask(tokens, teacher.mask_id, "arccos", min_masked=1, mask_unit="position",
                                 ratio_range=(0.0, 1.0))
    assert torch.equal(masked, masked_again) and masked.any() and (~masked).any()
    with torch.no_grad():
        expected = (aux(noisy, labels).softmax(-1) - guided_logits(teacher, noisy, labels, 2.0).softmax(-1)) / 3
    assert torch.allclose(z.grad[masked], expected[masked], atol=1e-6)
    assert z.grad[~masked].abs().max() == 0


def test_freeze_embeddings_freezes_what_dimo_keeps_fixed():
    model = tiny_model()
    freeze_embeddings(model, freeze_output=False)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"input_proj.weight", "input_proj.bias", "class_emb.weight", "pos_emb", "head.bias"}
    official = tiny_model()
    freeze_embeddings(official, freeze_output=True)  # distill.freeze_output: the output projection as well
    assert {n for n, p in official.named_parameters() if not p.requires_grad} == frozen | {"head.weight"}


def test_initial_embeddings_mask_fraction_and_perturbation():
    model = tiny_model()
    e = initial_embeddings(model, GlobalRngs(4), r_init=0.5, sigma_init=0.0, min_masked=1, mask_unit="position")
    zero_positions = (e.abs().sum(-1) == 0).sum(1)
    assert (zero_positions == 8).all()  # exactly round(16 * 0.5) positions masked, all splits at once
    assert set(e.unique().tolist()) <= {-1.0, 0.0, 1.0}
    noisy = initial_embeddings(model, GlobalRngs(4), r_init=0.5, sigma_init=0.3, min_masked=1,
                               mask_unit="position")
    assert (noisy.abs().sum(-1) > 0).all()


def test_one_step_sampler_does_not_depend_on_batch_size():
    model = tiny_model().eval()
    seeds, labels = image_seeds(2, 5), torch.arange(5)
    kw = dict(r_init=0.6, sigma_init=0.1, temperature=1.0, min_masked=1, mask_unit="position")
    full = sample_one_step(model, labels, ImageRngs(seeds), **kw)
    single = torch.cat([sample_one_step(model, labels[i:i + 1], ImageRngs(seeds[i:i + 1]), **kw) for i in range(5)])
    assert torch.equal(full, single) and full.max() < model.mask_id


def test_soft_hard_gap_vanishes_as_the_distribution_concentrates():
    """|f(E p) - E_j~p f(E_j)| is bounded by curvature x Cov_p(E): it falls with the off-peak mass eps, and is
    exactly zero for a linear f."""
    torch.manual_seed(0)
    decoder = tiny_tokenizer().eval()
    peak = torch.randint(0, 8, (1, decoder.seq_len, 2))
    others = torch.randint(0, 8, (1, decoder.seq_len, 2))
    gaps = []
    for eps in (0.3, 0.1, 0.03, 0.01):
        p = (1 - eps) * F.one_hot(peak, 8).float() + eps * F.one_hot(others, 8).float()
        with torch.no_grad():
            soft = decoder.decode_soft(p)
            # E f under the joint law "all peak tokens w.p. 1-eps, all other tokens w.p. eps", whose mean
            # embedding is exactly the soft embedding E p (the bound holds for any joint law with these marginals)
            hard = (1 - eps) * decoder.decode(peak) + eps * decoder.decode(others)
        gaps.append((soft - hard).abs().mean().item())
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < gaps[0] / 10
    linear = torch.nn.Linear(6, 3)
    p = torch.rand(2, 16, 2, 8).softmax(-1)
    from softdimo.bits import expected_bits, group_codebook

    codes = group_codebook(3)
    exp_linear = sum(p[..., 0, i, None, None] * p[..., 1, j, None, None] *
                     linear(torch.cat([codes[i], codes[j]]))[None, None] for i in range(8) for j in range(8))
    assert torch.allclose(linear(expected_bits(p)), exp_linear.squeeze(-2), atol=1e-5)


def test_gradients_reach_the_student_through_the_soft_path_not_through_sampling():
    student, decoder = tiny_model(), tiny_tokenizer()
    e = initial_embeddings(student, GlobalRngs(2), r_init=0.6, sigma_init=0.1, min_masked=1, mask_unit="position")
    z = student.forward_embeddings(e, torch.tensor([0, 1]))
    tokens = sample_from_logits(z, GlobalRngs(2))
    assert not tokens.requires_grad and tokens.dtype == torch.long
    decoder.decode_soft(soft_probs(z)).pow(2).mean().backward()
    grads = [p.grad for p in student.blocks.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_gumbel_straight_through_is_hard_forward_soft_backward():
    z = torch.randn(3, 16, 2, 8, requires_grad=True)
    y = gumbel_straight_through(z, GlobalRngs(3), tau=1.0)
    assert torch.allclose(y.detach(), F.one_hot(y.detach().argmax(-1), 8).float())
    (y * torch.randn_like(y)).sum().backward()
    assert z.grad.abs().sum() > 0
