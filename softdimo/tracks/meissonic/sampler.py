"""Meissonic's own multi-step sampler (its pipeline and scheduler), with one random stream per image.

As upstream: all 4096 tokens start masked; step i of n feeds the model the timestep n - 1 - i (which it scales
by 1000), combines z_neg + g (z_c - z_neg) against the negative prompt's features, draws every masked token
from softmax(z), then re-masks floor(L cos(pi/2 (i+1)/n)) of them (at least 1, at most #masked - 1): the lowest
log p(drawn) + t_i G with Gumbel noise G and t_i running linearly from temperature_start to temperature_end
(mask_by_random_topk); the last step keeps every draw. Already decided tokens never return to the mask
(upstream gives them the confidence log(float max); here the same value).
"""
import math

import torch


def guided(model, tokens, prompt_ids, guidance_scale: float, timestep) -> torch.Tensor:
    """z_u + g (z_c - z_u) in fp32 with the model's null prompt (the negative prompt) as the unguided branch."""
    if guidance_scale == 1.0:
        return model(tokens, prompt_ids, timestep=timestep).float()
    null = torch.full_like(prompt_ids, model.null_class)
    z = model(torch.cat([tokens, tokens]), torch.cat([prompt_ids, null]), timestep=torch.cat([timestep, timestep]))
    z_c, z_u = z.float().chunk(2)
    return z_u + guidance_scale * (z_c - z_u)


def remask_count(schedule: str, step: int, steps: int, L: int, n_masked: torch.Tensor) -> torch.Tensor:
    ratio = (step + 1) / steps
    keep = math.cos(ratio * math.pi / 2) if schedule == "cosine" else 1 - ratio
    return torch.clamp(torch.minimum(n_masked - 1, torch.full_like(n_masked, math.floor(L * keep))), min=1)


@torch.no_grad()
def sample_meissonic(model, prompt_ids: torch.Tensor, rngs, *, steps: int, guidance_scale: float, schedule: str,
                     temperature_start: float, temperature_end: float) -> torch.Tensor:
    """(B,) prompt ids -> (B, L, 1) tokens."""
    b, L, C = len(prompt_ids), model.seq_len, model.classes_per_split
    tokens = torch.full((b, L, 1), model.mask_id, dtype=torch.long, device=prompt_ids.device)
    temperatures = torch.linspace(temperature_start, temperature_end, steps).tolist()
    known = math.log(torch.finfo(torch.float32).max)
    for step in range(steps):
        timestep = torch.full((b,), float(steps - 1 - step), device=prompt_ids.device)
        log_p = torch.log_softmax(guided(model, tokens, prompt_ids, guidance_scale, timestep)[:, :, 0], -1)
        masked = tokens[..., 0] == model.mask_id
        drawn = torch.where(masked, (log_p + rngs.gumbel(L, C)).argmax(-1), tokens[..., 0])
        if step == steps - 1:
            return drawn[..., None]
        confidence = log_p.gather(-1, drawn[..., None])[..., 0].clamp_min(math.log(1e-20)).masked_fill(~masked, known)
        confidence = confidence + temperatures[step] * rngs.gumbel(L)
        n = remask_count(schedule, step, steps, L, masked.sum(-1, keepdim=True))
        cut = confidence.sort(dim=-1).values.gather(1, n)
        tokens = torch.where(confidence < cut, model.mask_id, drawn)[..., None]
    return tokens
