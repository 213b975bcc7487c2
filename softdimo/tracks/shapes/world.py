"""The shapes world: a deterministic procedural scene generator with GenEval-style captions and metadata.

A scene is a small RGB image on a dark background with 1-4 objects (a shape in a colour) placed in the cells
of a 2x2 grid, one object per cell with a 1-pixel margin so that objects never touch. Every caption comes
with its metadata in GenEval's form (tag, include: class / count / color / position, exclude), and every
scene is rendered *from* its metadata, so it satisfies it by construction. The prompt set is finite: all
captions of the six GenEval tasks over the configured shapes and colours, plus the empty prompt that
classifier-free guidance uses as the unconditional branch.

    python -m softdimo.tracks.shapes.world --config CFG --out results/t2i/data
"""
import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from softdimo.io import atomic_savez, atomic_write_text, write_json
from softdimo.errors import cli

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
PALETTE = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 90, 235), "yellow": (235, 210, 40),
           "magenta": (210, 50, 210), "cyan": (40, 200, 210)}
NUMBERS = {2: "two", 3: "three", 4: "four"}
RELATIONS = {"left of": ((0, 0), (0, 1)), "right of": ((0, 1), (0, 0)), "above": ((0, 0), (1, 0)),
             "below": ((1, 0), (0, 0))}  # (row, col) offsets of the object and of its reference
GRID = 2  # cells per side


def shape_mask(shape: str, h: int, w: int) -> np.ndarray:
    """Boolean (h, w) mask of a shape filling its box, tested at pixel centres in unit coordinates."""
    v, u = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    if shape == "square":
        return np.ones((h, w), bool)
    if shape == "circle":
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    if shape == "triangle":  # pointing up
        return np.abs(u - 0.5) <= v / 2 + 0.02
    if shape == "diamond":
        return np.abs(u - 0.5) + np.abs(v - 0.5) <= 0.52
    raise ValueError(f"unknown shape {shape!r}")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def prompt_metadata(shapes, colors) -> list[dict]:
    """Every caption of the world with its GenEval metadata, in a fixed order (task, then combination)."""
    out = []
    for s in shapes:
        out.append({"tag": "single_object", "include": [{"class": s, "count": 1}], "prompt": f"a photo of a {s}"})
    for a, b in itertools.permutations(shapes, 2):
        out.append({"tag": "two_object", "include": [{"class": a, "count": 1}, {"class": b, "count": 1}],
                    "prompt": f"a photo of a {a} and a {b}"})
    for s, n in itertools.product(shapes, NUMBERS):
        out.append({"tag": "counting", "include": [{"class": s, "count": n}], "exclude": [{"class": s, "count": n + 1}],
                    "prompt": f"a photo of {NUMBERS[n]} {s}s"})
    for c, s in itertools.product(colors, shapes):
        out.append({"tag": "colors", "include": [{"class": s, "count": 1, "color": c}],
                    "prompt": f"a photo of {_article(c)} {c} {s}"})
    for (a, b), rel in itertools.product(itertools.permutations(shapes, 2), RELATIONS):
        out.append({"tag": "position", "include": [{"class": b, "count": 1}, {"class": a, "count": 1, "position": [rel, 0]}],
                    "prompt": f"a photo of a {a} {rel} a {b}"})
    for (a, b), (ca, cb) in itertools.product(itertools.permutations(shapes, 2), itertools.permutations(colors, 2)):
        out.append({"tag": "color_attr", "include": [{"class": a, "count": 1, "color": ca},
                                                     {"class": b, "count": 1, "color": cb}],
                    "prompt": f"a photo of {_article(ca)} {ca} {a} and {_article(cb)} {cb} {b}"})
    return out


