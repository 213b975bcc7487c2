"""MaskGIT-style multi-step sampling with one random stream per image.

Every random draw of image i comes from its own generator seeded with its image seed, so a sample never
depends on the batch it was drawn in, on the batch size or on the device count (EDM's generate.py habit).
"""
import math

import torch


class _Gumbel:
    def gumbel(self, *shape) -> torch.Tensor:
        u = self.rand(*shape).clamp(1e-20, 1 - 1e-7)
        return -torch.log(-torch.log(u))


class ImageRngs(_Gumbel):
    """One torch.Generator per image; draws are stacked along the batch dimension."""

    def __init__(self, seeds, device="cpu"):
        # generators live on the sampling device: drawing 64 steps x 256 x 2 x 128 Gumbels per image on the
        # CPU would bound GPU sampling. CPU and CUDA streams differ, so a sample depends on (seed, device type).
        self.device = torch.device(device)
        self.generators = [torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds]

    def rand(self, *shape) -> torch.Tensor:
        return torch.stack([torch.rand(shape, generator=g, device=self.device) for g in self.generators])

    def randn(self, *shape) -> torch.Tensor:
        return torch.stack([torch.randn(shape, generator=g, device=self.device) for g in self.generators])


def image_seeds(eval_seed: int, n: int) -> list[int]:
    """Image seeds of evaluation seed k: k*1_000_000 + i, disjoint across k for any n < 1e6."""
    return [eval_seed * 1_000_000 + i for i in range(n)]


def mask_ratio(schedule: str, progress: float) -> float:
    """Fraction of tokens still masked after `progress` in [0, 1] of the sampling trajectory."""
    if schedule == "arccos":
        return math.acos(progress) / (math.pi / 2)
    if schedule == "cosine":
        return math.cos(progress * math.pi / 2)
    if schedule == "linear":
        return 1.0 - progress
    raise ValueError(f"unknown mask schedule {schedule!r}")


# The fixed per-step token budget of MaskGIT-pytorch's sampler (softdimo/tracks/maskgit/sampler.py); here
# because the config checks it before any job runs.
def schedule_values(mode: str, steps: int) -> torch.Tensor:
    r = torch.linspace(1, 0, steps)
    values = {"root": lambda: 1 - r**0.5, "linear": lambda: 1 - r, "square": lambda: 1 - r**2,
              "cosine": lambda: torch.cos(r * math.pi / 2), "arccos": lambda: torch.arccos(r) / (math.pi / 2)}
    if mode not in values:
        raise ValueError(f"unknown schedule {mode!r}")
    return values[mode]()


def token_budget(mode: str, steps: int, n_tokens: int) -> list[int]:
    """Tokens committed at each step: round(v / sum(v) * n), at least 1, the last step takes the remainder."""
    v = schedule_values(mode, steps)
    budget = (v / v.sum() * n_tokens).round()
    budget[budget == 0] = 1
    budget[-1] += n_tokens - budget.sum()
    if budget[-1] < 1:  # MaskGIT-pytorch would ask top-k for a negative count here
        raise ValueError(f"{steps} steps of {mode} over {n_tokens} tokens leave the last step {int(budget[-1])} tokens")
    return [int(b) for b in budget]


def random_ratios(b: int, schedule: str, device="cpu") -> torch.Tensor:
    """Mask ratios gamma(u), u ~ U(0, 1), one per row (training masks; global RNG)."""
    return torch.tensor([mask_ratio(schedule, u) for u in torch.rand(b).tolist()], device=device)


def random_positions(counts: torch.Tensor, L: int) -> torch.Tensor:
    """(B, L) bool: exactly counts[b] uniformly chosen positions of row b (global RNG)."""
    ranks = torch.rand(len(counts), L, device=counts.device).argsort(1).argsort(1)
    return ranks < counts[:, None]


