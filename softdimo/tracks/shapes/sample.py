"""Shapes-track sampling: the teacher at a step count, a one-step student, and the test-time scaling grid of a
student (best-of-N, TTEO and both; softdimo/method/test_time.py) scored by the track's judges.

    python -m softdimo.tracks.shapes.sample sample --config CFG --teacher T --tokenizer TOK --text-bank B --prompts P \
        (--steps 16 [--caption-blind] | --student W) --fid-prompts fid_prompts.npz --seed 0 \
        --out-eval eval.npz --out-fid fid.npz
    python -m softdimo.tracks.shapes.sample test-time --config CFG --teacher T --student W --tokenizer TOK --text-bank B \
        --prompts P --reward R --clip C --preference H --seed 0 --out-dir DIR

Image i of seed k draws its noise from generator seed k*1_000_000 + i.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from softdimo.checkpoints import load_artefact
from softdimo.config import load_config
from softdimo.io import git_commit, write_json, write_samples
from softdimo.runtime import setup_torch
from softdimo.generation import generate, student_sampler, teacher_sampler, timed
from softdimo.method.reward import reward_of_images
from softdimo.method.test_time import test_time_grid
from softdimo.sampling import ForwardCounter, image_seeds
from softdimo.text_bank import load_bank
from softdimo.errors import cli, positive_int, nonnegative_int


def eval_prompt_ids(n_prompts: int, per_prompt: int) -> torch.Tensor:
    """Every caption `per_prompt` times, in the order of softdimo.tracks.shapes.world (the GenEval layout)."""
    return torch.arange(n_prompts).repeat_interleave(per_prompt)


def generate_student(student, tokenizer, prompt_ids, eval_seed, r_init, distill_cfg, batch_size, *,
                     quantize: str, temperature: float) -> np.ndarray:
    return generate(student_sampler(student, r_init, distill_cfg, temperature), tokenizer, image_seeds(eval_seed, len(prompt_ids)),
                    prompt_ids, batch_size, quantize=quantize)


def load_text_model(path, kind, bank, device):
    model, payload = load_artefact(path, kind, device)
    return model.attach_text(bank), payload


# -- test-time scaling ----------------------------------------------------------------------------------------
class TinyScoring:
    """How test-time scaling turns tokens into images and scores them (the paper track has its own, with a
    text-aware decoder and the CLIP / HPS composite): decode, decode_soft and reward, all by prompt id."""

    def __init__(self, tokenizer, reward, bank):
        self.tokenizer, self.reward_net, self.bank = tokenizer, reward, bank

    def decode(self, tokens, prompt_ids):
        return self.tokenizer.decode(tokens)

    def decode_soft(self, probs, prompt_ids):
        return self.tokenizer.decode_soft(probs)

    def reward(self, images, prompt_ids):
        return reward_of_images(self.reward_net, images, self.bank, prompt_ids)


# -- CLIs -----------------------------------------------------------------------------------------------------
def _common(p):
    p.add_argument("--config", required=True)
    p.add_argument("--teacher", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--text-bank", required=True)
    p.add_argument("--prompts", required=True, help="prompts.json of the shapes world")
    p.add_argument("--seed", type=nonnegative_int, required=True)
    p.add_argument("--threads", type=int, default=None)


def cmd_sample(args, cfg, bank, tokenizer, teacher, n_prompts):
    t2i, device = cfg.t2i, cfg.device
    sets = {"eval": eval_prompt_ids(n_prompts, t2i.world.images_per_prompt).to(device)}
    with np.load(args.fid_prompts) as f:
        sets["fid"] = torch.from_numpy(f["prompt_ids"]).to(device)
    meta = {"eval_seed": args.seed, "device": device, "torch_threads": torch.get_num_threads(),
            "quantize": t2i.sampling.quantize, "git_commit": git_commit()}
    if args.student:
        student, payload = load_text_model(args.student, "student", bank, device)
        counted = ForwardCounter(student)
        sampler = student_sampler(counted, payload["student"]["r_init"], t2i.distill, t2i.distill.temperature)
        meta.update(method=payload["method"], steps=1, student_total_steps=payload["total_steps"])
    else:
        counted = ForwardCounter(teacher)
        sampler = teacher_sampler(counted, t2i.sampling, args.steps)
        meta.update(method="teacher_caption_blind" if args.caption_blind else "teacher", steps=args.steps)
        if args.caption_blind:  # every image conditioned on the empty prompt: what ignoring the caption scores
            inner = sampler
            sampler = lambda labels, rngs: inner(torch.full_like(labels, teacher.null_class), rngs)  # noqa: E731
    for name, out in (("eval", args.out_eval), ("fid", args.out_fid)):
        ids = sets[name]
        seeds = image_seeds(args.seed, len(ids))
        counted.rows = 0  # network evaluations per image that ran, for this set
        images, seconds = timed(lambda: generate(sampler, tokenizer, seeds, ids, t2i.sampling.batch_size,
                                                 quantize=t2i.sampling.quantize,
                                                 desc=f"{meta['method']} {name}", progress=True))
        write_samples(out, {**meta, "set": name, "n_samples": len(ids), "nfe": counted.nfe(len(ids)),
                            "image_seeds": f"{seeds[0]}..{seeds[-1]}", "batch_size": t2i.sampling.batch_size,
                            "seconds": round(seconds, 3), "images_per_s": len(ids) / seconds},
                      arr_0=images, prompt_ids=ids.cpu().numpy())
        print(f"{meta['method']} {name}: {len(ids)} images in {seconds:.2f}s")


def cmd_test_time(args, cfg, bank, tokenizer, teacher, n_prompts):
    from softdimo.tracks.shapes.metrics import Judges

    t2i, device, tt = cfg.t2i, cfg.device, cfg.t2i.test_time
    student, payload = load_text_model(args.student, "student", bank, device)
    reward, _ = load_artefact(args.reward, "judge", device)
    ids = eval_prompt_ids(n_prompts, t2i.world.images_per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    grid, seconds = timed(lambda: test_time_grid(student, TinyScoring(tokenizer, reward, bank), ids, seeds, tt,
                                                 r_init=payload["student"]["r_init"], distill_cfg=t2i.distill,
                                                 batch_size=t2i.sampling.batch_size,
                                                 quantize=t2i.sampling.quantize))
    judges = Judges.load(cfg, {"text_bank": args.text_bank, "prompts": args.prompts, "clip": args.clip,
                               "preference": args.preference}, device, need_fid=False)
    rows = []
    for (n, k), images in sorted(grid.items()):
        m = judges.score_prompts(images, ids)
        rows.append({"n": n, "tteo_iters": k, "geneval": m["geneval"]["overall"], **{f"geneval_{t}": v for t, v in
                     m["geneval"].items() if t not in ("overall", "n_images")},
                     "clip_score": m["clip_score"], "preference": m["preference"]})
    out = Path(args.out_dir)
    base = {"eval_seed": args.seed, "student": payload["method"], "student_total_steps": payload["total_steps"],
            "tteo_lr": tt.tteo_lr, "grid_seconds": round(seconds, 2), "n_images": len(ids), "git_commit": git_commit()}
    write_json(out / "grid.json", {**base, "rows": rows})
    for name, (n, k) in {"bon": (tt.table_n, 0), "tteo": (1, tt.table_tteo_iters),
                         "bon_tteo": (tt.table_n, tt.table_tteo_iters)}.items():
        write_samples(out / f"{name}.npz", {**base, "method": f"{payload['method']}+{name}", "best_of_n": n,
                                            "tteo_iters": k, "steps": 1, "nfe": n + 2 * k},
                      arr_0=grid[(n, k)], prompt_ids=ids.cpu().numpy())
    print(json.dumps(rows[-1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="teacher or one-step student on the evaluation prompts and the FID set")
    _common(s)
    s.add_argument("--steps", type=positive_int, default=None, help="teacher sampling steps (teacher only)")
    s.add_argument("--caption-blind", action="store_true", help="teacher conditioned on the empty prompt only")
    s.add_argument("--student", default=None)
    s.add_argument("--fid-prompts", required=True, help="fid_prompts.npz: the captions of the FID set")
    s.add_argument("--out-eval", required=True)
    s.add_argument("--out-fid", required=True)
    t = sub.add_parser("test-time", help="best-of-N and TTEO grid of a student on the evaluation prompts")
    _common(t)
    for name in ("student", "reward", "clip", "preference", "out-dir"):
        t.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "sample" and (args.student is None) == (args.steps is None):
        parser.error("give either --steps (teacher) or --student")
    cfg = load_config(args.config)
    setup_torch(args.threads or cfg.torch_threads)
    bank = load_bank(args.text_bank).to(cfg.device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", cfg.device)
    teacher, _ = load_text_model(args.teacher, "teacher", bank, cfg.device)
    n_prompts = teacher.num_classes
    (cmd_sample if args.cmd == "sample" else cmd_test_time)(args, cfg, bank, tokenizer, teacher, n_prompts)


if __name__ == "__main__":
    cli(main)
