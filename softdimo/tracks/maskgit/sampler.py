"""The samplers of the MaskGit track as MaskGIT-pytorch (Halton-MaskGIT v1.0, Trainer/vit.py) and Di[M]O's
sample_MaskGit.py run them, written here from their description, with one random stream per image
(softdimo.sampling.ImageRngs) instead of the global RNG.

Teacher: a token budget per step fixed in advance by the schedule; step i guides with w_i = w i / (steps - 1)
as (1 + w_i) z_c - w_i z_u (one pass where w_i = 0); p = softmax(sm_temp * logits); every position draws a
token from p; confidence log p(draw) + r_temp (1 - i / (steps - 1)) Gumbel; the budget's most confident
still-masked positions keep their draw. With mask_class 'clamp' the draw is over the codes and the mask row
(both official samplers), and a drawn mask id is decoded as the last code (softdimo.tokenizers.vqgan).
"""
import math

import torch

from softdimo.sampling import initial_embeddings, token_budget


def cfg_ramp(w: float, step: int, steps: int) -> float:
    if steps < 2:
        raise ValueError("MaskGIT-pytorch's CFG ramp w i / (steps - 1) needs at least 2 steps")
    return w * step / (steps - 1)


def guided(model, e, labels, w: float, with_mask: bool) -> torch.Tensor:
    """(B, L, C or C + 1) logits; (1 + w) z_c - w z_u, one conditional pass when w == 0."""
    logits = (lambda x, y: model.logits_with_mask(x, y)) if with_mask else \
        (lambda x, y: model.forward_embeddings(x, y)[:, :, 0])
    if w == 0:
        return logits(e, labels).float()
    null = torch.full_like(labels, model.null_class)
    z_c, z_u = logits(torch.cat([e, e]), torch.cat([labels, null])).float().chunk(2)
    return (1 + w) * z_c - w * z_u


def forward_passes(steps: int, w: float) -> int:
    """Network evaluations per image of sample_teacher (the first step is unguided)."""
    return sum(1 if cfg_ramp(w, i, steps) == 0 else 2 for i in range(steps))


@torch.no_grad()
def sample_teacher(model, labels: torch.Tensor, rngs, *, steps: int, schedule: str, cfg_w: float,
                   softmax_temperature: float, randomize_temperature: float, randomize: str,
                   mask_class: str) -> torch.Tensor:
    """(B, L, 1) tokens; ids may include the mask id when mask_class is 'clamp' (decoded as the last code)."""
    b, L = len(labels), model.seq_len
    tokens = torch.full((b, L, 1), model.mask_id, dtype=torch.long, device=labels.device)
    masked = torch.ones(b, L, dtype=torch.bool, device=labels.device)
    with_mask = mask_class == "clamp"
    for step, budget in enumerate(token_budget(schedule, steps, L)):
        budget = min(budget, int(masked[0].sum()))
        if budget == 0:
            break
        logits = guided(model, model.embed(tokens), labels, cfg_ramp(cfg_w, step, steps), with_mask)
        logp = torch.log_softmax(logits * softmax_temperature, dim=-1)
        draw = (logp + rngs.gumbel(L, logp.shape[-1])).argmax(-1)  # a categorical draw from p
        confidence = logp.gather(-1, draw[..., None])[..., 0]
        if randomize == "linear":
            confidence = confidence + randomize_temperature * (1 - step / (steps - 1)) * rngs.gumbel(L)
        confidence = confidence.masked_fill(~masked, -math.inf)
        chosen = torch.zeros_like(masked).scatter_(1, confidence.topk(budget, dim=1).indices, True)
        tokens = torch.where(chosen[..., None], draw[..., None], tokens)
        masked = masked & ~chosen
    return tokens


@torch.no_grad()
def sample_student(student, labels: torch.Tensor, rngs, *, r_init: float, sigma_init: float, temperature: float,
                   mask_class: str, min_masked: int) -> torch.Tensor:
    """Di[M]O's one step: random codes with max(min_masked, round(L r_init)) masked, perturbed embeddings, one
    draw, no CFG."""
    e = initial_embeddings(student, rngs, r_init=r_init, sigma_init=sigma_init, min_masked=min_masked,
                           mask_unit="position")
    if mask_class == "clamp":
        logits = student.logits_with_mask(e, labels)
    else:
        logits = student.forward_embeddings(e, labels)[:, :, 0]
    draw = (logits.float() / temperature + rngs.gumbel(*logits.shape[1:])).argmax(-1)
    return draw[..., None]
