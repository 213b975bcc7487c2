"""Paper-scale MaskGit track (Table 1's MaskGit rows; config c2i_maskgit): strict conversion of the official
MaskGIT-pytorch transformer, the taming VQGAN and the released Di[M]O-MaskGit student, and sampling of the
teacher (MaskGIT-pytorch's sampler) and of one-step students into the sample files the evaluators read.

    python -m softdimo.tracks.maskgit.pipeline convert --kind teacher|tokenizer|released --config CFG \
        --official F --out A
    python -m softdimo.tracks.maskgit.pipeline sample --config CFG --teacher T --tokenizer TOK \
        (--steps 8 | --student W) --seed 0 --out S.npz

Image i of evaluation seed k has class i mod 1000 (50 per class in 50,000, as Di[M]O's evaluation) and draws
its noise from generator seed k*1_000_000 + i. The sidecar names the sampler setting (c2i_maskgit.sampling.setting)
and the teacher family, so Table 1 keeps these rows apart from MaskBit's.
"""
import argparse
from pathlib import Path

import torch

from softdimo import distributed
from softdimo.config import Config, load_config, replace
from softdimo.errors import cli, nonnegative_int, positive_int
from softdimo.io import git_commit, write_samples
from softdimo.sampling import ForwardCounter, image_seeds

FAMILY = "MaskGit"
RELEASED = "dimo_released"
# checkpoint layouts: the transformer's training file, the VQGAN's Lightning file, the released plain state dict
STATE_KEYS = {"teacher": ("model_state_dict",), "tokenizer": ("state_dict",), "released": ()}
DROP = {"tokenizer": ("loss.",)}  # the VQGAN's LPIPS and discriminator, used only to train it


def section(cfg: Config):
    if cfg.c2i_maskgit is None:
        raise SystemExit("the MaskGit track needs a config with a c2i_maskgit section (config/paper.yaml)")
    return cfg.c2i_maskgit


def official_module(part):
    """(arch, kwargs, randomly initialised module) of c2i_maskgit.teacher / .tokenizer."""
    from softdimo.pretrained import section_module

    return section_module(part)


def convert(kind: str, cfg: Config, official: Path, out: Path) -> dict:
    """teacher / tokenizer: the official files; released: the Di[M]O generator, as a student artefact."""
    from softdimo.pretrained import convert_module, load_checkpoint

    m = section(cfg)
    arch, kwargs, module = official_module(m.tokenizer if kind == "tokenizer" else m.teacher)
    load = lambda path: load_checkpoint(path, STATE_KEYS[kind], DROP.get(kind, ()))
    extra = None
    if kind == "released":
        r = m.released_student
        extra = {"method": RELEASED, "seed": 0, "total_steps": None, "aux_state_dict": None, "disc_state_dict": None,
                 "student": {"r_init": r.r_init, "sigma_init": r.sigma_init, "temperature": r.temperature}}
    return convert_module("student" if kind == "released" else kind, arch, kwargs, module, cfg, official, out,
                          load=load, extra=extra)


def c2i_view(cfg: Config) -> Config:
    """The config with c2i's sampling-independent parts replaced by this track's (distill, gan, students, eval),
    so the library's class-to-image student stage trains the MaskGit students unchanged."""
    m = section(cfg)
    return replace(cfg, c2i=replace(cfg.c2i, eval=m.eval, distill=m.distill, gan=m.gan, students=m.students,
                                    sampling=replace(cfg.c2i.sampling, batch_size=m.sampling.batch_size,
                                                     quantize=m.sampling.quantize)))


class Counter(ForwardCounter):
    """Counts the rows of logits_with_mask too (the samplers' forward with the mask row)."""

    def logits_with_mask(self, e, cond, *args, **kwargs):
        self.rows += len(e)
        return self.model.logits_with_mask(e, cond, *args, **kwargs)


def teacher_tokens(teacher, sampling, steps: int):
    from softdimo.tracks.maskgit.sampler import sample_teacher

    chosen = sampling.candidates[sampling.setting]
    return lambda labels, rngs: sample_teacher(
        teacher, labels, rngs, steps=steps, schedule=sampling.schedule, cfg_w=chosen.cfg_w,
        softmax_temperature=chosen.softmax_temperature, randomize_temperature=chosen.randomize_temperature,
        randomize=sampling.randomize, mask_class=sampling.mask_class)


