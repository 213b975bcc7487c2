"""Paper-size Meissonic modules on one GPU (random weights), to measure what docs/meissonic.md estimates: images/s
of the 32-step teacher (CFG) vs the one-step student with 1024 px VQ decoding, and time and peak memory of one
optimiser step of the official recipe (batch 2 x 8 accumulation micro-batches; Di[M]O with the teacher's CFG,
gradient checkpointing, frozen embed / mlm_layer, Adam eps 1e-6, the auxiliary update) without and with the
Soft-Di[M]O reward through the soft-decoded 1024 px image (HPS-v2.1-sized ViT-H-14), in bf16 autocast.
`--small` shrinks everything for a CPU smoke run.

    python -m softdimo.tracks.meissonic.gpu_benchmark --out gpu_benchmark_meissonic.json
"""
import argparse
import contextlib
import copy
import json
import time

import torch

from evaluation.clip_scorers import hps_model
from softdimo.errors import cli
from softdimo.io import git_commit, write_json
from softdimo.method.dimo import aux_loss, dimo_loss, freeze_embeddings
from softdimo.models.meissonic import MeissonicTransformer, paper_kwargs
from softdimo.sampling import GlobalRngs, ImageRngs, initial_embeddings, sample_from_logits
from softdimo.text_bank import TextBank
from softdimo.tokenizers.meissonic_vq import MeissonicVQ, paper_kwargs as vq_kwargs
from softdimo.tracks.meissonic.sampler import sample_meissonic

PAPER = dict(generator=paper_kwargs(), tokenizer=vq_kwargs(), reward_arch="ViT-H-14")
SMALL = dict(generator=dict(paper_kwargs(), grid=8, heads=2, head_dim=16, dual_layers=1, single_layers=1,
                            vocab_size=40, codebook_size=32, text_dim=32, pooled_dim=32, axes_dims_rope=(4, 6, 6)),
             tokenizer=dict(grid=8, codebook_size=32, latent_channels=8, block_out_channels=(32, 32),
                            layers_per_block=1, norm_num_groups=8),
             reward_arch="ViT-B-32")


