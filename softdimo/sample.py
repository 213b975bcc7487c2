"""Sample a teacher (at a step count) or a one-step student: uint8 NHWC images under arr_0 (+ labels) and a
JSON sidecar with seeds, NFE, quantisation, wall time and images/s.

    python -m softdimo.sample --config CFG --teacher teacher.pt --tokenizer tokenizer.pt --steps 8 --seed 0 \
        --out results/c2i/samples/teacher/steps8/seed0.npz
    python -m softdimo.sample --config CFG --teacher teacher.pt --tokenizer tokenizer.pt --student generator.pt \
        --seed 0 --out results/c2i/samples/dimo/steps1/seed0.npz
    python -m softdimo.sample --config CFG --family maskgit --teacher results/c2i/maskgit/teacher.pt \
        --tokenizer results/c2i/maskgit/tokenizer.pt --steps 8 --seed 0 --out results/c2i/samples/maskgit/teacher/...

Image i of evaluation seed k has class i mod num_classes and draws all its noise from generator seed
k*1_000_000 + i, so the set of images does not depend on batch size. images/s is the wall-clock rate of
sampling plus decoding at the configured batch size, model loading excluded. For a student, the teacher's
rate at its largest configured step count is measured in the same process on the same batch size, next to
the FLOP ceiling of the speed-up. NFE is the number of network evaluations per image that ran (counted through
softdimo.sampling.ForwardCounter): with MaskBit's cosine_power guidance ramp the first step is unguided, one pass.
Decoded images become uint8 by c2i.sampling.quantize (round, or the official MaskBit truncation).
"""
import argparse
from pathlib import Path

import torch

from softdimo import distributed
from softdimo.checkpoints import load_artefact
from softdimo.config import family_config, load_config
from softdimo.generation import flops_per_image, generate, join_shares, soft_hard_gap, student_sampler, teacher_sampler, timed
from softdimo.io import git_commit, write_samples
from softdimo.runtime import autocast, setup_torch
from softdimo.errors import cli, nonnegative_int, positive_int
from softdimo.sampling import ForwardCounter, image_seeds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--student", default=None, help="one-step student weights; without it the teacher is sampled")
    parser.add_argument("--steps", type=positive_int, default=None, help="teacher sampling steps (teacher only)")
    parser.add_argument("--seed", type=nonnegative_int, required=True, help="evaluation seed k")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch_threads)")
    parser.add_argument("--family", default=None,
                        help="a further teacher family of the track (c2i.families): its sampler and Di[M]O settings")
    args = parser.parse_args(argv)
    if (args.student is None) == (args.steps is None):
        parser.error("give either --steps (teacher) or --student")
    cfg = load_config(args.config)
    if args.family is not None:
        cfg = family_config(cfg, args.family)
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
            "quantize": s_cfg.quantize, "git_commit": git_commit()}
    if args.family is not None:  # Table 1 labels the row by its family and the paper's teacher beside it
        meta.update(family=args.family, paper_teacher=cfg.c2i.families[args.family].paper_teacher)
    if args.student is None:
        counted = ForwardCounter(teacher)
        sampler = teacher_sampler(counted, s_cfg, args.steps)
        meta.update(method="teacher", steps=args.steps)
    else:
        student, payload = load_artefact(args.student, "student", device)
        counted = ForwardCounter(student)
        sampler = student_sampler(counted, payload["student"]["r_init"], cfg.c2i.distill, cfg.c2i.distill.temperature)
        meta.update(method=payload["method"], steps=1, student_total_steps=payload["total_steps"])
    mine = distributed.share(n)
    with autocast(cfg.precision, device):
        images, seconds = timed(lambda: generate(sampler, tokenizer, seeds[mine], labels[mine], bs,
                                                 quantize=s_cfg.quantize, desc=meta["method"],
                                                 progress=distributed.is_main()))
    meta["nfe"] = counted.nfe(len(seeds[mine]))
    images = join_shares(images, Path(args.out))
    if images is None:  # not rank 0: its share is handed over
        return
    # per process (one GPU), the unit of the teacher rate below; all processes together in images_per_s_total
    meta.update(seconds=round(seconds, 3), images_per_s=len(seeds[mine]) / seconds,
                images_per_s_total=n / seconds)
    if args.student is not None:  # the teacher's rate on the same batch size, in this process
        n_ref = max(steps for steps in s_cfg.steps)
        k = min(bs, n)
        reference = ForwardCounter(teacher)
        with autocast(cfg.precision, device):
            _, t_seconds = timed(lambda: generate(teacher_sampler(reference, s_cfg, n_ref), tokenizer, seeds[:k],
                                                  labels[:k], bs, quantize=s_cfg.quantize))
        meta.update(soft_hard_gap(student, tokenizer, labels[:k], seeds[:k], payload["student"]["r_init"],
                                  cfg.c2i.distill))
        g, d = flops_per_image(teacher, tokenizer)
        teacher_nfe = reference.nfe(k)
        meta.update(teacher_steps=n_ref, teacher_nfe=teacher_nfe, teacher_images_per_s=k / t_seconds,
                    speedup=meta["images_per_s"] / (k / t_seconds), flops_generator=g, flops_decoder=d,
                    speedup_flop_ceiling=(teacher_nfe * g + d) / (meta["nfe"] * g + d))
    write_samples(args.out, meta, arr_0=images, labels=labels.cpu().numpy())
    print(f"{meta['method']}: {n} images in {seconds:.2f}s on {distributed.world_size()} process(es) "
          f"({meta['images_per_s']:.1f} images/s per process)")


if __name__ == "__main__":
    cli(main)