@dataclass(frozen=True)
class World:
    image_size: int
    shapes: tuple[str, ...]
    colors: tuple[str, ...]
    object_size: tuple[int, int]  # inclusive range of the side of an object's box
    color_jitter: int             # per-object uniform jitter of each RGB channel
    background_max: int           # background grey level in [0, background_max]

    @property
    def cell(self) -> int:
        return self.image_size // GRID

    @property
    def cell_classes(self) -> int:
        """Per-cell content labels: 0 empty, 1 + shape * n_colors + color."""
        return 1 + len(self.shapes) * len(self.colors)

    def render(self, meta: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) scene satisfying `meta`, and its (GRID*GRID,) cell content labels."""
        objects = self._layout(meta, rng)
        img = np.full((self.image_size, self.image_size, 3), rng.integers(0, self.background_max + 1), np.int16)
        labels = np.zeros(GRID * GRID, np.int64)
        for (row, col), shape, color in objects:
            side = int(rng.integers(self.object_size[0], self.object_size[1] + 1))
            y0 = row * self.cell + int(rng.integers(1, self.cell - side + 1))
            x0 = col * self.cell + int(rng.integers(1, self.cell - side + 1))
            rgb = np.array(PALETTE[color]) + rng.integers(-self.color_jitter, self.color_jitter + 1, 3)
            box = img[y0:y0 + side, x0:x0 + side]
            box[shape_mask(shape, side, side)] = rgb
            labels[row * GRID + col] = 1 + self.shapes.index(shape) * len(self.colors) + self.colors.index(color)
        return np.clip(img, 0, 255).astype(np.uint8), labels

    def _layout(self, meta: dict, rng) -> list[tuple[tuple[int, int], str, str]]:
        """(cell, shape, color) of every object; unspecified colours and cells are drawn at random."""
        inc = meta["include"]
        color = lambda req: req.get("color") or self.colors[rng.integers(len(self.colors))]  # noqa: E731
        if meta["tag"] == "position":
            ref, obj = inc
            rel = obj["position"][0]
            (dr_o, dc_o), (dr_r, dc_r) = RELATIONS[rel]
            free = int(rng.integers(GRID))  # the row (left/right) or column (above/below) both objects share
            if rel in ("left of", "right of"):
                cells = [(free, dc_o), (free, dc_r)]
            else:
                cells = [(dr_o, free), (dr_r, free)]
            return [(cells[0], obj["class"], color(obj)), (cells[1], ref["class"], color(ref))]
        wanted = [(req["class"], req) for req in inc for _ in range(req["count"])]
        cells = [divmod(int(i), GRID) for i in rng.permutation(GRID * GRID)[:len(wanted)]]
        return [(cell, shape, color(req)) for cell, (shape, req) in zip(cells, wanted)]


def world_from_config(cfg) -> World:
    return World(image_size=cfg.image_size, shapes=tuple(cfg.shapes), colors=tuple(cfg.colors),
                 object_size=tuple(cfg.object_size), color_jitter=cfg.color_jitter, background_max=cfg.background_max)


def task_balanced_prompts(metadata: list[dict], n: int, rng) -> np.ndarray:
    """Prompt ids with the task drawn uniformly, then a caption of that task uniformly (GenEval weights
    tasks equally; uniform over captions would make colour attribution 60% of the data)."""
    by_task = [np.array([i for i, m in enumerate(metadata) if m["tag"] == t]) for t in TASKS]
    tasks = rng.integers(len(TASKS), size=n)
    return np.array([by_task[t][rng.integers(len(by_task[t]))] for t in tasks], np.int64)


def render_set(world: World, metadata: list[dict], prompt_ids: np.ndarray, seed: int) -> dict:
    """Image j of a set is rendered from its own generator (seed, j): sets are prefix-stable."""
    images, cells = zip(*(world.render(metadata[p], np.random.default_rng([seed, j])) for j, p in enumerate(prompt_ids)))
    return {"arr_0": np.stack(images), "prompt_ids": prompt_ids, "cell_labels": np.stack(cells)}


def prepare(cfg, out_dir: Path) -> dict:
    """train.npz (training scenes), eval_real.npz (renders of the evaluation prompts), fid_real.npz (the FID
    reference), fid_real_alt.npz (the same captions rendered again: the FID floor at this size), prompts.json
    (every caption + metadata; the last is the empty prompt) and the evaluation prompts in GenEval's jsonl form."""
    world = world_from_config(cfg)
    metadata = prompt_metadata(world.shapes, world.colors)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_ids = task_balanced_prompts(metadata, cfg.n_train, np.random.default_rng([cfg.seed, 0]))
    eval_ids = np.repeat(np.arange(len(metadata)), cfg.images_per_prompt)
    fid_ids = task_balanced_prompts(metadata, cfg.n_fid, np.random.default_rng([cfg.seed, 1]))
    atomic_savez(out_dir / "train.npz", **render_set(world, metadata, train_ids, cfg.seed * 10 + 1))
    atomic_savez(out_dir / "eval_real.npz", **render_set(world, metadata, eval_ids, cfg.seed * 10 + 2))
    atomic_savez(out_dir / "fid_real.npz", **render_set(world, metadata, fid_ids, cfg.seed * 10 + 3))
    atomic_savez(out_dir / "fid_real_alt.npz", **render_set(world, metadata, fid_ids, cfg.seed * 10 + 4))
    atomic_savez(out_dir / "fid_prompts.npz", prompt_ids=fid_ids)
    prompts = [m["prompt"] for m in metadata] + [""]
    write_json(out_dir / "prompts.json", {"prompts": prompts, "metadata": metadata, "null_prompt_id": len(metadata)})
    atomic_write_text(out_dir / "evaluation_metadata.jsonl", "".join(json.dumps(m) + "\n" for m in metadata))
    summary = {"n_prompts": len(metadata), "per_task": {t: sum(m["tag"] == t for m in metadata) for t in TASKS},
               "n_train": cfg.n_train, "n_eval_images": len(eval_ids), "n_fid": cfg.n_fid,
               "image_size": world.image_size, "shapes": list(world.shapes), "colors": list(world.colors)}
    write_json(out_dir / "data.json", summary)
    return summary


def load_prompts(path) -> dict:
    return json.loads(Path(path).read_text())


def main(argv=None):
    from softdimo.config import load_config

    parser = argparse.ArgumentParser(description="Render the shapes world: training scenes, evaluation prompts, FID set.")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(prepare(load_config(args.config).t2i.world, Path(args.out)), indent=1))


if __name__ == "__main__":
    cli(main)