def student_tokens(student, settings: dict, mask_class: str):
    from softdimo.tracks.maskgit.sampler import sample_student

    return lambda labels, rngs: sample_student(student, labels, rngs, r_init=settings["r_init"],
                                               sigma_init=settings["sigma_init"], temperature=settings["temperature"],
                                               mask_class=mask_class, min_masked=settings["min_masked"])


def student_settings(cfg: Config, payload: dict) -> dict:
    """r_init of the student's own row, sigma / temperature of the recipe (the released student: its own)."""
    d = section(cfg).distill
    if payload["method"] == RELEASED:
        return {**payload["student"], "min_masked": d.min_masked}
    return {"r_init": payload["student"]["r_init"], "sigma_init": d.sigma_init, "temperature": d.temperature,
            "min_masked": d.min_masked}


def sample_main(args):
    from softdimo.checkpoints import load_artefact
    from softdimo.generation import generate, join_shares, timed
    from softdimo.runtime import autocast, setup_torch

    cfg = load_config(args.config)
    m = section(cfg)
    setup_torch(args.threads or cfg.torch_threads)
    device = distributed.init(cfg.device)
    teacher, _ = load_artefact(args.teacher, "teacher", device)
    tokenizer, _ = load_artefact(args.tokenizer, "tokenizer", device)
    n, bs, s = m.eval.n_samples, m.sampling.batch_size, m.sampling
    seeds = image_seeds(args.seed, n)
    labels = torch.arange(n, device=device) % teacher.num_classes
    meta = {"eval_seed": args.seed, "image_seeds": f"{seeds[0]}..{seeds[-1]}", "n_samples": n, "batch_size": bs,
            "device": cfg.device, "precision": cfg.precision, "processes": distributed.world_size(),
            "torch_threads": torch.get_num_threads(), "quantize": s.quantize, "mask_class": s.mask_class,
            "teacher_family": FAMILY, "git_commit": git_commit()}
    if args.student is None:
        counted = Counter(teacher)
        sampler = teacher_tokens(counted, s, args.steps)
        meta.update(method="teacher", steps=args.steps, sampler_setting=s.setting,
                    sampler=dict(schedule=s.schedule, randomize=s.randomize, **s.candidates[s.setting].model_dump()))
    else:
        student, payload = load_artefact(args.student, "student", device)
        counted = Counter(student)
        settings = student_settings(cfg, payload)
        sampler = student_tokens(counted, settings, s.mask_class)
        meta.update(method=payload["method"], steps=1, student_total_steps=payload["total_steps"], **settings)
        if payload["method"] == RELEASED:  # beside the paper's Di[M]O row (6.91)
            meta["reported_as"] = "dimo"
    mine = distributed.share(n)
    with autocast(cfg.precision, device):
        images, seconds = timed(lambda: generate(sampler, tokenizer, seeds[mine], labels[mine], bs,
                                                 quantize=s.quantize, desc=meta["method"],
                                                 progress=distributed.is_main()))
    meta["nfe"] = counted.nfe(len(seeds[mine]))
    images = join_shares(images, Path(args.out))
    if images is None:
        return
    meta.update(seconds=round(seconds, 3), images_per_s=len(seeds[mine]) / seconds, images_per_s_total=n / seconds)
    write_samples(args.out, meta, arr_0=images, labels=labels.cpu().numpy())
    print(f"{meta['method']}: {n} images in {seconds:.2f}s ({meta['images_per_s']:.1f} images/s per process)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--kind", required=True, choices=["teacher", "tokenizer", "released"])
    c.add_argument("--config", required=True)
    c.add_argument("--official", required=True)
    c.add_argument("--out", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--config", required=True)
    s.add_argument("--teacher", required=True)
    s.add_argument("--tokenizer", required=True)
    s.add_argument("--student", default=None, help="one-step student weights; without it the teacher is sampled")
    s.add_argument("--steps", type=positive_int, default=None, help="teacher sampling steps (teacher only)")
    s.add_argument("--seed", type=nonnegative_int, required=True)
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "convert":
        print(convert(args.kind, load_config(args.config), Path(args.official), Path(args.out)))
    elif (args.student is None) == (args.steps is None):
        parser.error("give either --steps (teacher) or --student")
    else:
        sample_main(args)


if __name__ == "__main__":
    cli(main)
