"""Di[M]O: token-level distribution matching of a one-step student to a masked diffusion teacher.

Follows the official Di[M]O code (docs/recipe.md): the student's logits z at positions masked in the re-masked student
sample receive the divergence gradient g computed from teacher (with CFG) and auxiliary (without) predictions;
the surrogate 0.5 * ||z - sg(z - g)||^2 (summed, divided by the batch) makes dL/dz = g / B exactly. For
factorised bit tokens every group (split) is one categorical, so g is computed per split.
"""
import torch
import torch.nn.functional as F

from softdimo.sampling import guided_logits, random_positions, random_ratios


def freeze_embeddings(model, *, freeze_output: bool) -> None:
    """Freeze what Di[M]O keeps fixed (fix_emb_layer): input embedding, class embedding, positions, output bias,
    and with `freeze_output` the output projection's weight too (the official recipes freeze it)."""
    frozen = model.FROZEN_FOR_DISTILLATION + (model.OUTPUT_PROJECTION if freeze_output else ())
    for name, p in model.named_parameters():
        if name.startswith(frozen):
            p.requires_grad_(False)


def remask(tokens: torch.Tensor, mask_id: int, schedule: str, *, min_masked: int, mask_unit: str,
           ratio_range: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask max(min_masked, round(n * gamma(u))) uniformly chosen units per row, u ~ U(0, 1), gamma clamped to
    ratio_range: of the L positions
    (every group of a position together) or, with mask_unit "group", of the L * S (position, group) pairs.
    Returns the masked tokens and the (B, L, S) mask."""
    b, L, S = tokens.shape
    units = L * S if mask_unit == "group" else L
    ratios = random_ratios(b, schedule, tokens.device).clamp(*ratio_range)
    counts = (ratios * units).round().long().clamp_min(min_masked)
    masked = random_positions(counts, units)
    masked = masked.view(b, L, S) if mask_unit == "group" else masked[..., None].expand(b, L, S)
    return torch.where(masked, mask_id, tokens), masked


def divergence_gradient(logits_teacher: torch.Tensor, logits_aux: torch.Tensor, beta: float) -> torch.Tensor:
    """Gradient on the logits of the generalised Jeffrey divergence (1 - beta) FKL + beta RKL, per categorical.

    FKL = KL(p_teacher || p_aux):  g = p_aux - p_teacher
    RKL = KL(p_aux || p_teacher):  g = p_aux * (log p_aux - log p_teacher - KL(p_aux || p_teacher))
    """
    log_pt = torch.log_softmax(logits_teacher.float(), -1)
    log_pa = torch.log_softmax(logits_aux.float(), -1)
    p_a = log_pa.exp()
    g = (1 - beta) * (p_a - log_pt.exp())
    if beta:
        rkl = (p_a * (log_pa - log_pt)).sum(-1, keepdim=True)
        g = g + beta * p_a * (log_pa - log_pt - rkl)
    return torch.nan_to_num(g)


def surrogate_loss(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """0.5 * ||z - sg(z - g)||^2 / B, whose gradient with respect to z is exactly g / B."""
    return 0.5 * (z - (z - g).detach()).pow(2).sum() / z.shape[0]


def dimo_loss(student_logits, tokens, labels, teacher, aux, *, teacher_cfg: float, beta: float, schedule: str,
              min_masked: int, mask_unit: str, ratio_range: tuple[float, float]):
    """The Di[M]O term for student logits that produced `tokens`; returns (loss, (B, L, S) mask of the units
    that received the divergence gradient)."""
    noisy, masked = remask(tokens, teacher.mask_id, schedule, min_masked=min_masked, mask_unit=mask_unit,
                           ratio_range=ratio_range)
    with torch.no_grad():
        g = divergence_gradient(guided_logits(teacher, noisy, labels, teacher_cfg), aux(noisy, labels), beta)
    g = g * masked[..., None]
    return surrogate_loss(student_logits, g), masked


def aux_loss(aux, tokens, labels, *, schedule: str, label_smoothing: float, min_masked: int, mask_unit: str,
             ratio_range: tuple[float, float]) -> torch.Tensor:
    """Cross-entropy of the auxiliary model on freshly re-masked student samples (masked units only)."""
    noisy, masked = remask(tokens, aux.mask_id, schedule, min_masked=min_masked, mask_unit=mask_unit,
                           ratio_range=ratio_range)
    logits = aux(noisy, labels)
    if not masked.any():
        return logits.sum() * 0
    return F.cross_entropy(logits[masked].float(), tokens[masked], label_smoothing=label_smoothing)
