"""Paper-scale weights and reference files: download once (recording sha256), check, convert to artefacts.

Only the download_* rules reach the network; every other job reads local files, checks them against the
recorded sha256 and stops with the file and the rule that makes it when one is missing.

    python -m softdimo.pretrained download --repo-id markweber/maskbit_generator_14bit --filename F --out D
    python -m softdimo.pretrained download-url --url U --out resources/eval/VIRTUAL_imagenet256_labeled.npz
    python -m softdimo.pretrained download-inception --out resources/eval/inception_v3_torch_fidelity.pth
    python -m softdimo.pretrained convert --kind teacher --config CFG --official D --out results/c2i/teacher.pt
"""
import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from softdimo.config import Config, load_config, to_dict
from softdimo.io import atomic_torch_save, git_commit, write_json
from softdimo.errors import cli

# which rule makes each downloaded file (named in the error when it is missing)
PROVIDERS = {
    "resources/c2i/tokenizer_official.bin": "download_tokenizer",
    "resources/c2i/teacher_official.bin": "download_teacher",
    "resources/eval/inception_v3_torch_fidelity.pth": "download_inception",
    "resources/eval/VIRTUAL_imagenet256_labeled.npz": "download_adm_reference",
    "resources/eval/inception-2015-12-05.pt": "download_cleanfid_inception",
    "resources/t2i/teacher_official.safetensors": "download_t2i_teacher",
    "resources/t2i/tokenizer_official.safetensors": "download_t2i_tokenizer",
    "resources/t2i/open_clip_vit_l_14_336.bin": "download_t2i_text_encoder",
    "resources/t2i/clip_vit_b_32.bin": "download_t2i_clip",
    "resources/t2i/HPS_v2.1_compressed.pt": "download_t2i_hps",
    "resources/t2i/clip_score_eval.bin": "download_t2i_clip_eval",
    "resources/t2i/coco/MS-COCO_val2014_30k_captions.csv": "download_coco_reference",
    "resources/t2i/coco/MS-COCO_val2014_fid_stats.npz": "download_coco_reference",
    "resources/eval/pt_inception-2015-12-05-6726825d.pth": "download_fid_inception",
    "resources/c2i_maskgit/MaskGIT_ImageNet_256.pth": "download_maskgit_teacher",
    "resources/c2i_maskgit/vqgan_last.ckpt": "download_maskgit_tokenizer",
    "resources/c2i_maskgit/dimo_released_maskgit.bin": "download_maskgit_released",
    "resources/eval/fid_stats_imagenet256_guided_diffusion.npz": "download_dimo_fid_stats",
}
# the official generator files may name the input projection token_emb; MaskBit's own loader renames it
RENAMES = {"token_emb.": "input_proj."}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256.json")


def record_download(dest: Path, source: str) -> None:
    digest = sha256_of(dest)
    write_json(record_path(dest), {"source": source, "sha256": digest})
    print(f"{dest}: sha256 {digest}")


def require_file(path) -> Path:
    """The path, after checking it exists and still has the sha256 recorded when it was downloaded."""
    path = Path(path)
    rule = next((r for f, r in PROVIDERS.items() if Path(f).name == path.name), "the download rule that makes it")
    if not path.exists():
        raise SystemExit(f"{path} not found. Make it with `snakemake --cores 1 {path} --configfile config/paper.yaml` (rule "
                         f"{rule}) on a machine with internet, e.g. a login node; see docs/paper-scale.md.")
    record = record_path(path)
    if not record.exists():
        print(f"{path}: no sha256 record ({record.name}); placed by hand, used unchecked", flush=True)
    else:
        expected = json.loads(record.read_text())["sha256"]
        actual = sha256_of(path)
        if actual != expected:
            raise SystemExit(f"{path}: sha256 {actual} differs from {expected} recorded at download ({record}); "
                             f"the file changed or is truncated: delete it and rerun rule {rule}.")
    return path


def download_hub(repo_id: str, filename: str, dest: Path, repo_type: str = "model", revision: str = "main",
                 sha256: str = "", rule: str = "") -> None:
    """One hub file at a pinned revision; with an expected sha256 a different file is an error, not a warning."""
    from huggingface_hub import hf_hub_download

    cached = hf_hub_download(repo_id=repo_id, filename=filename, repo_type=repo_type, revision=revision)
    actual = sha256_of(Path(cached))
    if sha256 and actual != sha256:
        raise SystemExit(f"{repo_id}/{filename} at revision {revision}: sha256 {actual}, expected {sha256} (config "
                         f"'sha256' next to its repo_id); not copied to {dest}. Rule {rule or 'that makes ' + str(dest)}: "
                         "check the revision or the expected hash.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")  # never a half-copied file under the output's name
    shutil.copyfile(cached, partial)
    os.replace(partial, dest)
    record_download(dest, f"hub:{repo_type}:{repo_id}/{filename}@{revision}")