def guided_logits(model, tokens, labels, cfg_scale: float) -> torch.Tensor:
    """z_u + w (z_c - z_u); one forward when w == 1."""
    if cfg_scale == 1.0:
        return model(tokens, labels)
    null = torch.full_like(labels, model.null_class)
    z = model(torch.cat([tokens, tokens]), torch.cat([labels, null]))
    z_c, z_u = z.float().chunk(2)  # combine in fp32: under bf16 the difference is scaled by w (up to 13)
    return z_u + cfg_scale * (z_c - z_u)


def forward_passes_per_step(cfg_scale: float) -> int:
    """Network evaluations per image of one guided_logits call: the unconditional pass only when w != 1."""
    return 1 if cfg_scale == 1.0 else 2


class ForwardCounter:
    """A masked model that counts the rows its forwards evaluate (model(...) and forward_embeddings(...)); every
    other attribute is the model's. A CFG step over b images evaluates 2b rows, an unguided one b, so
    nfe(n_images) is the number of network evaluations per image that actually ran: the sidecars' nfe. MaskBit's
    cosine_power ramp starts at w = 1, so its first step is one pass (64 steps: 127, not 128)."""

    def __init__(self, model):
        self.model, self.rows = model, 0

    def __call__(self, x, cond, *args, **kwargs):
        self.rows += len(x)
        return self.model(x, cond, *args, **kwargs)

    def forward_embeddings(self, e, cond, *args, **kwargs):
        self.rows += len(e)
        return self.model.forward_embeddings(e, cond, *args, **kwargs)

    def __getattr__(self, name):  # only for names not set in __init__
        return getattr(self.model, name)

    def nfe(self, n_images: int) -> int:
        if n_images <= 0 or self.rows % n_images:
            raise ValueError(f"{self.rows} evaluated rows for {n_images} images: not a whole number per image")
        return self.rows // n_images


def guidance_weight(cfg_scale: float, cfg_schedule: str, cfg_power: float, step: int, steps: int) -> float:
    """CFG weight w of step `step`: constant, or MaskBit's annealing that ramps w from 1 (conditional only) to
    cfg_scale along (1 - cos(pi * (step / steps) ** cfg_power)) / 2."""
    if cfg_schedule == "constant":
        return cfg_scale
    if cfg_schedule == "cosine_power":
        return 1.0 + (cfg_scale - 1.0) * (1 - math.cos(math.pi * (step / steps) ** cfg_power)) / 2
    raise ValueError(f"unknown cfg_schedule {cfg_schedule!r}")


def maskgit_nfe(steps: int, cfg_scale: float, cfg_schedule: str = "constant", cfg_power: float = 1.0) -> int:
    """Network evaluations per image of sample_maskgit over `steps` steps (each step that runs: one pass where
    its guidance weight is 1, two otherwise), for rates and FLOP ceilings computed without a sampling run.
    sample_maskgit stops early only when nothing is left masked, i.e. with more steps than units."""
    return sum(forward_passes_per_step(guidance_weight(cfg_scale, cfg_schedule, cfg_power, step, steps))
               for step in range(steps))


