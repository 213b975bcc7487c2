"""Stand-in files of the MaskGen-L track (t2i_paper: Table 2's MaskGen-L rows and the evaluation files both Table 2
teachers share) for the paper_smoke preset: the official files' layouts at the preset's sizes, each with the sha256
record a download writes (softdimo.stand_ins.finish). Weights are seeded random; prompt and caption files are seeded
sentences from a small vocabulary (lower-case letters, spaces and commas: the character-level stand-in tokenizer of
the Meissonic track knows them all); the GAN's image-caption pairs are seeded noise images with such captions. Numbers computed from these files mean nothing (docs/paper-scale.md).

    python -m softdimo.tracks.maskgen.stand_ins --config results/configs/<hash>.yaml \
        --out resources/t2i/clip_vit_b_32.bin

The file to stand in for is known from the output's name (FILES).
"""
import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from softdimo.config import Config
from softdimo.errors import cli
from softdimo.stand_ins import finish, require_stand_in_mode, safetensors_bytes, seeded, stats, torch_bytes, track_main

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"]
OBJECTS = ["cat", "dog", "car", "cube", "ball", "chair", "bird", "cup", "clock", "bench"]
NUMBERS = ["two", "three", "four"]
RELATIONS = ["left of", "right of", "above", "below"]
HPS_STYLES = ["anime", "concept-art", "paintings", "photo"]
STYLE_WORDS = {"anime": "an anime drawing of", "concept-art": "concept art of", "paintings": "an oil painting of",
               "photo": "a photo of"}


def sentences(rng: np.random.Generator, n: int, start: str = "a photo of") -> list[str]:
    """n distinct seeded captions such as 'a photo of a red cat and a blue cube'."""
    out: list[str] = []
    while len(out) < n:
        c1, c2 = rng.choice(COLORS, 2, replace=False)
        o1, o2 = rng.choice(OBJECTS, 2, replace=False)
        text = f"{start} a {c1} {o1}" + (f" and a {c2} {o2}" if rng.random() < 0.5 else "")
        if text not in out:
            out.append(text)
    return out


def geneval_metadata(rng: np.random.Generator) -> list[dict]:
    """One prompt of each of GenEval's six tasks, in evaluation_metadata.jsonl's fields."""
    c1, c2 = rng.choice(COLORS, 2, replace=False)
    o1, o2 = rng.choice(OBJECTS, 2, replace=False)
    number, relation = str(rng.choice(NUMBERS)), str(rng.choice(RELATIONS))
    count = NUMBERS.index(number) + 2
    return [
        {"tag": "single_object", "include": [{"class": o1, "count": 1}], "prompt": f"a photo of a {o1}"},
        {"tag": "two_object", "include": [{"class": o1, "count": 1}, {"class": o2, "count": 1}],
         "prompt": f"a photo of a {o1} and a {o2}"},
        {"tag": "counting", "include": [{"class": o1, "count": count}], "exclude": [{"class": o1, "count": count + 1}],
         "prompt": f"a photo of {number} {o1}s"},
        {"tag": "colors", "include": [{"class": o1, "count": 1, "color": c1}], "prompt": f"a photo of a {c1} {o1}"},
        {"tag": "position", "include": [{"class": o2, "count": 1}, {"class": o1, "count": 1,
                                                                     "position": [relation, 0]}],
         "prompt": f"a photo of a {o1} {relation} a {o2}"},
        {"tag": "color_attr", "include": [{"class": o1, "count": 1, "color": c1}, {"class": o2, "count": 1,
                                                                                   "color": c2}],
         "prompt": f"a photo of a {c1} {o1} and a {c2} {o2}"},
    ]


def _open_clip_state(arch: str) -> dict:
    import open_clip

    from softdimo.open_clip_archs import ensure

    return open_clip.create_model(ensure(arch), pretrained=None).state_dict()


