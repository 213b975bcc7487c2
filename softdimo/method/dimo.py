"""Di[M]O: token-level distribution matching of a one-step student to a masked diffusion teacher.

Follows the official code (paper.md §1): the student's logits z at positions masked in the re-masked student
sample receive the divergence gradient g computed from teacher (with CFG) and auxiliary (without) predictions;
the surrogate 0.5 * ||z - sg(z - g)||^2 (summed, divided by the batch) makes dL/dz = g / B exactly. For
factorised bit tokens every group (split) is one categorical, so g is computed per split.
"""
import torch
import torch.nn.functional as F

from softdimo.sampling import guided_logits, random_positions, random_ratios


def freeze_embeddings(model) -> None:
    """Freeze what Di[M]O keeps fixed (fix_emb_layer): input embedding, class embedding, positions, output bias."""
    frozen = getattr(model, "FROZEN_FOR_DISTILLATION", ("input_proj.", "class_emb.", "pos_emb", "head.bias"))
    for name, p in model.named_parameters():
        if name.startswith(frozen):
            p.requires_grad_(False)


def remask(tokens: torch.Tensor, mask_id: int, schedule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask exactly round(L * gamma(u)) uniformly chosen positions per row, u ~ U(0, 1) (at least one for
    cosine_clamped, as Di[M]O's Meissonic code does)."""
    b, L, _ = tokens.shape
    counts = (random_ratios(b, schedule, tokens.device) * L).round().long()
    masked = random_positions(counts.clamp_min(1) if schedule == "cosine_clamped" else counts, L)
    return torch.where(masked[..., None], mask_id, tokens), masked


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


def dimo_loss(student_logits, tokens, labels, teacher, aux, *, teacher_cfg: float, beta: float, schedule: str):
    """The Di[M]O term for student logits that produced `tokens`; returns (loss, (B, L) mask of the positions
    that received the divergence gradient)."""
    noisy, masked = remask(tokens, teacher.mask_id, schedule)
    with torch.no_grad():
        g = divergence_gradient(guided_logits(teacher, noisy, labels, teacher_cfg), aux(noisy, labels), beta)
    g = g * masked[..., None, None]
    return surrogate_loss(student_logits, g), masked


def aux_loss(aux, tokens, labels, *, schedule: str, label_smoothing: float) -> torch.Tensor:
    """Cross-entropy of the auxiliary model on freshly re-masked student samples (masked positions only)."""
    noisy, masked = remask(tokens, aux.mask_id, schedule)
    logits = aux(noisy, labels)
    if not masked.any():
        return logits.sum() * 0
    return F.cross_entropy(logits[masked].flatten(0, 1).float(), tokens[masked].flatten(),
                           label_smoothing=label_smoothing)