def fetch_git(url: str, commit: str, dest: Path) -> None:
    """A repository at a pinned commit (GenEval's prompts and detector code); the commit is checked."""
    import subprocess

    if not dest.exists():
        subprocess.run(["git", "clone", "--quiet", url, str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", commit], check=True)
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    if head != commit:
        raise SystemExit(f"{dest} is at {head}, not the pinned {commit}")
    (dest / "FETCHED_COMMIT").write_text(commit + "\n")


def download_url(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(dest))
    record_download(dest, url)


def download_inception(dest: Path) -> None:
    """torch-fidelity's own Inception-v3 weights (the TF FID network), from the address torch-fidelity uses."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    download_url(URL_INCEPTION_V3, dest)


def download_cleanfid_inception(dest: Path) -> None:
    """The TorchScript Inception clean-fid's legacy_tensorflow mode loads, from the address clean-fid uses."""
    from cleanfid.downloads_helper import check_download_inception

    dest.parent.mkdir(parents=True, exist_ok=True)
    check_download_inception(fpath=str(dest.parent))
    record_download(dest, "clean-fid check_download_inception")


def paper_module(kind: str, cfg: Config):
    """(arch, kwargs, module) of the configured MaskBit tokenizer or generator, randomly initialised."""
    from softdimo.models import build_model
    from softdimo.tokenizers import build_tokenizer

    c2i, tok = cfg.c2i, cfg.c2i.tokenizer
    side = cfg.c2i.data.resolution // 2**tok.downsample
    if kind == "tokenizer":
        kwargs = dict(image_size=cfg.c2i.data.resolution, channels=3, bits=tok.bits, splits=tok.splits,
                      hidden_channels=tok.hidden_channels, channel_mult=tuple(tok.channel_mult),
                      num_res_blocks=tok.num_res_blocks)
        return tok.arch, kwargs, build_tokenizer(tok.arch, **kwargs)
    t = c2i.teacher
    kwargs = dict(seq_len=side * side, bits=tok.bits, splits=tok.splits, num_classes=t.num_classes, dim=t.dim,
                  depth=t.depth, heads=t.heads, mlp_ratio=t.mlp_ratio, dropout=t.dropout)
    return t.arch, kwargs, build_model(t.arch, **kwargs)


def section_module(part):
    """(arch, kwargs, randomly initialised module) of a config section holding `arch` and all its constructor
    `kwargs` (lists as tuples), e.g. c2i_maskgit.teacher / .tokenizer."""
    from softdimo.models import MODELS
    from softdimo.tokenizers import TOKENIZERS

    registry = MODELS if part.arch in MODELS else TOKENIZERS
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in part.kwargs.items()}
    return part.arch, kwargs, registry[part.arch](**kwargs)


def load_official_state(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    return rename_prefixes(state, RENAMES)


def rename_prefixes(state: dict, renames: dict[str, str]) -> dict:
    """The state dict with every key that starts with an old prefix under the new one instead."""
    renamed = {}
    for key, value in state.items():
        for old, new in renames.items():
            if key.startswith(old):
                key = new + key[len(old):]
        renamed[key] = value
    return renamed


class _Inert:
    """Stands in for a class a training checkpoint pickled beside its weights (e.g. a PyTorch Lightning callback):
    takes its state and runs none of its code, so such a file still loads with weights_only."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state


def load_checkpoint(path: Path, keys: tuple[str, ...], drop_prefixes: tuple[str, ...] = ()) -> dict:
    """The weights of a training checkpoint: the first of `keys` that the file has (the file itself when none
    matches), without the tensors under `drop_prefixes` (training-only modules, e.g. a VQGAN's loss networks).
    Loaded with weights_only and memory-mapped, so the rest of the file (optimizer moments: two thirds of
    MaskGIT_ImageNet_256.pth) is never read into memory; foreign classes in it are unpickled as inert stand-ins."""
    import zipfile

    if zipfile.is_zipfile(path):
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        stand_ins = [(type(name.rsplit(".", 1)[-1], (_Inert,), {}), name) for name in unsafe]
        with torch.serialization.safe_globals(stand_ins):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    else:  # torch's pre-1.6 format cannot be memory-mapped: read whole, still weights_only
        print(f"{path}: legacy (non-zip) torch file, read into memory whole", flush=True)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = next((checkpoint[k] for k in keys if isinstance(checkpoint, dict) and k in checkpoint), checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise SystemExit(f"{path}: no state dict under {list(keys)} nor at the top level; top-level keys "
                         f"{list(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__}")
    dropped = [k for k in state if k.startswith(drop_prefixes)] if drop_prefixes else []
    if dropped:
        print(f"{path}: {len(dropped)} training-only tensors under {list(drop_prefixes)} not loaded", flush=True)
    return {k: v for k, v in state.items() if k not in set(dropped)}


def fill_tied(module: torch.nn.Module, state: dict) -> dict:
    """Tied parameters stored once (safetensors' writer keeps one name of a shared tensor, e.g. MaskGen's
    embeddings.weight for lm_head.weight): fill the other names of the tie from it. A name with no tied partner
    in the file stays missing, so a genuinely missing tensor is still refused."""
    groups = {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        if tensor.numel():
            groups.setdefault((tensor.data_ptr(), tuple(tensor.shape)), []).append(name)
    state = dict(state)
    for names in groups.values():
        present = [n for n in names if n in state]
        for name in names if present else []:
            state.setdefault(name, state[present[0]])
    return state


def convert(kind: str, cfg: Config, official: Path, out: Path) -> dict:
    """The configured MaskBit tokenizer or generator from its official file."""
    return convert_module(kind, *paper_module(kind, cfg), cfg, official, out)


def convert_module(kind: str, arch: str, kwargs: dict, module, cfg: Config, official: Path, out: Path,
                   load=load_official_state, extra: dict | None = None) -> dict:
    """Load the official file (read by `load`) into our module with strict=True and write it as a softdimo
    artefact of `kind` (teacher, tokenizer or student; `extra` joins the payload, e.g. a student's settings)."""
    official = require_file(official)
    state = fill_tied(module, load(official))
    fresh = {k: v.clone() for k, v in module.named_buffers()}
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise SystemExit(f"{official} does not match {arch} {kwargs}: missing {result.missing_keys[:8]} "
                         f"(of {len(result.missing_keys)}), unexpected {result.unexpected_keys[:8]} "
                         f"(of {len(result.unexpected_keys)}). Is the config's architecture that of the file?")
    module.load_state_dict(state, strict=True)
    for name, buffer in module.named_buffers():  # bit tables: a file with another bit order must not load quietly
        if not torch.equal(buffer.cpu(), fresh[name].cpu()):
            raise SystemExit(f"{official}: buffer {name} differs from this module's (bit order or width); "
                             "the tokens would not mean the same bits")
    summary = {"source": str(official), "sha256": sha256_of(official), "n_params": sum(p.numel() for p in module.parameters()),
               "git_commit": git_commit()}
    kind = kind if kind in ("teacher", "student") else "tokenizer"
    atomic_torch_save({"kind": kind, "arch": arch, "kwargs": kwargs, "state_dict": module.state_dict(),
                       "summary": summary, "config": to_dict(cfg), **(extra or {})}, out)
    write_json(out.with_suffix(".json"), summary)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    out_help = "file to write (a folder for fetch-git)"
    d = sub.add_parser("download", help="one file of a hub repository at a pinned revision, hash-checked",
                       description="Download one file of a Hugging Face hub repository at a pinned revision and "
                                   "check its sha256 (the download rules of the paper preset).")
    d.add_argument("--repo-id", required=True, help="hub repository id, e.g. markweber/maskbit_generator_14bit")
    d.add_argument("--filename", required=True, help="file inside the repository")
    d.add_argument("--repo-type", default="model", choices=["model", "dataset"], help="hub repository type")
    d.add_argument("--revision", required=True, help="hub commit (or tag) to download, from the config")
    d.add_argument("--sha256", default="", help="expected sha256 of the file; empty: record it, unchecked")
    d.add_argument("--rule", default="", help="the workflow rule that makes the file (for the error message)")
    d.add_argument("--out", required=True, help=out_help)
    g = sub.add_parser("fetch-git", help="a git repository at a pinned commit",
                       description="Clone a git repository and check out a pinned commit (GenEval's evaluator).")
    g.add_argument("--url", required=True, help="repository URL")
    g.add_argument("--commit", required=True, help="commit to check out")
    g.add_argument("--out", required=True, help=out_help)
    u = sub.add_parser("download-url", help="one file from a URL",
                       description="Download one file from a URL (e.g. ADM's reference batch).")
    u.add_argument("--url", required=True, help="address of the file")
    u.add_argument("--out", required=True, help=out_help)
    for name, what in (("download-inception", "torch-fidelity's Inception-v3 FID weights"),
                       ("download-cleanfid-inception", "clean-fid's inception-2015-12-05.pt")):
        sub.add_parser(name, help=what, description=f"Download {what}.").add_argument("--out", required=True,
                                                                                     help=out_help)
    c = sub.add_parser("convert", help="official weights into this suite's modules, strictly",
                       description="Load an official checkpoint into this suite's module (strict) and write the "
                                   "artefact the workflow uses.")
    c.add_argument("--kind", required=True, choices=["tokenizer", "teacher"], help="which module")
    c.add_argument("--config", required=True, help="resolved config YAML (names the architecture)")
    c.add_argument("--official", required=True, help="the downloaded official file")
    c.add_argument("--out", required=True, help="artefact (.pt) to write")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.cmd == "download":
        download_hub(args.repo_id, args.filename, out, args.repo_type, args.revision, args.sha256, args.rule)
    elif args.cmd == "fetch-git":
        fetch_git(args.url, args.commit, out)
    elif args.cmd == "download-url":
        download_url(args.url, out)
    elif args.cmd == "download-inception":
        download_inception(out)
    elif args.cmd == "download-cleanfid-inception":
        download_cleanfid_inception(out)
    else:
        print(convert(args.kind, load_config(args.config), Path(args.official), out))


if __name__ == "__main__":
    cli(main)
