"""Stand-in files of the Meissonic track for the paper_smoke preset: every file of MeissonFlow/Meissonic's
`transformer/`, `vqvae/`, `text_encoder/` and `tokenizer/` folders and of the released Di[M]O student's folder, in
their layouts at the preset's sizes, each with the sha256 record a download writes (softdimo.stand_ins.finish).
Weights are seeded random (the released student with another seed than the teacher); numbers computed from them
mean nothing (docs/paper-scale.md).

    python -m softdimo.tracks.meissonic.stand_ins --config results/configs/<hash>.yaml \
        --out resources/meissonic/hub/vqvae/config.json

The file is known from the path's last two parts (<subfolder>/<name>).
"""
import json
import tempfile
from pathlib import Path

import torch

from softdimo.config import Config
from softdimo.errors import cli
from softdimo.stand_ins import finish, require_stand_in_mode, safetensors_bytes, track_main

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# the stand-in text encoder: transformers' CLIPTextConfig arguments; hidden_size and projection_dim come from
# meissonic.teacher.kwargs (text_dim, pooled_dim)
TEXT_ENCODER = dict(intermediate_size=48, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                    hidden_act="gelu", layer_norm_eps=1e-5)


def diffusers_config(kind: str, cfg: Config) -> dict:
    """A diffusers config.json of the configured architecture (the keys the conversion compares)."""
    from softdimo.tracks.meissonic.pipeline import CONFIG_KEYS

    m = cfg.meissonic
    section = m.tokenizer if kind == "vqvae" else m.teacher
    return {"_class_name": "VQModel" if kind == "vqvae" else "Transformer2DModel",
            **{key: _plain(section.kwargs[ours]) for key, ours in CONFIG_KEYS[section.arch].items()}}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def file_bytes(out: Path, cfg: Config) -> bytes:
    """A file of MeissonFlow/Meissonic's folders (hub/<subfolder>/<name>) or of the released Di[M]O student
    (released/meissonic/transformer/<name>), known from the path's last two parts."""
    from softdimo.models import build_model
    from softdimo.tokenizers import build_tokenizer

    m = cfg.meissonic
    folder, name = out.parent.name, out.name
    if name == "config.json" and folder in ("transformer", "vqvae"):
        return json.dumps(diffusers_config(folder, cfg), indent=2).encode()
    if folder == "transformer" and name == "diffusion_pytorch_model.safetensors":
        torch.manual_seed(1 if "released" in out.parts else 0)  # the released student is another network
        return safetensors_bytes(build_model(m.teacher.arch, **dict(m.teacher.kwargs)))
    if folder == "vqvae" and name == "diffusion_pytorch_model.safetensors":
        torch.manual_seed(3)
        return safetensors_bytes(build_tokenizer(m.tokenizer.arch, **dict(m.tokenizer.kwargs)).vq)
    if folder in ("text_encoder", "tokenizer"):
        with tempfile.TemporaryDirectory() as tmp:
            text_folders(Path(tmp), cfg)
            return (Path(tmp) / folder / name).read_bytes()
    raise SystemExit(f"{out}: no Meissonic stand-in for {folder}/{name}")


def text_folders(root: Path, cfg: Config) -> None:
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
                            **TEXT_ENCODER)
    (root / "text_encoder").mkdir()
    config.to_json_file(str(root / "text_encoder" / "config.json"))
    torch.manual_seed(2)
    state = build_text_encoder(config).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "text_encoder" / "model.safetensors"))


def write(cfg: Config, out: Path) -> None:
    require_stand_in_mode(cfg)  # before any module is built
    if cfg.meissonic is None:
        raise SystemExit("Meissonic stand-ins need a config with a meissonic section (config/paper_smoke.yaml)")
    finish(out, file_bytes(out, cfg), "meissonic", cfg)


def main(argv=None):
    track_main(write, __doc__, argv)


if __name__ == "__main__":
    cli(main)
