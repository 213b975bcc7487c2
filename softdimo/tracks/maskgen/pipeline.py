"""Paper-scale text-to-image (Soft-Di[M]O Table 2, MaskGen-L rows): prompt sets, OpenCLIP text banks,
strict conversion of the official MaskGen-L / TA-TiTok files, sampling of the teacher and the students, and
the composite reward (CLIP score and HPS v2.1) used for fine-tuning, best-of-N and TTEO.

    python -m softdimo.tracks.maskgen.pipeline prompts --set geneval --source <geneval>/prompts/evaluation_metadata.jsonl --out P
    python -m softdimo.tracks.maskgen.pipeline prompts --set hps --source resources/t2i/hps_benchmark --out P
    python -m softdimo.tracks.maskgen.pipeline prompts --set coco --source MS-COCO_val2014_30k_captions.csv --out P
    python -m softdimo.tracks.maskgen.pipeline prompts --set train --source train_prompts.txt --num 100000 --out P
    python -m softdimo.tracks.maskgen.pipeline text-bank --config CFG --prompts P --encoder W --out bank.pt
    python -m softdimo.tracks.maskgen.pipeline convert --kind teacher|tokenizer --config CFG --official F --out A
    python -m softdimo.tracks.maskgen.pipeline sample --config CFG --teacher T --tokenizer TOK --text-bank B --prompts P \
        (--steps 16 --method teacher | --student W --method NAME) --per-prompt 4 --seed 0 --out S.npz
    python -m softdimo.tracks.maskgen.pipeline test-time --config CFG --teacher T --tokenizer TOK --text-bank B --prompts P \
        --student W --method NAME --clip CLIP --hps HPS --per-prompt 4 --seed 0 --out-dir DIR

A prompt set is a JSON file {"set", "prompts", ...}: GenEval adds each prompt's metadata line, HPS the style
of each prompt, COCO the image ids. Image i of a sample file belongs to prompt i // per_prompt and draws its
noise from seed k*1_000_000 + i, as in the tiny track.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from evaluation.prompt_sets import load_prompt_set, prompt_set
from softdimo.io import atomic_torch_save, git_commit, write_json, write_samples
from softdimo.method.reward import CompositeReward
from softdimo.errors import cli, positive_int, nonnegative_int

# -- text banks -----------------------------------------------------------------------------------------------
def make_text_bank(prompts: list[str], encoder_weights, arch: str, device="cpu", batch_size: int = 256) -> dict:
    """MaskGen's conditioning and TA-TiTok's text guidance of every distinct prompt ('' included), token
    features in fp16 (2 x 77 x 768 per prompt: 236 KB instead of 473), kept in host memory when loaded."""
    from softdimo.tracks.maskgen.text_encoder import encode_prompts, load_text_encoder

    model, tokenizer = load_text_encoder(encoder_weights, arch)
    bank = encode_prompts(model.to(device), tokenizer, prompts, batch_size, dtype=torch.float16)
    bank["encoder"], bank["on_host"] = arch, True
    return bank


def bank_ids(bank, prompts: list[str]) -> torch.Tensor:
    """Bank row of each prompt of a set (the bank holds each distinct prompt once)."""
    row = {p: i for i, p in enumerate(bank.prompts)}
    missing = [p for p in prompts if p not in row]
    if missing:
        raise ValueError(f"{len(missing)} prompts are not in the text bank, e.g. {missing[0]!r}: wrong bank for this set")
    return torch.tensor([row[p] for p in prompts], dtype=torch.long)


# -- official modules -------------------------------------------------------------------------------------------
def official_module(section):
    """(arch, kwargs, randomly initialised module) of t2i_paper.teacher / .tokenizer."""
    from softdimo.models import MODELS
    from softdimo.tokenizers import TOKENIZERS

    registry = MODELS if section.arch in MODELS else TOKENIZERS
    kwargs = dict(section.kwargs)
    return section.arch, kwargs, registry[section.arch](**kwargs)


# -- sampling ---------------------------------------------------------------------------------------------------
def teacher_tokens(teacher, sampling, steps: int):
    from softdimo.sampling import sample_maskgen

    return lambda ids, rngs: sample_maskgen(
        teacher, ids, rngs, steps=steps, schedule=sampling.schedule, guidance_scale=sampling.guidance_scale,
        guidance_decay=sampling.guidance_decay, guidance_scale_pow=sampling.guidance_scale_pow,
        randomize_temperature=sampling.randomize_temperature,
        softmax_temperature_annealing=sampling.softmax_temperature_annealing)


def student_tokens(student, r_init: float, distill, temperature: float | None = None):
    """The one-step sampler; temperature: distill.temperature (the evaluated samples) unless given (the in-training
    monitor passes distill.monitor_temperature)."""
    from softdimo.sampling import sample_one_step

    t = distill.temperature if temperature is None else temperature
    return lambda ids, rngs: sample_one_step(student, ids, rngs, r_init=r_init, sigma_init=distill.sigma_init,
                                             min_masked=distill.min_masked, mask_unit=distill.mask_unit,
                                             temperature=t)


@torch.no_grad()
def generate(sample_tokens, tokenizer, bank, ids: torch.Tensor, seeds: list[int], batch_size: int,
             precision: str = "fp32", desc: str = "", *, quantize: str) -> np.ndarray:
    """uint8 NHWC images; TA-TiTok decodes with the caption's text tokens, in fp32; quantize is
    t2i_paper.sampling.quantize (MaskGen's README truncates)."""
    from softdimo.runtime import autocast
    from softdimo.sampling import ImageRngs
    from softdimo.tokenizers.lfq import to_uint8

    out = []
    for start in tqdm(range(0, len(seeds), batch_size), desc=desc, mininterval=10.0):
        sl = slice(start, start + batch_size)
        batch = ids[sl]
        with autocast(precision, batch.device):
            tokens = sample_tokens(batch, ImageRngs(seeds[sl], batch.device))
        with torch.autocast(batch.device.type, enabled=False):  # images decode in fp32
            out.append(to_uint8(tokenizer.decode(tokens, bank.final_tokens(batch)), quantize).cpu().numpy())
    return np.concatenate(out)


# -- rewards ------------------------------------------------------------------------------------------------------
class PaperScoring:
    """Test-time scaling's view of the paper modules (softdimo.method.test_time.test_time_grid): TA-TiTok decodes
    with each caption's text tokens, the composite reward scores the images for their prompts."""

    def __init__(self, tokenizer, reward: CompositeReward, bank):
        self.tokenizer, self.reward_model, self.bank = tokenizer, reward, bank

    def decode(self, tokens, prompt_ids):
        with torch.autocast(tokens.device.type, enabled=False):
            return self.tokenizer.decode(tokens, self.bank.final_tokens(prompt_ids))

    def decode_soft(self, probs, prompt_ids):
        return self.tokenizer.decode_soft(probs, self.bank.final_tokens(prompt_ids)).clamp(-1, 1)

    def reward(self, images, prompt_ids):
        return self.reward_model(images.clamp(-1, 1), prompt_ids)


def load_reward(weights: dict, files: dict, prompts: list[str], device, scorers_cfg) -> CompositeReward:
    from evaluation.clip_scorers import configured_scorer

    scorers = {k: configured_scorer(k, files[k], scorers_cfg).to(device) for k, w in weights.items() if w > 0}
    return CompositeReward(scorers, weights, prompts)


# -- CLI ---------------------------------------------------------------------------------------------------------
def _load_models(args, cfg, device):
    from softdimo.checkpoints import load_artefact
    from softdimo.text_bank import load_bank

    bank = load_bank(args.text_bank).to(device)
    teacher, payload = load_artefact(args.teacher, "teacher", device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", device)
    return bank, teacher.attach_text(bank), tokenizer, payload


def sample_main(args, cfg):
    from softdimo.checkpoints import check_row, load_artefact
    from softdimo.runtime import setup_torch
    from softdimo.sampling import ForwardCounter, image_seeds

    setup_torch(cfg.torch_threads)
    device = cfg.device if cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    if not args.student:
        check_row(args.method, None)
    bank, teacher, tokenizer, _ = _load_models(args, cfg, device)
    pset = load_prompt_set(args.prompts)
    ids = bank_ids(bank, pset["prompts"]).repeat_interleave(args.per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    if args.student:
        student, payload = load_artefact(args.student, "student", device)
        check_row(args.method, payload, student_path=args.student)
        student.attach_text(bank)
        counted = ForwardCounter(student)
        sampler, what = student_tokens(counted, payload["student"]["r_init"], cfg.t2i_paper.distill), "student"
    else:
        counted = ForwardCounter(teacher)
        sampler, what = teacher_tokens(counted, cfg.t2i_paper.sampling, args.steps), f"teacher {args.steps} steps"
    t0 = time.perf_counter()
    images = generate(sampler, tokenizer, bank, ids, seeds, args.batch_size or cfg.t2i_paper.sampling.batch_size,
                      cfg.precision, desc=what, quantize=cfg.t2i_paper.sampling.quantize)
    seconds = time.perf_counter() - t0
    write_samples(args.out, {
        "method": args.method, "what": what, "prompt_set": pset["set"], "n_images": len(images), "per_prompt": args.per_prompt,
        "steps": 1 if args.student else args.steps, "nfe": counted.nfe(len(images)),
        "quantize": cfg.t2i_paper.sampling.quantize,
        "seed": args.seed, "images_per_s": len(images) / seconds, "seconds": seconds, "device": str(device),
        "precision": cfg.precision, "git_commit": git_commit()},
        arr_0=images, prompt_rows=np.arange(len(pset["prompts"])).repeat(args.per_prompt))
    print(f"{what}: {len(images)} images, {len(images) / seconds:.2f} images/s")


def test_time_main(args, cfg):
    """Best-of-N x TTEO grid of a student on one prompt set: one sample file per (N, iterations)."""
    from softdimo.checkpoints import check_row, load_artefact
    from softdimo.config import as_dict
    from softdimo.runtime import autocast, setup_torch
    from softdimo.sampling import image_seeds
    from softdimo.method.test_time import setting_sidecar, test_time_grid

    setup_torch(cfg.torch_threads)
    device = cfg.device if cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    paper = cfg.t2i_paper
    bank, _, tokenizer, _ = _load_models(args, cfg, device)
    student, payload = load_artefact(args.student, "student", device)
    check_row(args.method, payload, student_path=args.student)
    student.attach_text(bank)
    reward = load_reward(as_dict(paper.rewards), {"clip": args.clip, "hps": args.hps}, bank.prompts, device,
                         paper.scorers)
    pset = load_prompt_set(args.prompts)
    ids = bank_ids(bank, pset["prompts"]).repeat_interleave(args.per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    # every prompt of an outer batch carries max(N) candidates through TTEO: keep candidates per batch at the
    # evaluation batch size (64 candidates: 65 GiB in bf16 on the H200)
    prompts_per_batch = args.batch_size or max(1, paper.eval.batch_size // max(paper.test_time.best_of_n))
    t0 = time.perf_counter()
    with autocast(cfg.precision, device):
        grid = test_time_grid(student, PaperScoring(tokenizer, reward, bank), ids, seeds, paper.test_time,
                              r_init=payload["student"]["r_init"], distill_cfg=paper.distill,
                              batch_size=prompts_per_batch, quantize=paper.sampling.quantize)
    seconds = time.perf_counter() - t0
    out = Path(args.out_dir)
    rows = np.arange(len(pset["prompts"])).repeat(args.per_prompt)
    for (n, k), images in sorted(grid.items()):
        meta = setting_sidecar(args.method, n, k, prompt_set=pset["set"], per_prompt=args.per_prompt, seed=args.seed,
                               git_commit=git_commit())
        write_samples(out / f"n{n}_tteo{k}.npz", meta, arr_0=images, prompt_rows=rows)
    write_json(out / "grid.json", {"student": payload["method"], "prompt_set": pset["set"], "seed": args.seed,
                                   "grid": [[n, k] for n, k in sorted(grid)], "rewards": as_dict(paper.rewards),
                                   "tteo_lr": paper.test_time.tteo_lr, "seconds": seconds, "n_images": len(ids),
                                   "git_commit": git_commit()})
    print(f"test-time grid of {len(grid)} settings on {len(ids)} images in {seconds:.1f}s")


def main(argv=None):
    from softdimo.config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prompts")
    p.add_argument("--set", required=True, choices=["geneval", "hps", "coco", "train"])
    p.add_argument("--source", required=True)
    p.add_argument("--num", type=positive_int, default=None, help="train set only: how many prompts to keep")
    p.add_argument("--out", required=True)
    b = sub.add_parser("text-bank")
    b.add_argument("--prompts", nargs="+", required=True, help="prompt sets whose prompts the bank holds")
    b.add_argument("--encoder", required=True, help="local OpenCLIP weight file")
    c = sub.add_parser("convert")
    c.add_argument("--kind", required=True, choices=["teacher", "tokenizer"])
    c.add_argument("--official", required=True)
    s = sub.add_parser("sample")
    for name in ("--teacher", "--tokenizer", "--text-bank", "--prompts"):
        s.add_argument(name, required=True)
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--steps", type=positive_int, help="teacher sampling steps")
    how.add_argument("--student")
    t = sub.add_parser("test-time")
    for name in ("--teacher", "--tokenizer", "--text-bank", "--prompts", "--student", "--clip", "--hps", "--out-dir"):
        t.add_argument(name, required=True)
    for q in (s, t):
        q.add_argument("--method", required=True, help="the row's name in the tables (recorded in the samples' "
                       "sidecar, checked by the evaluators); test-time: the student's, the setting is appended")
        q.add_argument("--per-prompt", type=positive_int, required=True)
        q.add_argument("--seed", type=nonnegative_int, required=True)
        q.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--config", required=True)
    for q in (b, c, s):
        q.add_argument("--config", required=True)
        q.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "prompts":
        out = prompt_set(args.set, args.source, args.num)
        write_json(Path(args.out), out)
        print(f"{args.set}: {len(out['prompts'])} prompts")
        return
    cfg = load_config(args.config)
    if cfg.t2i_paper is None:
        raise SystemExit(f"{args.config} has no t2i_paper section (the paper preset has)")
    if args.cmd == "text-bank":
        from softdimo.runtime import setup_torch

        setup_torch(cfg.torch_threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        prompts = [q for path in args.prompts for q in load_prompt_set(path)["prompts"]]
        bank = make_text_bank(prompts, args.encoder, cfg.t2i_paper.text_encoder.arch, device)
        atomic_torch_save(bank, args.out)
        print(f"{len(bank['prompts'])} distinct prompts -> tokens {tuple(bank['tokens'].shape)}")
    elif args.cmd == "convert":
        from softdimo.pretrained import convert_module

        section = getattr(cfg.t2i_paper, args.kind)
        print(convert_module(args.kind, *official_module(section), cfg, Path(args.official), Path(args.out)))
    elif args.cmd == "test-time":
        test_time_main(args, cfg)
    else:
        sample_main(args, cfg)


if __name__ == "__main__":
    cli(main)
