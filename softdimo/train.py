"""The one training loop of every stage of every track (tokenizers, teachers, judges, one-step students).

A stage (protocol in softdimo/stages.py; stages in softdimo/tracks/<track>/stages.py) provides its modules,
its batches and one or more *phases*: a loss callable plus the module it updates. The loop owns everything
else: AdamW with linear warm-up, gradient clipping (of the phases that ask for it), EMA, a progress bar, the
curve CSV written as it goes, atomic resumable checkpoints, and a hard stop on a non-finite loss that leaves
the last good checkpoint in place. A stage may also set `accumulation_steps` (micro-batches of
train.batch_size per optimiser step; their mean loss gives the gradient of the whole batch), as the official
Meissonic recipe does.

Resuming is exact: all randomness of step s is drawn after seeding with (seed, s), so a run killed and
resumed ends with the same weights as one that never stopped. A checkpoint is resumed only when it belongs to
the same run (its fingerprint: stage, config, thread count and the sha256 of every input file); a finished one
of the same run is reused as it is (training is deterministic given the fingerprint), a changed job trains from
scratch instead of returning stale weights, and an unreadable one is set aside.

    python -m softdimo.train --config CFG --stage digits.teacher --input train=... --input tokenizer=... \
        --out results/c2i/teacher.pt --workdir results/c2i/checkpoints/teacher --curve results/c2i/teacher_curve.csv
"""
import argparse
import copy
import hashlib
import json
import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from softdimo import distributed
from softdimo.config import TrainCfg, load_config, replace, to_dict
from softdimo.errors import SoftdimoError, cli, positive_int
from softdimo.io import atomic_torch_save, atomic_write_text, git_commit, write_json
from softdimo.models.dropout import set_dropout_draws
from softdimo.runtime import autocast, setup_torch


class TrainingDiverged(SoftdimoError):
    pass


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63 - 1)


def lr_at(step: int, cfg: TrainCfg) -> float:
    """Learning rate of update `step` (counted from 0): linear warm-up, then constant."""
    if not cfg.warmup_steps:
        return cfg.lr
    done = step if cfg.warmup_from == "zero" else step + 1
    return cfg.lr * min(1.0, done / cfg.warmup_steps)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, step: int, decay: float) -> None:
    rate = min(decay, (1 + step) / (10 + step))
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - rate)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


