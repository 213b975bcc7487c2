"""Meissonic rows of Table 2 at 1024 px: text banks of Meissonic's CLIP encoder, strict conversion of the official
transformer / VQ files and of the released Di[M]O student, and sampling of the teacher (its own 32-step sampler)
and of one-step students. Prompt sets, scorers and the evaluation are t2i_paper's (the MaskGen-L track's rules).

    python -m softdimo.tracks.meissonic.pipeline text-bank --config CFG --hub resources/meissonic/hub --prompts P.. --out B
    python -m softdimo.tracks.meissonic.pipeline convert --kind teacher|tokenizer|released --config CFG --official F --out A
    python -m softdimo.tracks.meissonic.pipeline sample --config CFG --teacher T --tokenizer TOK --text-bank B \
        --prompts P (--steps 32 --method meissonic_teacher | --student W --method meissonic_NAME) --per-prompt 4 \
        --seed 0 --out S.npz
    python -m softdimo.tracks.meissonic.pipeline test-time --config CFG --tokenizer TOK --text-bank B --prompts P \
        --student W --method meissonic_NAME --clip CLIP --hps HPS --per-prompt 4 --seed 0 --out-dir DIR

Image i of a sample file belongs to prompt i // per_prompt and draws its noise from seed k*1_000_000 + i.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from evaluation.prompt_sets import load_prompt_set
from softdimo.errors import cli, nonnegative_int, positive_int
from softdimo.io import atomic_torch_save, git_commit, write_json, write_samples


ROW_PREFIX = "meissonic_"  # Table 2 names the Meissonic rows meissonic_<method> beside MaskGen-L's


def bank_ids(bank, prompts: list[str]) -> torch.Tensor:
    row = {p: i for i, p in enumerate(bank.prompts)}
    missing = [p for p in prompts if p not in row]
    if missing:
        raise ValueError(f"{len(missing)} prompts are not in the text bank, e.g. {missing[0]!r}: wrong bank for this set")
    return torch.tensor([row[p] for p in prompts], dtype=torch.long)


def make_text_bank(prompts: list[str], hub_folder, negative_prompt: str, device="cpu") -> dict:
    """Features of every distinct prompt plus '' and the negative prompt (the CFG branch, `null_prompt`); token
    features in fp16 (77 x 1024 per prompt), kept in host memory when loaded."""
    from softdimo.tracks.meissonic.text_encoder import encode_prompts, load_text_encoder

    model, tokenizer = load_text_encoder(hub_folder)
    bank = encode_prompts(model.to(device), tokenizer, list(prompts) + [""], negative_prompt)
    bank["tokens"], bank["on_host"] = bank["tokens"].half(), True
    return bank


# -- conversion -------------------------------------------------------------------------------------------------------
# official config.json key -> our constructor argument (the rest of the file does not shape the weights)
CONFIG_KEYS = {
    "meissonic": {"num_layers": "dual_layers", "num_single_layers": "single_layers", "num_attention_heads": "heads",
                  "attention_head_dim": "head_dim", "vocab_size": "vocab_size", "codebook_size": "codebook_size",
                  "joint_attention_dim": "text_dim", "pooled_projection_dim": "pooled_dim",
                  "axes_dims_rope": "axes_dims_rope"},
    "meissonic_vq": {"num_vq_embeddings": "codebook_size", "latent_channels": "latent_channels",
                     "block_out_channels": "block_out_channels", "layers_per_block": "layers_per_block",
                     "norm_num_groups": "norm_num_groups"},
}


def check_official_config(arch: str, kwargs: dict, config_path: Path) -> None:
    """The hub's config.json beside the weights against the configured constructor arguments (the preset's
    values were read from copies of these files; a real one that differs stops the conversion)."""
    import json

    if not config_path.exists():
        raise SystemExit(f"{config_path} not found: the download rules fetch it next to the weights")
    official = json.loads(config_path.read_text())
    wrong = {ours: (official[key], kwargs[ours]) for key, ours in CONFIG_KEYS[arch].items()
             if key in official and _plain(official[key]) != _plain(kwargs[ours])}
    if wrong:
        raise SystemExit(f"{config_path} disagrees with the config's {arch} kwargs (official, ours): {wrong}")


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def convert(kind: str, cfg, official: Path, out: Path) -> dict:
    """The official file loaded strictly into our module, written as a softdimo artefact (teacher, tokenizer, or
    the released student with its sampling settings)."""
    from safetensors.torch import load_file

    from softdimo.models import build_model
    from softdimo.pretrained import require_file, sha256_of
    from softdimo.tokenizers import build_tokenizer
    from softdimo.tokenizers.meissonic_vq import official_state

    m = cfg.meissonic
    section = m.tokenizer if kind == "tokenizer" else m.teacher
    kwargs = dict(section.kwargs)
    module = (build_tokenizer if kind == "tokenizer" else build_model)(section.arch, **kwargs)
    check_official_config(section.arch, kwargs, official.with_name("config.json"))
    state = load_file(str(require_file(official)))
    if kind == "tokenizer":
        state = official_state(state)
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise SystemExit(f"{official} does not match {section.arch} {kwargs}: missing {result.missing_keys[:8]} (of "
                         f"{len(result.missing_keys)}), unexpected {result.unexpected_keys[:8]} (of "
                         f"{len(result.unexpected_keys)})")
    module.load_state_dict(state, strict=True)
    summary = {"source": str(official), "sha256": sha256_of(official),
               "n_params": sum(p.numel() for p in module.parameters()), "git_commit": git_commit()}
    payload = {"kind": {"teacher": "teacher", "tokenizer": "tokenizer"}.get(kind, "student"), "arch": section.arch,
               "kwargs": kwargs, "state_dict": module.state_dict(), "summary": summary}
    if kind == "released":
        r = m.released
        payload.update(method="dimo_released", seed=0, total_steps=0, aux_state_dict={},
                       student={"r_init": r.r_init, "sigma_init": r.sigma_init, "temperature": r.temperature})
    atomic_torch_save(payload, out)
    write_json(out.with_suffix(".json"), summary)
    return summary


# -- sampling -----------------------------------------------------------------------------------------------------
def teacher_tokens(teacher, sampling, steps: int):
    from softdimo.tracks.meissonic.sampler import sample_meissonic

    return lambda ids, rngs: sample_meissonic(
        teacher, ids, rngs, steps=steps, guidance_scale=sampling.guidance_scale, schedule=sampling.schedule,
        temperature_start=sampling.temperature_start, temperature_end=sampling.temperature_end)


def student_tokens(student, r_init: float, sigma_init: float, temperature: float, min_masked: int):
    from softdimo.sampling import sample_one_step

    return lambda ids, rngs: sample_one_step(student, ids, rngs, r_init=r_init, sigma_init=sigma_init,
                                             min_masked=min_masked, mask_unit="position", temperature=temperature)


@torch.no_grad()
def generate(sample_tokens, tokenizer, ids: torch.Tensor, seeds: list[int], batch_size: int, precision: str,
             quantize: str, desc: str = "", store_size: int | None = None) -> np.ndarray:
    """uint8 NHWC images (1024 px, or store_size: bicubic with antialiasing before quantising); the VQ decodes
    in fp32 (its config forces upcasting)."""
    from softdimo.runtime import autocast
    from softdimo.sampling import ImageRngs
    from softdimo.tokenizers.lfq import to_uint8

    out = []
    for start in tqdm(range(0, len(seeds), batch_size), desc=desc, mininterval=10.0):
        sl = slice(start, start + batch_size)
        with autocast(precision, ids.device):
            tokens = sample_tokens(ids[sl], ImageRngs(seeds[sl], ids.device))
        with torch.autocast(ids.device.type, enabled=False):
            x = tokenizer.decode(tokens)
            if store_size and store_size != x.shape[-1]:
                x = torch.nn.functional.interpolate(x, size=(store_size, store_size), mode="bicubic", antialias=True)
            out.append(to_uint8(x, quantize).cpu().numpy())
    return np.concatenate(out)


def sample_main(args, cfg):
    from softdimo.checkpoints import check_row, load_artefact
    from softdimo.runtime import setup_torch
    from softdimo.sampling import ForwardCounter, image_seeds
    from softdimo.text_bank import load_bank

    setup_torch(cfg.torch_threads)
    device = cfg.device if cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    m = cfg.meissonic
    bank = load_bank(args.text_bank).to(device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", device)
    pset = load_prompt_set(args.prompts)
    ids = bank_ids(bank, pset["prompts"]).repeat_interleave(args.per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    if args.student:
        model, payload = load_artefact(args.student, "student", device)
        check_row(args.method, payload, ROW_PREFIX, args.student)
        s = payload["student"]
        sigma, temperature = s.get("sigma_init", m.distill.sigma_init), s.get("temperature", m.distill.temperature)
        counted = ForwardCounter(model.attach_text(bank))
        sampler = student_tokens(counted, s["r_init"], sigma, temperature, m.distill.min_masked)
        what = payload["method"]
    else:
        check_row(args.method, None, ROW_PREFIX)
        model, _ = load_artefact(args.teacher, "teacher", device)
        model.attach_text(bank)
        model.null_class = bank.prompts.index(m.sampling.negative_prompt)
        counted = ForwardCounter(model)
        sampler, what = teacher_tokens(counted, m.sampling, args.steps), f"teacher {args.steps} steps"
    t0 = time.perf_counter()
    images = generate(sampler, tokenizer, ids, seeds, args.batch_size or m.sampling.batch_size, cfg.precision,
                      m.sampling.quantize, desc=what, store_size=args.store_size)
    seconds = time.perf_counter() - t0
    write_samples(args.out, {
        "method": args.method, "what": what, "prompt_set": pset["set"], "n_images": len(images), "per_prompt": args.per_prompt,
        "steps": 1 if args.student else args.steps, "nfe": counted.nfe(len(images)), "resolution": images.shape[1],
        "quantize": m.sampling.quantize, "seed": args.seed, "images_per_s": len(images) / seconds,
        "seconds": seconds, "device": str(device), "precision": cfg.precision, "git_commit": git_commit()},
        arr_0=images, prompt_rows=np.arange(len(pset["prompts"])).repeat(args.per_prompt))
    print(f"{what}: {len(images)} images, {len(images) / seconds:.2f} images/s")


class Scoring:
    """Test-time scaling's view of the Meissonic modules (softdimo.method.test_time): the VQ decodes tokens or
    soft tokens at 1024 px, t2i_paper's composite reward scores them for their prompts."""

    def __init__(self, tokenizer, reward):
        self.tokenizer, self.reward_model = tokenizer, reward

    def decode(self, tokens, prompt_ids):
        with torch.autocast(tokens.device.type, enabled=False):
            return self.tokenizer.decode(tokens)

    def decode_soft(self, probs, prompt_ids):
        return self.tokenizer.decode_soft(probs).clamp(-1, 1)

    def reward(self, images, prompt_ids):
        return self.reward_model(images.clamp(-1, 1), prompt_ids)


