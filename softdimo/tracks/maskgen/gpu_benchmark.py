"""Paper-size text-to-image modules on one GPU (random weights): MaskGen-L + TA-TiTok bl128 images/s of the
16-step teacher vs the one-step student, and the time and peak memory of one reward fine-tuning step
(Di[M]O + HPS-v2.1-sized reward through the soft-decoded image, then the auxiliary update), of one GAN step
(Di[M]O + GAN through the soft embeddings into the teacher-backbone discriminator, auxiliary and discriminator
updates: the soft_dimo_gan / gan_only rows) and of one TTEO iteration, in bf16 autocast. `--small` shrinks
everything for a CPU smoke run.

    python -m softdimo.tracks.maskgen.gpu_benchmark --out gpu_benchmark_t2i.json
"""
import argparse
import contextlib
import copy
import json
import time

import torch

from evaluation.clip_scorers import hps_model
from softdimo.method.dimo import aux_loss, dimo_loss, freeze_embeddings
from softdimo.method.gan import Discriminator, discriminator_loss, generator_loss, mask_positions
from softdimo.io import git_commit, write_json
from softdimo.models.maskgen import MaskGenVQ
from softdimo.sampling import GlobalRngs, ImageRngs, initial_embeddings, sample_from_logits, sample_maskgen
from softdimo.text_bank import TextBank
from softdimo.tokenizers.tatitok import TATiTokVQ
from softdimo.errors import cli

PAPER = dict(generator=dict(seq_len=128, codebook_size=8192, num_classes=1000, text_dim=768, dim=1024, depth=16,
                            heads=16, micro_condition_dim=256, aesthetic_score=6.5),
             tokenizer=dict(image_size=256, patch_size=16, encoder_size="base", decoder_size="large",
                            num_latent_tokens=128, codebook_size=8192, code_dim=64, text_dim=768, text_length=77),
             reward_arch="ViT-H-14", gan_layers=(5, 10, 15))