def read_checkpoint(path: Path, device) -> dict | None:
    """The resume state at `path` (loaded as data only), or None if there is none; an unreadable one (a disk
    that filled up, a copy cut short) is moved aside with a warning so that training starts again from scratch
    instead of failing on it forever."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # truncated zip, bad pickle, ...: the file cannot be trusted
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        print(f"warning: resume checkpoint {path} is unreadable ({type(error).__name__}); moved it to {aside} and "
              "training from scratch", flush=True)
        return None


def _write_curve(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))  # union: evaluation columns appear on some rows only
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def fingerprint(stage_name: str, config: dict, inputs: dict[str, Path], processes: int = 1,
                threads: int | None = None) -> str:
    """What a checkpoint must match to be resumed or reused: the stage, the whole config, the inputs' contents,
    the process count (each rank draws its own stream) and the thread count (CPU kernels split their sums by
    thread, so another count gives other weights)."""
    run = {"stage": stage_name, "config": config, **({"processes": processes} if processes > 1 else {}),
           **({"threads": threads} if threads is not None else {})}
    h = hashlib.sha256(json.dumps(run, sort_keys=True, default=str).encode())
    for name in sorted(inputs):
        h.update(name.encode())
        with open(inputs[name], "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def train(stage, cfg: TrainCfg, workdir: Path, curve_path: Path, device: str = "cpu",
          stop_after: int | None = None, run_fingerprint: str = "", precision: str = "fp32") -> dict:
    """Run (or resume) the stage to cfg.steps. `stop_after` ends this process early, as a kill would."""
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt_path = workdir / "last.pt"
    torch.manual_seed(cfg.seed)
    stage.build(device)
    main = distributed.is_main()
    for module in stage.modules.values():
        distributed.broadcast_parameters(module)
    accumulation = getattr(stage, "accumulation_steps", 1)
    optimizers = {
        name: torch.optim.AdamW([p for p in stage.modules[name].parameters() if p.requires_grad], lr=cfg.lr,
                                betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
        for name in {phase.module for phase in stage.phases}
    }
    ema_names = getattr(stage, "ema_modules", tuple(optimizers))
    ema = {name: copy.deepcopy(stage.modules[name]).requires_grad_(False) for name in ema_names} \
        if cfg.ema_decay > 0 else {}
    start = 0
    state = read_checkpoint(ckpt_path, device)
    if state is not None and state.get("fingerprint", "") != run_fingerprint:
        print(f"{stage.name}: not resuming {ckpt_path} (made with other inputs or config); training from scratch",
              flush=True)
        state = None
    if state is not None and state["step"] > cfg.steps:
        print(f"{stage.name}: not resuming {ckpt_path} (at step {state['step']}, past {cfg.steps}); training from "
              "scratch", flush=True)
        state = None
    rows = []
    if state is not None:
        for name, sd in state["modules"].items():
            stage.modules[name].load_state_dict(sd)
        for name, sd in state["optimizers"].items():
            optimizers[name].load_state_dict(sd)
        for name, sd in state["ema"].items():
            ema[name].load_state_dict(sd)
        start = state["step"]
        rows = [row for row in state.get("curve", []) if int(row["step"]) <= start]
        if start == cfg.steps:  # the same run finished (e.g. Snakemake was stopped while saving the outputs)
            print(f"{stage.name}: {ckpt_path} holds this run finished at step {start}; reusing it", flush=True)
            if main:
                _write_curve(curve_path, rows)
        else:
            print(f"resuming {stage.name} from {ckpt_path} at step {start}", flush=True)

    def save(step):
        if not main:
            return
        atomic_torch_save({"step": step, "modules": {k: m.state_dict() for k, m in stage.modules.items()},
                           "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                           "ema": {k: m.state_dict() for k, m in ema.items()}, "curve": rows,
                           "fingerprint": run_fingerprint}, ckpt_path)
        _write_curve(curve_path, rows)

    eval_every = getattr(stage, "eval_every", 0)
    if eval_every and start == 0 and not rows and main:  # the curve starts at the initial weights
        rows.append({"step": 0, **{k: f"{v:.6g}" for k, v in stage.periodic_eval(stage.modules, 0).items()}})
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=stage.name, mininterval=2.0,
               disable=not main)
    for step in bar:
        if stop_after is not None and step >= stop_after:
            break
        # rank r draws its share of the batch from its own stream; rank 0's is the single-process stream
        torch.manual_seed(step_seed(cfg.seed + 1_000_003 * distributed.rank(), step))
        for m in stage.modules.values():
            m.train()
        batches = [stage.next_batch(step) for _ in range(accumulation)]
        logs = {}
        for phase in stage.phases:
            opt = optimizers[phase.module]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg) * phase.lr_scale
            opt.zero_grad(set_to_none=True)
            means = {}
            for batch in batches:
                with autocast(precision, device):
                    loss, parts = phase.loss(batch, step)
                if not distributed.all_finite(loss.item(), loss.device):
                    kept = f"the last good checkpoint {ckpt_path} is kept" if ckpt_path.exists() else "no checkpoint yet"
                    raise TrainingDiverged(
                        f"{stage.name}: loss '{phase.name}' is not finite at step {step} (on this process: "
                        f"{loss.item()}); training stopped and "
                        f"{kept}. Lower train.lr or raise train.warmup_steps, then rerun to resume from it.")
                (loss / accumulation if accumulation > 1 else loss).backward()
                for k, v in parts.items():  # logged: the mean over the micro-batches
                    value = float(v.detach()) if torch.is_tensor(v) else float(v)
                    means[k] = means.get(k, 0.0) + (value / accumulation if accumulation > 1 else value)
            distributed.average_gradients(stage.modules[phase.module])
            if cfg.grad_clip > 0 and phase.clip:
                logs[f"{phase.name}_grad_norm"] = float(torch.nn.utils.clip_grad_norm_(
                    stage.modules[phase.module].parameters(), cfg.grad_clip))
            opt.step()
            logs.update({f"{phase.name}_{k}": v for k, v in means.items()})
        for name, ema_model in ema.items():
            update_ema(ema_model, stage.modules[name], step, cfg.ema_decay)
        done = step + 1
        evaluated = bool(eval_every) and (done % eval_every == 0 or done == cfg.steps) and main
        if evaluated:
            logs.update(stage.periodic_eval({k: ema.get(k, m) for k, m in stage.modules.items()}, done))
        if evaluated or done % cfg.log_every == 0 or done == cfg.steps:
            rows.append({"step": done, "lr": lr_at(step, cfg), "seconds": round(time.time() - t0, 2),
                         **{k: f"{v:.6g}" for k, v in logs.items()}})
            if main:
                _write_curve(curve_path, rows)
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(logs.items())[:3]})
        if done % cfg.ckpt_every == 0 or done == cfg.steps:
            save(done)
    bar.close()
    for name, module in stage.modules.items():
        spread = distributed.max_parameter_spread(module)
        if spread > 0:
            raise RuntimeError(f"{stage.name}: {name} differs across ranks by {spread} after training")
    for name, ema_model in ema.items():  # export the EMA weights where EMA is on
        stage.modules[name].load_state_dict(ema_model.state_dict())
    return {"steps": cfg.steps, "started_at_step": start, "train_seconds_this_run": round(time.time() - t0, 1)}


class StageInputs(dict):
    """The --input files of a stage; asking for one that was not given names it instead of a bare KeyError."""

    def __init__(self, files: dict, stage: str):
        super().__init__(files)
        self.stage = stage

    def __missing__(self, name):
        raise SystemExit(f"stage {self.stage} needs --input {name}=PATH (given: {', '.join(sorted(self)) or 'none'})")


def main(argv=None):
    from softdimo.stages import build_stage, stage_names

    parser = argparse.ArgumentParser(description="Train one stage of a track with the shared training loop "
                                     "(resumes from --workdir/last.pt when the run's fingerprint matches).")
    parser.add_argument("--config", required=True, help="resolved config YAML")
    parser.add_argument("--stage", required=True, help="<track>.<stage>[:<arg>...], one of: " + ", ".join(stage_names()))
    parser.add_argument("--input", action="append", default=[], metavar="NAME=PATH", help="stage input file")
    parser.add_argument("--out", required=True, help="final artefact (.pt) with weights, config and summary")
    parser.add_argument("--workdir", required=True, help="folder of the resumable checkpoint")
    parser.add_argument("--curve", required=True, help="training curve CSV, written as training goes")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (default: torch_threads). The count changes the weights, so it is "
                             "part of the run's fingerprint; the workflow passes each rule's fixed count, never "
                             "Snakemake's {threads} (capped at --cores)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    threads = args.threads or cfg.torch_threads
    setup_torch(threads)
    set_dropout_draws(cfg.dropout_draws)
    device = distributed.init(cfg.device)
    bad = [item for item in args.input if "=" not in item or not item.split("=", 1)[0]]
    if bad:
        parser.error(f"--input takes NAME=PATH, got {bad[0]!r}")
    inputs = StageInputs({k: Path(v) for k, v in (item.split("=", 1) for item in args.input)}, args.stage)
    stage = build_stage(args.stage, cfg, inputs)
    stage.train_cfg = replace(stage.train_cfg,
                                          batch_size=distributed.per_rank_batch(stage.train_cfg.batch_size))
    summary = train(stage, stage.train_cfg, Path(args.workdir), Path(args.curve), device=device,
                    run_fingerprint=fingerprint(args.stage, to_dict(cfg), inputs, distributed.world_size(), threads),
                    precision=cfg.precision)
    summary["processes"] = distributed.world_size()
    if not distributed.is_main():
        return
    summary.update(stage.evaluate())
    summary["git_commit"] = git_commit()
    atomic_torch_save({**stage.export(), "summary": summary, "config": to_dict(cfg), "git_commit": git_commit()},
                      args.out)
    write_json(Path(args.out).with_suffix(".json"), summary)
    print(summary, flush=True)


if __name__ == "__main__":
    cli(main)
