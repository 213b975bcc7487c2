"""Stand-in files of the text-to-image paper DAG (MaskGen-L and Meissonic rows of Table 2) for the paper_smoke
preset: the official files' layouts at the preset's sizes (softdimo/stand_ins.py writes them and their sha256
records). Weights are seeded random; prompt and caption files are seeded sentences from a small vocabulary
(lower-case letters, spaces and commas: the character-level stand-in CLIP tokenizer of Meissonic knows them all).
Numbers computed from these files mean nothing (docs/paper-scale.md)."""
import csv
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from softdimo.config import Config

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"]
OBJECTS = ["cat", "dog", "car", "cube", "ball", "chair", "bird", "cup", "clock", "bench"]
NUMBERS = ["two", "three", "four"]
RELATIONS = ["left of", "right of", "above", "below"]
HPS_STYLES = ["anime", "concept-art", "paintings", "photo"]
STYLE_WORDS = {"anime": "an anime drawing of", "concept-art": "concept art of", "paintings": "an oil painting of",
               "photo": "a photo of"}
# the stand-in Meissonic text encoder: transformers' CLIPTextConfig arguments; hidden_size and projection_dim
# come from meissonic.teacher.kwargs (text_dim, pooled_dim)
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MEISSONIC_TEXT = dict(intermediate_size=48, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                      hidden_act="gelu", layer_norm_eps=1e-5)


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


def _safetensors_bytes(module: torch.nn.Module) -> bytes:
    """The module's weights as a safetensors file (a tied tensor stored once, as the hub's writers store it)."""
    from safetensors.torch import save_model

    with tempfile.TemporaryDirectory() as tmp:
        save_model(module, f"{tmp}/w.safetensors")
        return Path(tmp, "w.safetensors").read_bytes()


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _open_clip_state(arch: str) -> dict:
    import open_clip

    from softdimo.open_clip_archs import ensure

    return open_clip.create_model(ensure(arch), pretrained=None).state_dict()


def maskgen_file(what: str, cfg: Config, rng: np.random.Generator, out: Path) -> bytes:
    """The MaskGen-L track's files: teacher / tokenizer safetensors, open_clip weights, HPS, prompt and COCO
    files, GenEval's metadata, the detector and the pytorch-fid Inception."""
    from softdimo.tracks.maskgen.pipeline import official_module

    p = cfg.t2i_paper
    if what in ("t2i_teacher", "t2i_tokenizer"):
        return _safetensors_bytes(official_module(p.teacher if what == "t2i_teacher" else p.tokenizer)[2])
    if what == "t2i_text_encoder":
        return _torch_bytes(_open_clip_state(p.text_encoder.arch))
    if what == "t2i_clip":
        return _torch_bytes(_open_clip_state(p.scorers.clip_arch))
    if what == "t2i_hps":
        return _torch_bytes({"state_dict": _open_clip_state(p.scorers.hps_arch)})
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
        from softdimo.stand_ins import stats

        buffer = io.BytesIO()
        np.savez(buffer, **stats(rng, 16))
        return buffer.getvalue()
    if what == "fid_inception":
        return _torch_bytes(fid_inception_state())
    if what == "geneval_detector":  # never loaded: the detector does not run on stand-ins (rule t2i_paper_geneval_detect)
        return _torch_bytes({"meta": {"stand_in": "Mask2Former Swin-S is not run by paper_smoke"}, "state_dict": {}})
    raise SystemExit(f"no text-to-image stand-in for {what!r}")


def fid_inception_state() -> dict:
    """pytorch-fid's pt_inception file layout: torchvision's Inception-v3 names, 1008 classes, no auxiliary head
    (evaluation/fid_inception.py loads it strictly). He-normal convolutions keep activations at scale."""
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.state_dict()


def meissonic_config(kind: str, cfg: Config) -> dict:
    """A diffusers config.json of the configured architecture (the keys the conversion compares)."""
    from softdimo.tracks.meissonic.pipeline import CONFIG_KEYS

    m = cfg.meissonic
    section = m.tokenizer if kind == "vqvae" else m.teacher
    return {"_class_name": "VQModel" if kind == "vqvae" else "Transformer2DModel",
            **{key: _plain(section.kwargs[ours]) for key, ours in CONFIG_KEYS[section.arch].items()}}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def meissonic_file(out: Path, cfg: Config) -> bytes:
    """A file of MeissonFlow/Meissonic's folders (hub/<subfolder>/<name>) or of the released Di[M]O student
    (released/meissonic/transformer/<name>), known from the path's last two parts."""
    from softdimo.models import build_model
    from softdimo.tokenizers import build_tokenizer

    m = cfg.meissonic
    folder, name = out.parent.name, out.name
    if name == "config.json" and folder in ("transformer", "vqvae"):
        return json.dumps(meissonic_config(folder, cfg), indent=2).encode()
    if folder == "transformer" and name == "diffusion_pytorch_model.safetensors":
        torch.manual_seed(1 if "released" in out.parts else 0)  # the released student is another network
        return _safetensors_bytes(build_model(m.teacher.arch, **dict(m.teacher.kwargs)))
    if folder == "vqvae" and name == "diffusion_pytorch_model.safetensors":
        return _safetensors_bytes(build_tokenizer(m.tokenizer.arch, **dict(m.tokenizer.kwargs)).vq)
    if folder in ("text_encoder", "tokenizer"):
        with tempfile.TemporaryDirectory() as tmp:
            meissonic_text_folders(Path(tmp), cfg)
            return (Path(tmp) / folder / name).read_bytes()
    raise SystemExit(f"{out}: no Meissonic stand-in for {folder}/{name}")


def meissonic_text_folders(root: Path, cfg: Config) -> None:
    """text_encoder/ (config.json, model.safetensors) and tokenizer/ (CLIP BPE files) at the stand-in size: a
    character-level vocabulary of lower-case letters, commas and full stops."""
    import string

    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTokenizer

    from softdimo.tracks.meissonic.text_encoder import build_text_encoder

    chars = list(string.ascii_lowercase) + [",", "."]
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars] + [BOS, EOS])}
    tok = root / "tokenizer"  # the hub's four files, written as transformers 4.x's CLIPTokenizer writes them
    tok.mkdir(parents=True)
    (tok / "vocab.json").write_text(json.dumps(vocab))
    (tok / "merges.txt").write_text("#version: 0.2\n")
    special = {"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}
    (tok / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (tok / "tokenizer_config.json").write_text(json.dumps({
        **special, "add_prefix_space": False, "clean_up_tokenization_spaces": True, "do_lower_case": True,
        "errors": "replace", "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}, indent=2))
    CLIPTokenizer.from_pretrained(str(tok))  # the stand-in must load as the official folder does
    kwargs = cfg.meissonic.teacher.kwargs
    config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=kwargs["text_dim"], projection_dim=kwargs["pooled_dim"],
                            **MEISSONIC_TEXT)
    (root / "text_encoder").mkdir()
    config.to_json_file(str(root / "text_encoder" / "config.json"))
    torch.manual_seed(2)
    state = build_text_encoder(config).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "text_encoder" / "model.safetensors"))
