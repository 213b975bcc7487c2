"""Turning a masked model into images: the teacher's multi-step sampler and the student's one step as
`sample_tokens(labels, rngs)` callables, batch-by-batch decoding into uint8 NHWC images, timing, FLOP counts,
the soft/hard decoding gap, and the joining of per-rank shares under torchrun.

Image i draws all its noise from its own generator seed (softdimo.sampling.ImageRngs), so the images never
depend on the batch size or the number of processes.
"""
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from softdimo import distributed
from softdimo.sampling import ImageRngs, sample_maskgit, sample_one_step
from softdimo.tokenizers.lfq import to_uint8


def generate(sample_tokens, tokenizer, seeds: list[int], labels: torch.Tensor, batch_size: int, *, quantize: str,
             desc: str = "", progress: bool = False) -> np.ndarray:
    """Decode sample_tokens(labels, rngs) batch by batch into uint8 NHWC images (quantize: the track's
    sampling.quantize, round or truncate; softdimo.tokenizers.lfq.to_uint8)."""
    out = []
    for start in tqdm(range(0, len(seeds), batch_size), disable=not progress, desc=desc):
        sl = slice(start, start + batch_size)
        with torch.no_grad():
            tokens = sample_tokens(labels[sl], ImageRngs(seeds[sl], labels.device))
            with torch.autocast(tokens.device.type, enabled=False):  # images decode in fp32 under bf16 runs
                out.append(to_uint8(tokenizer.decode(tokens), quantize).cpu().numpy())
    return np.concatenate(out)


def teacher_sampler(teacher, sampling_cfg, steps: int):
    return lambda labels, rngs: sample_maskgit(
        teacher, labels, rngs, steps=steps, schedule=sampling_cfg.schedule, cfg_scale=sampling_cfg.cfg_scale,
        randomize_temperature=sampling_cfg.randomize_temperature, temperature=sampling_cfg.temperature,
        cfg_schedule=sampling_cfg.cfg_schedule, cfg_power=sampling_cfg.cfg_power, mask_unit=sampling_cfg.mask_unit)


def student_sampler(student, r_init: float, distill_cfg, temperature: float):
    d = distill_cfg
    return lambda labels, rngs: sample_one_step(student, labels, rngs, r_init=r_init, sigma_init=d.sigma_init,
                                                min_masked=d.min_masked, mask_unit=d.mask_unit,
                                                temperature=temperature)


@torch.no_grad()
def soft_hard_gap(student, tokenizer, labels, seeds, r_init: float, distill_cfg) -> dict:
    """Claim 1 of the paper: decoding the soft embedding (expected bits) gives almost the image of the sampled
    tokens when the student's distributions are peaked. Pixel MSE in [0, 1] units, and the mean top probability."""
    from softdimo.sampling import distill_input, sample_from_logits

    rngs = ImageRngs(seeds, labels.device)
    z = student.forward_embeddings(distill_input(student, rngs, r_init, distill_cfg), labels)
    probs = (z.float() / distill_cfg.temperature).softmax(-1)
    soft = tokenizer.decode_soft(probs).clamp(-1, 1)
    hard = tokenizer.decode(sample_from_logits(z, rngs, distill_cfg.temperature)).clamp(-1, 1)
    other = tokenizer.decode(sample_from_logits(z, rngs, distill_cfg.temperature)).clamp(-1, 1)
    return {"soft_hard_mse": float(((soft - hard) / 2).pow(2).mean()),
            "hard_hard_mse": float(((other - hard) / 2).pow(2).mean()),
            "mean_top_probability": float(probs.max(-1).values.mean())}


def join_shares(images: np.ndarray, out: Path) -> np.ndarray | None:
    """Under torchrun: every rank writes its share next to `out`; rank 0 returns them joined in seed order."""
    if distributed.world_size() == 1:
        return images
    shard = out.with_name(f"{out.stem}.rank{distributed.rank()}.npy")
    np.save(shard, images)
    distributed.barrier()
    if not distributed.is_main():
        return None
    shards = [out.with_name(f"{out.stem}.rank{r}.npy") for r in range(distributed.world_size())]
    joined = np.concatenate([np.load(p) for p in shards])
    for p in shards:
        p.unlink()
    return joined


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def flops_per_image(model, tokenizer) -> tuple[float, float]:
    """(G, D): FLOPs of one masked-model forward and of one decode, per image."""
    device = next(model.parameters()).device
    tokens = torch.zeros(1, model.seq_len, model.splits, dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as g, torch.no_grad():
        model(tokens, torch.zeros(1, dtype=torch.long, device=device))
    with FlopCounterMode(display=False) as d, torch.no_grad():
        tokenizer.decode(tokens)
    return float(g.get_total_flops()), float(d.get_total_flops())
