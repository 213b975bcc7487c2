"""The stage protocol of the one training loop (softdimo/train.py) and the registry that finds a stage by name.

A stage owns its modules (`modules`, saved in checkpoints), draws the batch of a step (`next_batch`, using
only the already-seeded global RNG) and lists its `phases`: (name, loss callable, module it updates). Losses
are small callables `loss(batch, step) -> (scalar, {name: value})`. It also has `train_cfg`, `build(device)`,
`evaluate()` (summary numbers) and `export()` (the artefact payload); optionally `eval_every` with
`periodic_eval(modules, step)`, `ema_modules` and `adam_eps` (the optimizers' eps, torch's 1e-8 without it).

Stages live in their track: `softdimo/tracks/<track>/stages.py` defines `STAGES = {name: factory}`, and a
stage is named `<track>.<name>[:<arg>...]`, e.g. `digits.teacher` or `shapes.student:soft_dimo:0`. The
registry imports the track's module by that name only when asked, so this library imports no track.
"""
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch


@dataclass
class Phase:
    name: str
    loss: Callable
    module: str
    lr_scale: float = 1.0  # this phase's learning rate relative to the stage's train.lr
    clip: bool = True  # clip this module's gradients at train.grad_clip (official MaskGit Di[M]O: generator only)


def random_rows(n: int, batch_size: int) -> torch.Tensor:
    return torch.randint(0, n, (batch_size,))


def track_stages(track: str) -> dict:
    """{name: factory} of one track; factories take (cfg, inputs, *args)."""
    try:
        module = importlib.import_module(f"softdimo.tracks.{track}.stages")
    except ModuleNotFoundError as error:
        if error.name not in (f"softdimo.tracks.{track}", f"softdimo.tracks.{track}.stages"):
            raise
        raise SystemExit(f"unknown track {track!r}; tracks with stages: {', '.join(known_tracks())}") from None
    return module.STAGES


def known_tracks() -> list[str]:
    """The track folders next to this file (read from disk: importing them is the registry's job, on demand)."""
    folder = Path(__file__).with_name("tracks")
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if m.ispkg)


def stage_names() -> list[str]:
    """Every stage of every track, with its arguments spelled out (for --help and error messages)."""
    names = []
    for track in known_tracks():
        try:
            stages = track_stages(track)
        except SystemExit:
            continue
        names += [f"{track}.{name}" + "".join(f":<{a}>" for a in getattr(f, "ARGS", ())) for name, f in stages.items()]
    return names


def build_stage(name: str, cfg, inputs: dict[str, Path]):
    """The stage `<track>.<name>[:<arg>...]` built from the config and its input files."""
    track, _, rest = name.partition(".")
    stage, *args = rest.split(":")
    stages = track_stages(track) if rest else {}
    if stage not in stages:
        raise SystemExit(f"unknown stage {name!r}; known: {', '.join(stage_names())}")
    factory = stages[stage]
    expected = getattr(factory, "ARGS", ())
    if len(args) != len(expected):
        raise SystemExit(f"stage {track}.{stage} takes {len(expected)} argument(s) "
                         f"({':'.join(f'<{a}>' for a in expected) or 'none'}), got {name!r}")
    return factory(cfg, inputs, *args)