@torch.no_grad()
def sample_maskgit(model, labels: torch.Tensor, rngs: ImageRngs, *, steps: int, schedule: str, cfg_scale: float,
                   randomize_temperature: float, temperature: float, cfg_schedule: str = "constant",
                   cfg_power: float = 1.0, mask_unit: str = "position") -> torch.Tensor:
    """Multi-step sampling from all-masked tokens; returns (B, L, S) long tokens without mask ids.

    Each step samples every masked unit (Gumbel-max at `temperature`), scores it by its log-probability plus
    Gumbel noise scaled by randomize_temperature * (1 - progress), keeps the most confident and re-masks the
    rest so that a fraction schedule(progress) stays masked. A unit is a position (all its groups together,
    MaskGIT) or one group of a position (MaskBit: the two bit splits of a position unmask independently).
    """
    if mask_unit not in ("position", "group"):
        raise ValueError(f"unknown mask_unit {mask_unit!r}")
    b, L, S = len(labels), model.seq_len, model.splits
    units = L if mask_unit == "position" else L * S
    tokens = torch.full((b, L, S), model.mask_id, dtype=torch.long, device=labels.device)
    masked = torch.ones(b, units, dtype=torch.bool, device=labels.device)
    for step in range(steps):
        n_masked = int(masked[0].sum())
        if n_masked == 0:
            break
        w = guidance_weight(cfg_scale, cfg_schedule, cfg_power, step, steps)
        logits = guided_logits(model, tokens, labels, w) / temperature
        logp = torch.log_softmax(logits.float(), dim=-1)
        candidate = (logp + rngs.gumbel(L, S, model.classes_per_split)).argmax(-1)
        confidence = logp.gather(-1, candidate[..., None])[..., 0]
        confidence = confidence.sum(-1) if mask_unit == "position" else confidence.flatten(1)
        progress = (step + 1) / steps
        noise_shape = (L,) if mask_unit == "position" else (L, S)
        confidence = confidence + randomize_temperature * (1 - progress) * rngs.gumbel(*noise_shape).flatten(1)
        as_groups = (lambda m: m[..., None]) if mask_unit == "position" else (lambda m: m.view(b, L, S))
        tokens = torch.where(as_groups(masked), candidate, tokens)
        n_keep_masked = 0 if step == steps - 1 else min(n_masked - 1, math.floor(units * mask_ratio(schedule, progress)))
        confidence = confidence.masked_fill(~masked, math.inf)
        remask = torch.zeros_like(masked)
        if n_keep_masked > 0:
            lowest = confidence.argsort(dim=1)[:, :n_keep_masked]
            remask.scatter_(1, lowest, True)
        tokens = torch.where(as_groups(remask), model.mask_id, tokens)
        masked = remask
    return tokens


def maskgen_guidance(guidance_scale: float, decay: str, scale_pow: float, progress: float) -> float:
    """MaskGen's guidance s at `progress` = (step + 1) / steps, in its z_c + s (z_c - z_u) form."""
    if decay == "none":
        return guidance_scale
    if decay == "cosine":
        return (guidance_scale - 1) * (1 - math.cos(math.pi * progress ** scale_pow)) / 2 + 1
    if decay == "linear":
        return (guidance_scale - 1) * progress + 1
    raise ValueError(f"unknown guidance_decay {decay!r}")


@torch.no_grad()
def sample_maskgen(model, prompt_ids: torch.Tensor, rngs: ImageRngs, *, steps: int, schedule: str,
                   guidance_scale: float, guidance_decay: str, guidance_scale_pow: float,
                   randomize_temperature: float, softmax_temperature_annealing: bool) -> torch.Tensor:
    """MaskGen's own sampler (1d-tokenizer, MaskGen generate), which differs from sample_maskgit: progress
    counts from (step + 1) / steps for the guidance too; the guidance is z_c + s (z_c - z_u), i.e. our
    w = 1 + s; logits are divided by 0.5 + 0.8 (1 - progress) when annealing (else by the Gumbel temperature);
    the token draw and the confidence both add Gumbel noise scaled by randomize_temperature * (1 - progress);
    the confidence is the tempered logit of the drawn token (not its log-probability); at least one token is
    re-masked while any stays masked, and the last step keeps every draw. Returns (B, L, 1) tokens."""
    b, L = len(prompt_ids), model.seq_len
    tokens = torch.full((b, L, 1), model.mask_id, dtype=torch.long, device=prompt_ids.device)
    for step in range(steps):
        progress = (step + 1) / steps
        noise = randomize_temperature * (1 - progress)
        s = maskgen_guidance(guidance_scale, guidance_decay, guidance_scale_pow, progress)
        logits = guided_logits(model, tokens, prompt_ids, 1.0 + s)[:, :, 0].float()
        logits = logits / (0.5 + 0.8 * (1 - progress) if softmax_temperature_annealing else noise)
        masked = tokens[..., 0] == model.mask_id
        drawn = (logits + noise * rngs.gumbel(L, model.classes_per_split)).argmax(-1)
        drawn = torch.where(masked, drawn, tokens[..., 0])
        if step == steps - 1:
            return drawn[..., None]
        confidence = logits.gather(-1, drawn[..., None])[..., 0] + noise * rngs.gumbel(L)
        confidence = confidence.masked_fill(~masked, math.inf)
        n_remask = max(1, min(int(masked[0].sum()) - 1, math.floor(L * mask_ratio(schedule, progress))))
        lowest = confidence.argsort(dim=1)[:, :n_remask]
        remask = torch.zeros_like(masked).scatter_(1, lowest, True)
        tokens = torch.where(remask, model.mask_id, drawn)[..., None]
    return tokens