def timed(fn, device):
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=8, help="images per sampling forward pass")
    parser.add_argument("--steps", type=int, default=32, help="teacher sampling steps")
    parser.add_argument("--accumulation", type=int, default=8, help="micro-batches of 2 per optimiser step")
    parser.add_argument("--small", action="store_true", help="tiny sizes on the CPU (a smoke run of this script)")
    args = parser.parse_args(argv)
    device = "cpu" if args.small else "cuda"
    sizes = SMALL if args.small else PAPER
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    amp = contextlib.nullcontext() if device == "cpu" else torch.autocast("cuda", dtype=torch.bfloat16)
    torch.manual_seed(0)
    b, g = args.batch_size, sizes["generator"]
    n = b + 1
    bank = TextBank({"prompts": [f"prompt {i}" for i in range(b)] + ["negative"],
                     "tokens": torch.randn(n, 77, g["text_dim"]), "mask": torch.ones(n, 77, dtype=torch.bool),
                     "pooled": torch.randn(n, g["pooled_dim"]), "null_prompt": "negative"})
    teacher = MeissonicTransformer(**g).to(device).eval().requires_grad_(False).attach_text(bank)
    tokenizer = MeissonicVQ(**sizes["tokenizer"]).to(device).eval().requires_grad_(False)
    reward = hps_model(None, arch=sizes["reward_arch"]).to(device)
    ids = torch.arange(b, device=device)
    out = {"gpu": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
           "git_commit": git_commit(), "batch": b, "precision": "bf16" if device == "cuda" else "fp32",
           "generator_params": sum(p.numel() for p in teacher.parameters()),
           "tokenizer_params": sum(p.numel() for p in tokenizer.parameters()),
           "reward_params": sum(p.numel() for p in reward.parameters())}

    def teacher_images():
        tokens = sample_meissonic(teacher, ids, ImageRngs(range(b), device), steps=args.steps, guidance_scale=9.0,
                                  schedule="cosine", temperature_start=2.0, temperature_end=0.0)
        with torch.autocast(device, enabled=False):
            return tokenizer.decode(tokens)

    def student_images():
        rngs = ImageRngs(range(b), device)
        e = initial_embeddings(teacher, rngs, r_init=0.5, sigma_init=0.3, min_masked=1, mask_unit="position")
        tokens = sample_from_logits(teacher.forward_embeddings(e, ids), rngs)
        with torch.autocast(device, enabled=False):
            return tokenizer.decode(tokens)

    with torch.no_grad(), amp:
        for name, fn in ((f"teacher_{args.steps}_steps", teacher_images), ("student_1_step", student_images)):
            fn()  # warm-up
            _, seconds = timed(fn, device)
            out[f"{name}_images_per_s"] = b / seconds
    out["speedup"] = out["student_1_step_images_per_s"] / out[f"teacher_{args.steps}_steps_images_per_s"]
    print(json.dumps(out), flush=True)

    student, aux = copy.deepcopy(teacher).requires_grad_(True), copy.deepcopy(teacher).requires_grad_(True)
    ema = copy.deepcopy(student).requires_grad_(False)
    for model in (student, aux):
        freeze_embeddings(model, freeze_output=True)
        model.gradient_checkpointing = True
        model.train()
    opt_s = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=1e-6, eps=1e-6)
    opt_a = torch.optim.Adam([p for p in aux.parameters() if p.requires_grad], lr=1e-6, eps=1e-6)
    micro = torch.arange(2, device=device)
    rewards_text = reward.encode_text(bank.prompts[:2])

    def recipe_step(w_reward):
        opt_s.zero_grad(set_to_none=True)
        for _ in range(args.accumulation):
            with amp:
                e = initial_embeddings(student, GlobalRngs(2, device), r_init=0.5, sigma_init=0.3, min_masked=1,
                                       mask_unit="position")
                z = student.forward_embeddings(e, micro)
                tokens = sample_from_logits(z.detach(), GlobalRngs(2, device))
                loss, _ = dimo_loss(z, tokens, micro, teacher, aux, teacher_cfg=4.0, beta=0.0, schedule="cosine",
                                    min_masked=1, mask_unit="position", ratio_range=(0.02, 0.98))
                if w_reward:
                    with torch.autocast(device, enabled=False):
                        images = tokenizer.decode_soft(z.float().softmax(-1)).clamp(-1, 1)
                    loss = loss - w_reward * reward(images, rewards_text).mean()
            (loss / args.accumulation).backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt_s.step()
        opt_a.zero_grad(set_to_none=True)
        for _ in range(args.accumulation):
            with torch.no_grad(), amp:
                e = initial_embeddings(student, GlobalRngs(2, device), r_init=0.5, sigma_init=0.3, min_masked=1,
                                       mask_unit="position")
                tokens = sample_from_logits(student.forward_embeddings(e, micro), GlobalRngs(2, device))
            with amp:
                l_aux = aux_loss(aux, tokens, micro, schedule="cosine", label_smoothing=0.1, min_masked=1,
                                 mask_unit="position", ratio_range=(0.02, 0.98))
            (l_aux / args.accumulation).backward()
        opt_a.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), student.parameters()):
                pe.lerp_(pm, 1e-4)

    for name, w in (("dimo_step", 0.0), ("soft_dimo_reward_step", 1.0)):
        try:
            recipe_step(w)
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            _, seconds = timed(lambda: recipe_step(w), device)
            out[name] = {"seconds": seconds, "micro_batches": args.accumulation, "images": 2 * args.accumulation,
                         "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None}
        except torch.cuda.OutOfMemoryError as error:
            out[name] = {"error": f"out of memory: {error}"[:300]}
        print(name, json.dumps(out[name]), flush=True)
    write_json(args.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    cli(main)