def file_bytes(what: str, cfg: Config, rng: np.random.Generator, out: Path) -> bytes:
    """The MaskGen-L track's files: teacher / tokenizer safetensors, open_clip weights, HPS, prompt and COCO
    files, GenEval's metadata, the detector and the pytorch-fid Inception."""
    from softdimo.tracks.maskgen.pipeline import official_module

    p = cfg.t2i_paper
    if what in ("t2i_teacher", "t2i_tokenizer"):
        return safetensors_bytes(official_module(p.teacher if what == "t2i_teacher" else p.tokenizer)[2])
    if what == "t2i_text_encoder":
        return torch_bytes(_open_clip_state(p.text_encoder.arch))
    if what == "t2i_clip":
        return torch_bytes(_open_clip_state(p.scorers.clip_arch))
    if what == "t2i_clip_eval":
        return torch_bytes(_open_clip_state(p.eval.clip_score.arch))
    if what == "t2i_hps":
        return torch_bytes({"state_dict": _open_clip_state(p.scorers.hps_arch)})
    if what == "hps_prompts":  # resources/t2i/hps_benchmark/<style>.json: a list of prompts
        style = out.stem
        return json.dumps(sentences(rng, 2, STYLE_WORDS[style])).encode()
    if what == "t2i_train_prompts":
        return "".join(f"{s}\n" for s in sentences(rng, p.prompts.n_train)).encode()
    if what == "geneval_metadata":
        return "".join(json.dumps(m) + "\n" for m in geneval_metadata(rng)).encode()
    if what == "coco_captions":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["image_id", "text"])
        writer.writerows((1000 + i, s) for i, s in enumerate(sentences(rng, p.eval.coco_captions)))
        return text.getvalue().encode()
    if what == "coco_stats":
        buffer = io.BytesIO()
        np.savez(buffer, **stats(rng, 16))
        return buffer.getvalue()
    if what == "fid_inception":
        return torch_bytes(fid_inception_state())
    if what == "gan_pairs":  # the CSV; its images are written beside it (gan_pair_images)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows((f"{i:05d}.png", s) for i, s in enumerate(sentences(rng, p.gan_data.n_pairs)))
        return text.getvalue().encode()
    if what == "geneval_detector":  # never loaded: no detector runs on stand-ins (rule t2i_paper_geneval_detect)
        return torch_bytes({"meta": {"stand_in": "Mask2Former Swin-S is not run by paper_smoke"}, "state_dict": {}})
    raise SystemExit(f"no text-to-image stand-in for {what!r}")


def gan_pair_images(cfg: Config, folder: Path) -> None:
    """Seeded noise images of the GAN pairs, non-square and up to 3x the tokenizer's size, so the crop both halves
    and resizes them."""
    from PIL import Image

    rng = np.random.default_rng(seeded("gan_pair_images"))
    size = cfg.t2i_paper.tokenizer.kwargs["image_size"]
    for i in range(cfg.t2i_paper.gan_data.n_pairs):
        h, w = rng.integers(size, 3 * size + 1, 2)
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        tmp = folder / f".{i:05d}.png.tmp"
        image.save(tmp, format="PNG")
        tmp.replace(folder / f"{i:05d}.png")


def fid_inception_state() -> dict:
    """pytorch-fid's pt_inception file layout: torchvision's Inception-v3 names, 1008 classes, no auxiliary head
    (evaluation/fid_inception.py loads it strictly). He-normal convolutions keep activations at scale."""
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.state_dict()


FILES = {"teacher_official.safetensors": "t2i_teacher", "tokenizer_official.safetensors": "t2i_tokenizer",
         "open_clip_vit_l_14_336.bin": "t2i_text_encoder", "clip_vit_b_32.bin": "t2i_clip",
         "clip_score_eval.bin": "t2i_clip_eval",
         "HPS_v2.1_compressed.pt": "t2i_hps", "MS-COCO_val2014_30k_captions.csv": "coco_captions",
         "MS-COCO_val2014_fid_stats.npz": "coco_stats", "pt_inception-2015-12-05-6726825d.pth": "fid_inception",
         "evaluation_metadata.jsonl": "geneval_metadata", "train_prompts.txt": "t2i_train_prompts",
         "pairs.csv": "gan_pairs",
         "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth": "geneval_detector",
         **{f"{style}.json": "hps_prompts" for style in HPS_STYLES}}


def write(cfg: Config, out: Path) -> None:
    """The stand-in of the file at `out` (known from its name) and its sha256 record."""
    require_stand_in_mode(cfg)  # before any module is built
    if out.name not in FILES:
        raise SystemExit(f"{out}: no MaskGen-L stand-in for this file name; known: {sorted(FILES)}")
    what = FILES[out.name]
    rng = np.random.default_rng(seeded(what))
    torch.manual_seed(seeded(what))
    if what == "gan_pairs":  # the images first: the CSV's existence says the set is complete
        out.parent.mkdir(parents=True, exist_ok=True)
        gan_pair_images(cfg, out.parent)
    finish(out, file_bytes(what, cfg, rng, out), what, cfg)
    if what == "geneval_metadata":  # fetch_geneval's other output: <repo>/FETCHED_COMMIT
        finish(out.parents[1] / "FETCHED_COMMIT", b"stand-in (paper_smoke): not a GenEval checkout\n", what, cfg)


def main(argv=None):
    track_main(write, __doc__, argv)


if __name__ == "__main__":
    cli(main)
