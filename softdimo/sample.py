"""Sample a teacher (at a step count) or a one-step student: uint8 NHWC images under arr_0 (+ labels) and a
JSON sidecar with seeds, NFE, wall time and images/s.

    python -m softdimo.sample --config CFG --teacher teacher.pt --tokenizer tokenizer.pt --steps 8 --seed 0 \
        --out results/c2i/samples/teacher/steps8/seed0.npz
    python -m softdimo.sample --config CFG --teacher teacher.pt --tokenizer tokenizer.pt --student generator.pt \
        --seed 0 --out results/c2i/samples/dimo/steps1/seed0.npz

Image i of evaluation seed k has class i mod num_classes and draws all its noise from generator seed
k*1_000_000 + i, so the set of images does not depend on batch size. images/s is the wall-clock rate of
sampling plus decoding at the configured batch size, model loading excluded. For a student, the teacher's
rate at its largest configured step count is measured in the same process on the same batch size, next to
the FLOP ceiling of the speed-up.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from softdimo import distributed
from softdimo.checkpoints import load_artefact
from softdimo.config import load_config
from softdimo.io import atomic_savez, git_commit, write_json
from softdimo.runtime import autocast, setup_torch
from softdimo.sampling import ImageRngs, forward_passes_per_step, image_seeds, sample_maskgit, sample_one_step
from softdimo.tokenizers.lfq import to_uint8


def generate(sample_tokens, tokenizer, seeds: list[int], labels: torch.Tensor, batch_size: int,
             desc: str = "", progress: bool = False) -> np.ndarray:
    """Decode sample_tokens(labels, rngs) batch by batch into uint8 NHWC images."""
    out = []
    for start in tqdm(range(0, len(seeds), batch_size), disable=not progress, desc=desc):
        sl = slice(start, start + batch_size)
        with torch.no_grad():
            tokens = sample_tokens(labels[sl], ImageRngs(seeds[sl], labels.device))
            with torch.autocast(tokens.device.type, enabled=False):  # images decode in fp32 under bf16 runs
                out.append(to_uint8(tokenizer.decode(tokens)).cpu().numpy())
    return np.concatenate(out)


def teacher_sampler(teacher, sampling_cfg, steps: int):
    return lambda labels, rngs: sample_maskgit(
        teacher, labels, rngs, steps=steps, schedule=sampling_cfg.schedule, cfg_scale=sampling_cfg.cfg_scale,
        randomize_temperature=sampling_cfg.randomize_temperature, temperature=sampling_cfg.temperature,
        cfg_schedule=sampling_cfg.cfg_schedule, cfg_power=sampling_cfg.cfg_power, mask_unit=sampling_cfg.mask_unit)


def student_sampler(student, r_init: float, distill_cfg):
    return lambda labels, rngs: sample_one_step(student, labels, rngs, r_init=r_init,
                                                sigma_init=distill_cfg.sigma_init, temperature=distill_cfg.temperature)


@torch.no_grad()
def soft_hard_gap(student, tokenizer, labels, seeds, r_init: float, distill_cfg) -> dict:
    """Claim 1 of the paper: decoding the soft embedding (expected bits) gives almost the image of the sampled
    tokens when the student's distributions are peaked. Pixel MSE in [0, 1] units, and the mean top probability."""
    from softdimo.sampling import initial_embeddings, sample_from_logits

    rngs = ImageRngs(seeds, labels.device)
    z = student.forward_embeddings(initial_embeddings(student, rngs, r_init=r_init,
                                                      sigma_init=distill_cfg.sigma_init), labels)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--student", default=None, help="one-step student weights; without it the teacher is sampled")
    parser.add_argument("--steps", type=int, default=None, help="teacher sampling steps (teacher only)")
    parser.add_argument("--seed", type=int, required=True, help="evaluation seed k")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch_threads)")
    args = parser.parse_args(argv)
    if (args.student is None) == (args.steps is None):
        parser.error("give either --steps (teacher) or --student")
    cfg = load_config(args.config)
    setup_torch(args.threads or cfg.torch_threads)
    device = distributed.init(cfg.device)
    s_cfg = cfg.c2i.sampling
    teacher, _ = load_artefact(args.teacher, "teacher", device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", device)
    n, bs = cfg.c2i.eval.n_samples, s_cfg.batch_size
    seeds = image_seeds(args.seed, n)
    labels = torch.arange(n, device=device) % teacher.num_classes
    meta = {"eval_seed": args.seed, "image_seeds": f"{seeds[0]}..{seeds[-1]}", "n_samples": n, "batch_size": bs,
            "device": cfg.device, "precision": cfg.precision, "processes": distributed.world_size(), "torch_threads": torch.get_num_threads(),
            "git_commit": git_commit()}
    if args.student is None:
        sampler = teacher_sampler(teacher, s_cfg, args.steps)
        meta.update(method="teacher", steps=args.steps, nfe=args.steps * forward_passes_per_step(s_cfg.cfg_scale))
    else:
        student, payload = load_artefact(args.student, "student", device)
        sampler = student_sampler(student, payload["student"]["r_init"], cfg.c2i.distill)
        meta.update(method=payload["method"], steps=1, nfe=1, student_total_steps=payload["total_steps"])
    mine = distributed.share(n)
    with autocast(cfg.precision, device):
        images, seconds = timed(lambda: generate(sampler, tokenizer, seeds[mine], labels[mine], bs,
                                                 desc=meta["method"], progress=distributed.is_main()))
    images = join_shares(images, Path(args.out))
    if images is None:  # not rank 0: its share is handed over
        return
    # per process (one GPU), the unit of the teacher rate below; all processes together in images_per_s_total
    meta.update(seconds=round(seconds, 3), images_per_s=len(seeds[mine]) / seconds,
                images_per_s_total=n / seconds)
    if args.student is not None:  # the teacher's rate on the same batch size, in this process
        n_ref = max(steps for steps in s_cfg.steps)
        k = min(bs, n)
        with autocast(cfg.precision, device):
            _, t_seconds = timed(lambda: generate(teacher_sampler(teacher, s_cfg, n_ref), tokenizer, seeds[:k],
                                                  labels[:k], bs))
        meta.update(soft_hard_gap(student, tokenizer, labels[:k], seeds[:k], payload["student"]["r_init"],
                                  cfg.c2i.distill))
        g, d = flops_per_image(teacher, tokenizer)
        c = forward_passes_per_step(s_cfg.cfg_scale)
        meta.update(teacher_steps=n_ref, teacher_images_per_s=k / t_seconds,
                    speedup=meta["images_per_s"] / (k / t_seconds), flops_generator=g, flops_decoder=d,
                    speedup_flop_ceiling=(c * n_ref * g + d) / (g + d))
    atomic_savez(args.out, arr_0=images, labels=labels.cpu().numpy())
    write_json(Path(args.out).with_suffix(".json"), meta)
    print(f"{meta['method']}: {n} images in {seconds:.2f}s on {distributed.world_size()} process(es) "
          f"({meta['images_per_s']:.1f} images/s per process)")


if __name__ == "__main__":
    main()