SMALL = dict(generator=dict(PAPER["generator"], codebook_size=64, dim=64, depth=2, heads=2, micro_condition_dim=16),
             tokenizer=dict(PAPER["tokenizer"], image_size=64, encoder_size="smoke", decoder_size="smoke",
                            codebook_size=64),
             reward_arch="softdimo-smoke-clip", gan_layers=(1,))


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument("--small", action="store_true", help="tiny sizes on the CPU (a smoke run of this script)")
    args = parser.parse_args(argv)
    device = "cpu" if args.small else "cuda"
    sizes = SMALL if args.small else PAPER
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    amp = contextlib.nullcontext() if device == "cpu" else torch.autocast("cuda", dtype=torch.bfloat16)
    torch.manual_seed(0)
    b = args.batch_size
    g = sizes["generator"]
    bank = TextBank({"prompts": [f"prompt {i}" for i in range(b)] + [""], "tokens": torch.randn(b + 1, 77, 768),
                     "mask": torch.ones(b + 1, 77, dtype=torch.bool), "pooled": torch.randn(b + 1, 768),
                     "final": torch.randn(b + 1, 77, 768)})
    teacher = MaskGenVQ(**g).to(device).eval().requires_grad_(False).attach_text(bank)
    tokenizer = TATiTokVQ(**sizes["tokenizer"]).to(device).eval().requires_grad_(False)
    reward = hps_model(None, arch=sizes["reward_arch"]).to(device)
    ids = torch.arange(b, device=device)
    text = bank.final_tokens(ids)
    out = {"gpu": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
           "git_commit": git_commit(), "batch": b, "precision": "bf16" if device == "cuda" else "fp32",
           "generator_params": sum(p.numel() for p in teacher.parameters()),
           "tokenizer_params": sum(p.numel() for p in tokenizer.parameters()),
           "reward_params": sum(p.numel() for p in reward.parameters())}

    def teacher_images():
        tokens = sample_maskgen(teacher, ids, ImageRngs(range(b), device), steps=16, schedule="arccos",
                                guidance_scale=12.0, guidance_decay="cosine", guidance_scale_pow=1.0,
                                randomize_temperature=2.0, softmax_temperature_annealing=True)
        return tokenizer.decode(tokens, text)

    def student_images():
        rngs = ImageRngs(range(b), device)
        e = initial_embeddings(teacher, rngs, r_init=0.6, sigma_init=0.1, min_masked=1, mask_unit="position")
        return tokenizer.decode(sample_from_logits(teacher.forward_embeddings(e, ids), rngs), text)

    with torch.no_grad(), amp:
        for name, fn in (("teacher_16_steps", teacher_images), ("student_1_step", student_images)):
            fn()  # warm-up
            _, seconds = timed(fn, device)
            out[f"{name}_images_per_s"] = b / seconds
    out["speedup"] = out["student_1_step_images_per_s"] / out["teacher_16_steps_images_per_s"]
    print(json.dumps(out), flush=True)

    student, aux = copy.deepcopy(teacher).requires_grad_(True), copy.deepcopy(teacher).requires_grad_(True)
    for model in (student, aux):
        freeze_embeddings(model, freeze_output=True)
    opt_s = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-6)
    opt_a = torch.optim.AdamW([p for p in aux.parameters() if p.requires_grad], lr=1e-6)
    rewards_text = reward.encode_text(bank.prompts[:b])

    def update(opt, loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def aux_update(tokens, schedule):
        with amp:
            l_aux = aux_loss(aux, tokens, ids, schedule=schedule, label_smoothing=0.1, min_masked=1,
                             mask_unit="position", ratio_range=(0.02, 0.98))
        update(opt_a, l_aux)

    def reward_step():
        with amp:
            e = initial_embeddings(student, GlobalRngs(b, device), r_init=0.6, sigma_init=0.1, min_masked=1,
                                   mask_unit="position")
            z = student.forward_embeddings(e, ids)
            tokens = sample_from_logits(z.detach(), GlobalRngs(b, device))
            l_dimo, _ = dimo_loss(z, tokens, ids, teacher, aux, teacher_cfg=3.0, beta=0.0, schedule="arccos",
                                  min_masked=1, mask_unit="position", ratio_range=(0.02, 0.98))
            r = reward(tokenizer.decode_soft(z.float().softmax(-1), text), rewards_text)
            loss = l_dimo - 1.0 * r.mean()
        update(opt_s, loss)
        aux_update(tokens, "arccos")

    disc = Discriminator(g["dim"], sizes["gan_layers"], 256).to(device)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=1e-6)
    real_tokens = torch.randint(0, g["codebook_size"], (b, g["seq_len"], 1), device=device)

    def gan_step():
        with amp:
            e = initial_embeddings(student, GlobalRngs(b, device), r_init=0.5, sigma_init=0.3, min_masked=1,
                                   mask_unit="position")
            z = student.forward_embeddings(e, ids)
            tokens = sample_from_logits(z.detach(), GlobalRngs(b, device))
            l_dimo, _ = dimo_loss(z, tokens, ids, teacher, aux, teacher_cfg=4.0, beta=0.0, schedule="cosine",
                                  min_masked=1, mask_unit="position", ratio_range=(0.02, 0.98))
            fake = teacher.soft_embed(z.float().softmax(-1))
            r = torch.rand(b, device=device) * 0.95
            loss = l_dimo + 200.0 * generator_loss(disc(teacher, mask_positions(fake, r, teacher.mask_embedding()),
                                                        ids, r))
        update(opt_s, loss)
        aux_update(tokens, "cosine")
        with amp:
            r_real, r_fake = (torch.rand(b, device=device) * 0.95 for _ in range(2))
            mask = teacher.mask_embedding()
            d_real = disc(teacher, mask_positions(teacher.embed(real_tokens), r_real, mask), ids, r_real)
            d_fake = disc(teacher, mask_positions(fake.detach(), r_fake, mask), ids, r_fake)
            l_disc = discriminator_loss(d_real, d_fake)
        update(opt_d, l_disc)

    student.requires_grad_(False)

    def tteo_iteration():
        e = initial_embeddings(student, GlobalRngs(b, device), r_init=0.6, sigma_init=0.1, min_masked=1,
                                   mask_unit="position").requires_grad_(True)
        with amp:
            probs = student.forward_embeddings(e, ids).float().softmax(-1)
            loss = -reward(tokenizer.decode_soft(probs, text), rewards_text).sum()
        loss.backward()
        with torch.no_grad():
            e += 0.2 * e.grad

    for name, fn, trainable in (("reward_finetune_step", reward_step, True), ("gan_step", gan_step, True),
                                ("tteo_iteration", tteo_iteration, False)):
        student.requires_grad_(False)
        if trainable:
            freeze_embeddings(student.requires_grad_(True), freeze_output=True)
        try:
            fn()
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            _, seconds = timed(fn, device)
            out[name] = {"seconds": seconds, "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30
                         if device == "cuda" else None}
        except torch.cuda.OutOfMemoryError as error:
            out[name] = {"error": f"out of memory at batch {b}: {error}"[:300]}
        print(name, json.dumps(out[name]), flush=True)
    write_json(args.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    cli(main)
