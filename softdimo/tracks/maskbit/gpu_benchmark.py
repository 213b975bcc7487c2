"""Paper-size MaskBit modules on one GPU: images/s of the 64-step teacher vs the one-step student, and the peak
memory of one Soft-Di[M]O training step (Di[M]O + GAN through soft embeddings, auxiliary and discriminator
updates), in fp32 (TF32 matmuls, MaskBit's own setting) and bf16 autocast. Random weights: speed and memory
do not depend on the values.

    python -m softdimo.tracks.maskbit.gpu_benchmark --config config/paper.yaml --out gpu_benchmark.json
"""
import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from softdimo.config import load_config, replace
from softdimo.io import atomic_torch_save, git_commit, write_json
from softdimo.pretrained import paper_module
from softdimo.generation import generate, student_sampler, teacher_sampler
from softdimo.errors import cli
from softdimo.sampling import maskgit_nfe


def autocast(precision: str):
    if precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def images_per_s(sampler, tokenizer, batch: int, repeats: int, precision: str, device, quantize: str) -> float:
    labels = torch.arange(batch, device=device) % 1000
    with autocast(precision):
        generate(sampler, tokenizer, list(range(batch)), labels, batch, quantize=quantize)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for r in range(repeats):
            generate(sampler, tokenizer, list(range(r * batch, (r + 1) * batch)), labels, batch, quantize=quantize)
        torch.cuda.synchronize()
    return repeats * batch / (time.perf_counter() - t0)


def training_step_memory(cfg, workdir: Path, batch: int, precision: str, device) -> dict:
    """Peak memory and time of Soft-Di[M]O steps through the real StudentStage phases and AdamW."""
    from softdimo.stages import build_stage

    students = {"soft_dimo": replace(cfg.c2i.students["soft_dimo"], init="teacher")}
    distill = replace(cfg.c2i.distill, train=replace(cfg.c2i.distill.train, batch_size=batch))
    cfg = replace(cfg, c2i=replace(cfg.c2i, students=students, distill=distill))
    inputs = {name: workdir / f"{name}.pt" for name in ("teacher", "tokenizer")}
    inputs["real_tokens"] = workdir / "real_tokens.npz"
    stage = build_stage("maskbit.student:soft_dimo:0", cfg, inputs)
    stage.build(device)
    optimizers = {p.module: torch.optim.AdamW([q for q in stage.modules[p.module].parameters() if q.requires_grad],
                                              lr=1e-6) for p in stage.phases}
    torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        batch_data = stage.next_batch(step)
        for phase in stage.phases:
            with autocast(precision):
                loss, _ = phase.loss(batch_data, step)
            optimizers[phase.module].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[phase.module].step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    trainable = sum(q.numel() for m in stage.modules.values() for q in m.parameters() if q.requires_grad)
    return {"batch": batch, "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
            "seconds_per_step": min(times[1:]), "trainable_params": trainable, "phases": [p.name for p in stage.phases]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument("--teacher-repeats", type=int, default=1)
    parser.add_argument("--student-repeats", type=int, default=10)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures the GPU path")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    cfg = load_config(args.config)
    device = "cuda"
    out = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "git_commit": git_commit(),
           "batch": args.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        modules = {}
        for kind in ("teacher", "tokenizer"):
            arch, kwargs, module = paper_module(kind, cfg)
            modules[kind] = module.to(device).eval().requires_grad_(False)
            out[f"{kind}_params"] = sum(p.numel() for p in module.parameters())
            atomic_torch_save({"kind": kind, "arch": arch, "kwargs": kwargs, "state_dict": module.state_dict()},
                              tmp / f"{kind}.pt")
        gen, tok = modules["teacher"], modules["tokenizer"]
        rng = np.random.default_rng(0)
        np.savez(tmp / "real_tokens.npz", tokens=rng.integers(0, gen.classes_per_split, (4096, gen.seq_len, gen.splits)),
                 labels=rng.integers(0, 1000, 4096))
        s_cfg = cfg.c2i.sampling
        steps = max(s_cfg.steps)
        for precision in ("fp32_tf32", "bf16"):
            t = images_per_s(teacher_sampler(gen, s_cfg, steps), tok, args.batch_size, args.teacher_repeats, precision,
                             device, s_cfg.quantize)
            s = images_per_s(student_sampler(gen, cfg.c2i.students["dimo"].r_init, cfg.c2i.distill,
                                             cfg.c2i.distill.temperature), tok, args.batch_size,
                             args.student_repeats, precision, device, s_cfg.quantize)
            nfe = maskgit_nfe(steps, s_cfg.cfg_scale, s_cfg.cfg_schedule, s_cfg.cfg_power)
            out[precision] = {"teacher_steps": steps, "teacher_nfe": nfe,
                              "teacher_images_per_s": t, "student_images_per_s": s, "speedup": s / t}
            print(precision, json.dumps(out[precision]), flush=True)
        del modules, gen, tok
        torch.cuda.empty_cache()
        for precision in ("fp32_tf32", "bf16"):
            try:
                out[f"train_step_{precision}"] = training_step_memory(cfg, tmp, args.batch_size, precision, device)
            except torch.cuda.OutOfMemoryError as e:
                out[f"train_step_{precision}"] = {"batch": args.batch_size, "error": f"out of memory: {e}"[:300]}
            torch.cuda.empty_cache()
            print(precision, json.dumps(out[f"train_step_{precision}"]), flush=True)
    write_json(args.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    cli(main)
