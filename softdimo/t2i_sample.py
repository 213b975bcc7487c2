"""Text-to-image sampling: the teacher at a step count, a one-step student, and test-time scaling of a student
(best-of-N selected by the reward, TTEO on the input embedding, and both).

    python -m softdimo.t2i_sample sample --config CFG --teacher T --tokenizer TOK --text-bank B --prompts P \
        (--steps 16 [--caption-blind] | --student W) --fid-prompts fid_prompts.npz --seed 0 \
        --out-eval eval.npz --out-fid fid.npz
    python -m softdimo.t2i_sample test-time --config CFG --teacher T --student W --tokenizer TOK --text-bank B \
        --prompts P --reward R --clip C --preference H --seed 0 --out-dir DIR

Image i of seed k draws its noise from generator seed k*1_000_000 + i; candidate n of that image from
(k*1_000_000 + i)*1000 + n, so the N candidates of best-of-N are the first N of every larger N. TTEO is
SGD on the student's input embedding e (weights frozen) maximising R(Dec(softmax(z(e)) @ codebook), prompt);
the token draw after it reuses the candidate's own Gumbel noise, so 0 iterations is the candidate itself.
Best-of-N + TTEO optimises all N candidates and then selects by the reward of the decoded tokens.
The summed (not averaged) reward makes each image's update independent of the batch it is in.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from softdimo.checkpoints import load_artefact
from softdimo.config import load_config
from softdimo.io import atomic_savez, git_commit, write_json
from softdimo.runtime import setup_torch
from softdimo.sample import generate, student_sampler, teacher_sampler, timed
from softdimo.sampling import ImageRngs, forward_passes_per_step, image_seeds, initial_embeddings
from softdimo.text import load_bank
from softdimo.tokenizers.lfq import to_uint8


def eval_prompt_ids(n_prompts: int, per_prompt: int) -> torch.Tensor:
    """Every caption `per_prompt` times, in the order of softdimo.shapes (the GenEval layout)."""
    return torch.arange(n_prompts).repeat_interleave(per_prompt)


def generate_student(student, tokenizer, prompt_ids, eval_seed, r_init, distill_cfg, batch_size) -> np.ndarray:
    return generate(student_sampler(student, r_init, distill_cfg), tokenizer, image_seeds(eval_seed, len(prompt_ids)),
                    prompt_ids, batch_size)


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
        from softdimo.t2i_student import reward_of_images

        return reward_of_images(self.reward_net, images, self.bank, prompt_ids)


@torch.no_grad()
def draw_candidates(student, scoring, prompt_ids, seeds, n, *, r_init, distill_cfg):
    """For every image, n candidates: input embedding e, Gumbel noise g and the reward of the decoded sample."""
    e_all, g_all, r_all = [], [], []
    for j in range(n):
        rngs = ImageRngs([s * 1000 + j for s in seeds], prompt_ids.device)
        e = initial_embeddings(student, rngs, r_init=r_init, sigma_init=distill_cfg.sigma_init)
        g = rngs.gumbel(student.seq_len, student.splits, student.classes_per_split)
        tokens = (student.forward_embeddings(e, prompt_ids) / distill_cfg.temperature + g).argmax(-1)
        r_all.append(scoring.reward(scoring.decode(tokens, prompt_ids), prompt_ids))
        e_all.append(e)
        g_all.append(g)
    return torch.stack(e_all, 1), torch.stack(g_all, 1), torch.stack(r_all, 1)


def tteo(student, scoring, e, prompt_ids, iters: list[int], lr: float, temperature: float) -> dict:
    """SGD ascent of the reward on the input embedding; returns {iterations: embedding} for each of `iters`."""
    e = e.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([e], lr=lr)
    out = {0: e.detach().clone()} if 0 in iters else {}
    for it in range(1, max(iters) + 1):
        probs = (student.forward_embeddings(e, prompt_ids).float() / temperature).softmax(-1)
        loss = -scoring.reward(scoring.decode_soft(probs, prompt_ids), prompt_ids).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it in iters:
            out[it] = e.detach().clone()
    return out


def test_time_grid(student, scoring, prompt_ids, seeds, tt, *, r_init, distill_cfg, batch_size):
    """Images for every (N, TTEO iterations) of the config. Every candidate is optimised (TTEO, k iterations),
    then image i is the candidate with the highest reward of its decoded tokens among its first N: selection
    comes after optimisation, as in noise-optimisation methods, so TTEO is never undone by picking the
    candidate whose lucky draw it then perturbs."""
    n_max, iters, temp = max(tt.best_of_n), sorted(tt.tteo_iters), distill_cfg.temperature
    images = {(n, k): [] for n in tt.best_of_n for k in iters}
    for start in tqdm(range(0, len(seeds), batch_size), desc="best-of-N + TTEO"):
        ids, sd = prompt_ids[start:start + batch_size], seeds[start:start + batch_size]
        e, g, _ = draw_candidates(student, scoring, ids, sd, n_max, r_init=r_init, distill_cfg=distill_cfg)
        b = len(ids)
        flat_ids = ids.repeat_interleave(n_max)
        for k, e_k in tteo(student, scoring, e.flatten(0, 1), flat_ids, iters, tt.tteo_lr, temp).items():
            with torch.no_grad():
                tokens = (student.forward_embeddings(e_k, flat_ids) / temp + g.flatten(0, 1)).argmax(-1)
                decoded = scoring.decode(tokens, flat_ids)
                r = scoring.reward(decoded, flat_ids).view(b, n_max)
                pictures = to_uint8(decoded).cpu().numpy().reshape(b, n_max, *decoded.shape[2:], decoded.shape[1])
            for n in tt.best_of_n:
                images[(n, k)].append(pictures[np.arange(b), r[:, :n].argmax(1).cpu().numpy()])
    return {key: np.concatenate(v) for key, v in images.items()}


# -- CLIs -----------------------------------------------------------------------------------------------------
def _common(p):
    p.add_argument("--config", required=True)
    p.add_argument("--teacher", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--text-bank", required=True)
    p.add_argument("--prompts", required=True, help="prompts.json of the shapes world")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=None)


def cmd_sample(args, cfg, bank, tokenizer, teacher, n_prompts):
    t2i, device = cfg.t2i, cfg.device
    sets = {"eval": eval_prompt_ids(n_prompts, t2i.world.images_per_prompt).to(device)}
    with np.load(args.fid_prompts) as f:
        sets["fid"] = torch.from_numpy(f["prompt_ids"]).to(device)
    meta = {"eval_seed": args.seed, "device": device, "torch_threads": torch.get_num_threads(), "git_commit": git_commit()}
    if args.student:
        student, payload = load_text_model(args.student, "student", bank, device)
        sampler = student_sampler(student, payload["student"]["r_init"], t2i.distill)
        meta.update(method=payload["method"], steps=1, nfe=1, student_total_steps=payload["total_steps"])
    else:
        sampler = teacher_sampler(teacher, t2i.sampling, args.steps)
        meta.update(method="teacher_caption_blind" if args.caption_blind else "teacher", steps=args.steps,
                    nfe=args.steps * forward_passes_per_step(t2i.sampling.cfg_scale))
        if args.caption_blind:  # every image conditioned on the empty prompt: what ignoring the caption scores
            inner = sampler
            sampler = lambda labels, rngs: inner(torch.full_like(labels, teacher.null_class), rngs)  # noqa: E731
    for name, out in (("eval", args.out_eval), ("fid", args.out_fid)):
        ids = sets[name]
        seeds = image_seeds(args.seed, len(ids))
        images, seconds = timed(lambda: generate(sampler, tokenizer, seeds, ids, t2i.sampling.batch_size,
                                                 desc=f"{meta['method']} {name}", progress=True))
        atomic_savez(out, arr_0=images, prompt_ids=ids.cpu().numpy())
        write_json(Path(out).with_suffix(".json"), {**meta, "set": name, "n_samples": len(ids),
                                                   "image_seeds": f"{seeds[0]}..{seeds[-1]}",
                                                   "batch_size": t2i.sampling.batch_size, "seconds": round(seconds, 3),
                                                   "images_per_s": len(ids) / seconds})
        print(f"{meta['method']} {name}: {len(ids)} images in {seconds:.2f}s")


def cmd_test_time(args, cfg, bank, tokenizer, teacher, n_prompts):
    from evaluation.t2i_metrics import Judges

    t2i, device, tt = cfg.t2i, cfg.device, cfg.t2i.test_time
    student, payload = load_text_model(args.student, "student", bank, device)
    reward, _ = load_artefact(args.reward, "judge", device)
    ids = eval_prompt_ids(n_prompts, t2i.world.images_per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    grid, seconds = timed(lambda: test_time_grid(student, TinyScoring(tokenizer, reward, bank), ids, seeds, tt,
                                                 r_init=payload["student"]["r_init"], distill_cfg=t2i.distill,
                                                 batch_size=t2i.sampling.batch_size))
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
        atomic_savez(out / f"{name}.npz", arr_0=grid[(n, k)], prompt_ids=ids.cpu().numpy())
        write_json(out / f"{name}.json", {**base, "method": f"{payload['method']}+{name}", "best_of_n": n,
                                          "tteo_iters": k, "steps": 1, "nfe": n + 2 * k})
    print(json.dumps(rows[-1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="teacher or one-step student on the evaluation prompts and the FID set")
    _common(s)
    s.add_argument("--steps", type=int, default=None)
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
    main()
