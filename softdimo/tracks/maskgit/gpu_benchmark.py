"""Paper-size MaskGit modules on one GPU: images/s of the teacher (MaskGIT-pytorch's sampler at each configured
step count) vs the one-step student, and the time and peak memory of one Soft-Di[M]O training step (Di[M]O +
GAN through soft embeddings, auxiliary and discriminator updates) at the recipe's global batch of 64, in fp32
(TF32 matmuls) and bf16 autocast. Random weights: speed and memory do not depend on the values. The numbers
size workflow/resources.yaml and the GPU-hours of docs/maskgit.md.

    python -m softdimo.tracks.maskgit.gpu_benchmark --config config/paper.yaml --out maskgit_gpu_benchmark.json
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
from softdimo.errors import cli
from softdimo.generation import generate
from softdimo.io import atomic_torch_save, git_commit, write_json
from softdimo.tracks.maskgit.pipeline import Counter, official_module, section, student_tokens, teacher_tokens


def autocast(precision: str, device: str):
    if precision == "bf16":
        return torch.autocast(device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def sync(device: str):
    if device == "cuda":
        torch.cuda.synchronize()


def images_per_s(sampler, tokenizer, batch: int, repeats: int, precision: str, device: str, quantize: str) -> float:
    labels = torch.arange(batch, device=device) % 1000
    with autocast(precision, device):
        generate(sampler, tokenizer, list(range(batch)), labels, batch, quantize=quantize)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        for r in range(repeats):
            generate(sampler, tokenizer, list(range(r * batch, (r + 1) * batch)), labels, batch, quantize=quantize)
        sync(device)
    return repeats * batch / (time.perf_counter() - t0)


def training_step(cfg, workdir: Path, batch: int, precision: str, device: str) -> dict:
    """Time and peak memory of Soft-Di[M]O steps through the track's student stage and AdamW."""
    from softdimo.stages import build_stage

    m = section(cfg)
    students = dict(m.students, soft_dimo=replace(m.students["soft_dimo"], init="teacher"))
    distill = replace(m.distill, train=replace(m.distill.train, batch_size=batch))
    cfg = replace(cfg, c2i_maskgit=replace(m, students=students, distill=distill))
    inputs = {name: workdir / f"{name}.pt" for name in ("teacher", "tokenizer")}
    inputs["real_tokens"] = workdir / "real_tokens.npz"
    stage = build_stage("maskgit.student:soft_dimo:0", cfg, inputs)
    stage.build(device)
    optimizers = {p.module: torch.optim.AdamW([q for q in stage.modules[p.module].parameters() if q.requires_grad],
                                              lr=1e-6) for p in stage.phases}
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(3):
        sync(device)
        t0 = time.perf_counter()
        batch_data = stage.next_batch(step)
        for phase in stage.phases:
            with autocast(precision, device):
                loss, _ = phase.loss(batch_data, step)
            optimizers[phase.module].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[phase.module].step()
        sync(device)
        times.append(time.perf_counter() - t0)
    trainable = sum(q.numel() for mod in stage.modules.values() for q in mod.parameters() if q.requires_grad)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return {"batch": batch, "peak_memory_gib": peak, "seconds_per_step": min(times[1:]), "trainable_params": trainable,
            "phases": [p.name for p in stage.phases]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass and training batch")
    parser.add_argument("--teacher-repeats", type=int, default=1)
    parser.add_argument("--student-repeats", type=int, default=10)
    parser.add_argument("--precisions", nargs="+", default=["fp32_tf32", "bf16"], choices=["fp32_tf32", "bf16"])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a check of the script only")
    args = parser.parse_args(argv)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures the GPU path")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    cfg = load_config(args.config)
    m = section(cfg)
    out = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
           "git_commit": git_commit(), "batch": args.batch_size, "sampler_setting": m.sampling.setting}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        modules = {}
        for kind in ("teacher", "tokenizer"):
            arch, kwargs, module = official_module(getattr(m, kind))
            modules[kind] = module.to(device).eval().requires_grad_(False)
            out[f"{kind}_params"] = sum(p.numel() for p in module.parameters())
            atomic_torch_save({"kind": kind, "arch": arch, "kwargs": kwargs, "state_dict": module.state_dict()},
                              tmp / f"{kind}.pt")
        gen, tok = modules["teacher"], modules["tokenizer"]
        rng = np.random.default_rng(0)
        np.savez(tmp / "real_tokens.npz", tokens=rng.integers(0, gen.classes_per_split, (4096, gen.seq_len, 1)),
                 labels=rng.integers(0, gen.num_classes, 4096))
        d = m.distill
        one_step = {"r_init": d.r_init, "sigma_init": d.sigma_init, "temperature": d.temperature,
                    "min_masked": d.min_masked}
        for precision in args.precisions:
            student = images_per_s(student_tokens(gen, one_step, m.sampling.mask_class), tok, args.batch_size,
                                   args.student_repeats, precision, device, m.sampling.quantize)
            rows = {"student_images_per_s": student}
            for steps in m.sampling.steps:
                counted = Counter(gen)
                rate = images_per_s(teacher_tokens(counted, m.sampling, steps), tok, args.batch_size,
                                    args.teacher_repeats, precision, device, m.sampling.quantize)
                rows[f"teacher_{steps}_steps"] = {"images_per_s": rate, "nfe": counted.nfe(
                    args.batch_size * (args.teacher_repeats + 1)), "speedup_of_student": student / rate}
            out[precision] = rows
            print(precision, json.dumps(rows), flush=True)
        del modules, gen, tok
        if device == "cuda":
            torch.cuda.empty_cache()
        for precision in args.precisions:
            try:
                out[f"train_step_{precision}"] = training_step(cfg, tmp, args.batch_size, precision, device)
            except torch.cuda.OutOfMemoryError as e:
                out[f"train_step_{precision}"] = {"batch": args.batch_size, "error": f"out of memory: {e}"[:300]}
            if device == "cuda":
                torch.cuda.empty_cache()
            print(precision, json.dumps(out[f"train_step_{precision}"]), flush=True)
    write_json(args.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    cli(main)
