"""Sample the teacher at a step count: uint8 NHWC images under arr_0 (+ labels) and a JSON sidecar.

    python -m softdimo.sample --config CFG --teacher teacher.pt --tokenizer tokenizer.pt \
        --steps 8 --seed 0 --out results/c2i/samples/teacher_8/seed0.npz

Image i of evaluation seed k has class i mod num_classes and draws all its noise from generator seed
k*1_000_000 + i, so the set of images does not depend on batch size. images/s is the wall-clock rate of
sampling plus decoding, model loading excluded, at the configured batch size.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from softdimo.checkpoints import load_artefact
from softdimo.config import load_config
from softdimo.io import atomic_savez, git_commit, write_json
from softdimo.sampling import ImageRngs, forward_passes_per_step, image_seeds, sample_maskgit
from softdimo.tokenizers.lfq import to_uint8


def generate_teacher(teacher, tokenizer, sampling_cfg, *, steps: int, seeds: list[int], labels: torch.Tensor,
                     batch_size: int, progress: bool = False) -> np.ndarray:
    out = []
    for start in tqdm(range(0, len(seeds), batch_size), disable=not progress, desc=f"teacher {steps} steps"):
        sl = slice(start, start + batch_size)
        tokens = sample_maskgit(teacher, labels[sl], ImageRngs(seeds[sl], labels.device), steps=steps,
                                schedule=sampling_cfg.schedule, cfg_scale=sampling_cfg.cfg_scale,
                                randomize_temperature=sampling_cfg.randomize_temperature,
                                temperature=sampling_cfg.temperature)
        with torch.no_grad():
            out.append(to_uint8(tokenizer.decode(tokens)).cpu().numpy())
    return np.concatenate(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True, help="evaluation seed k")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch_threads)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    torch.set_num_threads(args.threads or cfg.torch_threads)
    teacher, _ = load_artefact(args.teacher, "teacher", cfg.device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", cfg.device)
    n = cfg.c2i.eval.n_samples
    seeds = image_seeds(args.seed, n)
    labels = torch.arange(n, device=cfg.device) % teacher.num_classes
    t0 = time.perf_counter()
    images = generate_teacher(teacher, tokenizer, cfg.c2i.sampling, steps=args.steps, seeds=seeds, labels=labels,
                              batch_size=cfg.c2i.sampling.batch_size, progress=True)
    seconds = time.perf_counter() - t0
    atomic_savez(args.out, arr_0=images, labels=labels.cpu().numpy())
    write_json(Path(args.out).with_suffix(".json"), {
        "method": "teacher", "steps": args.steps,
        "nfe": args.steps * forward_passes_per_step(cfg.c2i.sampling.cfg_scale),
        "eval_seed": args.seed, "image_seeds": f"{seeds[0]}..{seeds[-1]}", "n_samples": n,
        "seconds": round(seconds, 3), "images_per_s": n / seconds, "batch_size": cfg.c2i.sampling.batch_size,
        "device": cfg.device, "torch_threads": torch.get_num_threads(), "git_commit": git_commit()})
    print(f"{n} images in {seconds:.2f}s ({n / seconds:.1f} images/s)")


if __name__ == "__main__":
    main()