def test_time_main(args, cfg):
    """Best-of-N x TTEO grid of a Meissonic student on one prompt set: one sample file per (N, iterations)."""
    from evaluation.clip_scorers import configured_scorer
    from softdimo.checkpoints import check_row, load_artefact
    from softdimo.config import as_dict
    from softdimo.method.reward import CompositeReward
    from softdimo.method.test_time import setting_sidecar, test_time_grid
    from softdimo.runtime import autocast, setup_torch
    from softdimo.sampling import image_seeds
    from softdimo.text_bank import load_bank

    setup_torch(cfg.torch_threads)
    device = cfg.device if cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    m, weights = cfg.meissonic, as_dict(cfg.t2i_paper.rewards)
    bank = load_bank(args.text_bank).to(device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", device)
    student, payload = load_artefact(args.student, "student", device)
    check_row(args.method, payload, ROW_PREFIX, args.student)
    student.attach_text(bank)
    files, scorers = {"clip": args.clip, "hps": args.hps}, cfg.t2i_paper.scorers
    reward = CompositeReward({k: configured_scorer(k, files[k], scorers).to(device) for k, w in weights.items() if w > 0},
                             weights, bank.prompts)
    pset = load_prompt_set(args.prompts)
    ids = bank_ids(bank, pset["prompts"]).repeat_interleave(args.per_prompt).to(device)
    seeds = image_seeds(args.seed, len(ids))
    # every prompt of an outer batch carries max(N) candidates at 1024 px through TTEO: one prompt per batch
    t0 = time.perf_counter()
    with autocast(cfg.precision, device):
        grid = test_time_grid(student, Scoring(tokenizer, reward), ids, seeds, m.test_time,
                              r_init=payload["student"]["r_init"], distill_cfg=m.distill,
                              batch_size=args.batch_size or 1, quantize=m.sampling.quantize)
    seconds = time.perf_counter() - t0
    out = Path(args.out_dir)
    rows = np.arange(len(pset["prompts"])).repeat(args.per_prompt)
    for (n, k), images in sorted(grid.items()):
        meta = setting_sidecar(args.method, n, k, prompt_set=pset["set"], per_prompt=args.per_prompt, seed=args.seed,
                               git_commit=git_commit())
        write_samples(out / f"n{n}_tteo{k}.npz", meta, arr_0=images, prompt_rows=rows)
    write_json(out / "grid.json", {"student": payload["method"], "prompt_set": pset["set"], "seed": args.seed,
                                   "grid": [[n, k] for n, k in sorted(grid)], "rewards": weights,
                                   "tteo_lr": m.test_time.tteo_lr, "seconds": seconds, "n_images": len(ids),
                                   "git_commit": git_commit()})
    print(f"test-time grid of {len(grid)} settings on {len(ids)} images in {seconds:.1f}s")


def main(argv=None):
    from softdimo.config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("text-bank")
    b.add_argument("--prompts", nargs="+", required=True, help="prompt sets whose prompts the bank holds")
    b.add_argument("--hub", required=True, help="local copy of MeissonFlow/Meissonic (text_encoder/, tokenizer/)")
    c = sub.add_parser("convert")
    c.add_argument("--kind", required=True, choices=["teacher", "tokenizer", "released"])
    c.add_argument("--official", required=True)
    s = sub.add_parser("sample")
    for name in ("--tokenizer", "--text-bank", "--prompts"):
        s.add_argument(name, required=True)
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--steps", type=positive_int, help="teacher sampling steps")
    how.add_argument("--student")
    s.add_argument("--teacher", help="teacher artefact (with --steps)")
    s.add_argument("--per-prompt", type=positive_int, required=True)
    s.add_argument("--seed", type=nonnegative_int, required=True)
    s.add_argument("--method", required=True, help="the row's name in the tables (recorded in the samples' sidecar, "
                   "checked by the evaluators)")
    s.add_argument("--batch-size", type=int, default=None)
    s.add_argument("--store-size", type=positive_int, default=None, help="side of the stored images (default: as decoded)")
    t = sub.add_parser("test-time")
    for name in ("--tokenizer", "--text-bank", "--prompts", "--student", "--clip", "--hps", "--out-dir", "--config"):
        t.add_argument(name, required=True)
    t.add_argument("--per-prompt", type=positive_int, required=True)
    t.add_argument("--seed", type=nonnegative_int, required=True)
    t.add_argument("--method", required=True, help="the student row's name in the tables; each samples file's "
                   "sidecar records it with the setting appended (+nN_tteoK)")
    t.add_argument("--batch-size", type=positive_int, default=None, help="prompts per batch (default 1)")
    for q in (b, c, s):
        q.add_argument("--config", required=True)
        q.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    if cfg.meissonic is None:
        raise SystemExit(f"{args.config} has no meissonic section (the paper preset has)")
    if args.cmd == "text-bank":
        from softdimo.runtime import setup_torch

        setup_torch(cfg.torch_threads)
        prompts = [q for path in args.prompts for q in load_prompt_set(path)["prompts"]]
        bank = make_text_bank(prompts, args.hub, cfg.meissonic.sampling.negative_prompt,
                              "cuda" if torch.cuda.is_available() else "cpu")
        atomic_torch_save(bank, args.out)
        print(f"{len(bank['prompts'])} distinct prompts -> tokens {tuple(bank['tokens'].shape)}")
    elif args.cmd == "convert":
        print(convert(args.kind, cfg, Path(args.official), Path(args.out)))
    elif args.cmd == "test-time":
        test_time_main(args, cfg)
    else:
        if args.steps and not args.teacher:
            parser.error("--steps samples the teacher: give --teacher")
        sample_main(args, cfg)


if __name__ == "__main__":
    cli(main)