class GlobalRngs(_Gumbel):
    """The ImageRngs interface over the global RNG, for training where the loop seeds every step."""

    def __init__(self, batch: int, device="cpu"):
        self.batch, self.device = batch, device

    def rand(self, *shape) -> torch.Tensor:
        return torch.rand((self.batch, *shape), device=self.device)

    def randn(self, *shape) -> torch.Tensor:
        return torch.randn((self.batch, *shape), device=self.device)


def initial_embeddings(model, rngs, *, r_init: float, sigma_init: float, min_masked: int,
                       mask_unit: str) -> torch.Tensor:
    """Di[M]O's student input: uniform random tokens, exactly max(min_masked, round(n * r_init)) of the n units
    masked (n = L positions, or L * S (position, group) pairs when mask_unit is "group"), then a
    variance-preserving Gaussian perturbation e <- sigma * eps + sqrt(1 - sigma^2) * e of every image position."""
    L, S, C = model.seq_len, model.splits, model.classes_per_split
    tokens = (rngs.rand(L, S) * C).long().clamp_max(C - 1)
    units = L * S if mask_unit == "group" else L
    n_masked = max(min_masked, round(units * r_init))
    if n_masked:
        masked = rngs.rand(units).argsort(dim=1)[:, :n_masked]
        if mask_unit == "group":
            tokens = tokens.flatten(1).scatter(1, masked, model.mask_id).view_as(tokens)
        else:
            tokens.scatter_(1, masked[..., None].expand(-1, -1, S), model.mask_id)
    e = model.embed(tokens)
    return sigma_init * rngs.randn(*e.shape[1:]) + math.sqrt(1 - sigma_init**2) * e


def distill_input(model, rngs, r_init: float, distill) -> torch.Tensor:
    """initial_embeddings with a track's distill settings (sigma_init, min_masked, mask_unit)."""
    return initial_embeddings(model, rngs, r_init=r_init, sigma_init=distill.sigma_init,
                              min_masked=distill.min_masked, mask_unit=distill.mask_unit)


def sample_from_logits(logits: torch.Tensor, rngs, temperature: float = 1.0) -> torch.Tensor:
    """Categorical sample per group via Gumbel-max, (B, L, S, C) -> (B, L, S)."""
    return (logits.float() / temperature + rngs.gumbel(*logits.shape[1:])).argmax(-1)


@torch.no_grad()
def sample_one_step(student, labels: torch.Tensor, rngs, *, r_init: float, sigma_init: float, min_masked: int,
                    mask_unit: str, temperature: float) -> torch.Tensor:
    """The one-step student: logits from the perturbed random/masked input, one categorical draw, no CFG."""
    e = initial_embeddings(student, rngs, r_init=r_init, sigma_init=sigma_init, min_masked=min_masked,
                           mask_unit=mask_unit)
    return sample_from_logits(student.forward_embeddings(e, labels), rngs, temperature)
