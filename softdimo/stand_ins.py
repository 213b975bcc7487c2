"""Stand-in files for the paper_smoke preset (config/paper_smoke.yaml): what each download rule writes there in
place of the official file. Weights are seeded random tensors in the official file's layout (names, nesting,
training-only extras) at the preset's sizes, so the same strict conversion, training, sampling and evaluation code
runs on them; reference files are small seeded arrays of the official keys. Numbers computed from them mean
nothing: they let the paper DAG run end to end on a CPU without internet (docs/paper-scale.md).

    python -m softdimo.stand_ins --config results/configs/<hash>.yaml --out resources/c2i_maskgit/vqgan_last.ckpt

The file to stand in for is known from the output path (softdimo.pretrained.PROVIDERS: path -> download rule);
`--what imagenet` writes the ImageNet folder at c2i.data.path.

Each file gets the sha256 record a download writes (its source says `stand-in`), so every job that reads it checks
it exactly as it checks an official file.
"""
import argparse
import io
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from softdimo.config import Config, load_config
from softdimo.errors import cli
from softdimo.io import atomic_savez, atomic_torch_save, atomic_write_bytes, write_json

FEATURES = 2048  # Inception pool3: the width of every FID reference statistic
STAND_IN_MARK = "STAND_IN"  # a file in the stand-in ImageNet folder (not a class folder: the check lists folders)


def seeded(what: str) -> int:
    return sum(what.encode())  # a fixed seed per file kind, the same on every machine


def require_stand_in_mode(cfg: Config) -> None:
    if cfg.downloads != "stand_in":
        raise SystemExit(f"stand-in files are written only with downloads: stand_in (preset paper_smoke); this "
                         f"config has downloads: {cfg.downloads}")


def finish(out: Path, data: bytes, what: str, cfg: Config) -> None:
    """Write a stand-in file (atomically) and the sha256 record a download writes; the tracks' stand-ins
    (softdimo/tracks/<track>/stand_ins.py) end here."""
    require_stand_in_mode(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)
    record_stand_in(out, what, cfg)


def record_stand_in(out: Path, what: str, cfg: Config) -> None:
    """The sha256 record a download writes, its source saying stand-in."""
    from softdimo.pretrained import record_download

    record_download(out, f"stand-in:{what} (seeded random, preset {cfg.preset}; not the official file)")


def track_main(write, description: str, argv=None) -> None:
    """The command line of a track's stand-ins: `write(cfg, out)` for --config and --out."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="resolved config YAML (paper_smoke)")
    parser.add_argument("--out", required=True, help="the file to write (its path names it)")
    args = parser.parse_args(argv)
    write(load_config(args.config), Path(args.out))


def safetensors_bytes(module: torch.nn.Module) -> bytes:
    """A module's weights as a safetensors file (a tied tensor stored once, as the hub's writers store it)."""
    from safetensors.torch import save_model

    with tempfile.TemporaryDirectory() as tmp:
        save_model(module, f"{tmp}/w.safetensors")
        return Path(tmp, "w.safetensors").read_bytes()


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def maskbit(kind: str, cfg: Config) -> dict:
    """The MaskBit tokenizer or generator as the official .bin holds it: a plain state dict; the generator's input
    projection under the official name token_emb (the converter renames it, as MaskBit's loader does)."""
    from softdimo.pretrained import RENAMES, paper_module, rename_prefixes

    state = paper_module(kind, cfg)[2].state_dict()
    return rename_prefixes(state, {new: old for old, new in RENAMES.items()})


def maskgit(kind: str, cfg: Config) -> dict:
    """MaskGIT-pytorch's training file (weights under model_state_dict beside optimizer state), the taming VQGAN's
    Lightning file (state_dict with the training-only loss networks), or the released student's plain state dict."""
    from softdimo.pretrained import section_module

    module = section_module(cfg.c2i_maskgit.tokenizer if kind == "tokenizer" else cfg.c2i_maskgit.teacher)[2]
    state = module.state_dict()
    if kind == "teacher":
        optimizer = torch.optim.Adam(module.parameters())
        return {"iter": 0, "global_epoch": 0, "model_state_dict": state, "optimizer_state_dict": optimizer.state_dict()}
    if kind == "tokenizer":
        loss = {"loss.discriminator.main.0.weight": torch.randn(8, 3, 4, 4)}
        return {"state_dict": {**state, **loss}, "global_step": 0}
    return state


def torch_fidelity_inception() -> dict:
    """torch-fidelity's FeatureExtractorInceptionV3 with random weights (its own class, so the layout is exact).
    Convolutions get He-normal weights so activations keep their scale through the 90-odd layers instead of
    vanishing (the batch norms hold identity statistics)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with tempfile.NamedTemporaryFile(suffix=".pth") as empty, \
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        torch.save({}, empty.name)
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty.name)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.state_dict()


class CleanFidInterface(torch.nn.Module):
    """clean-fid's inception-2015-12-05.pt is a TorchScript file with no Python definition to build it from; this
    stand-in has its interface (a `layers` module, forward(img, return_features) on 0..255 images, any size, 2048
    features), not its network."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 13, stride=13), torch.nn.ReLU(),
                                          torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                          torch.nn.Linear(64, FEATURES))

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = torch.nn.functional.interpolate((img.float() - 128) / 128, size=(299, 299), mode="bilinear",
                                           align_corners=False)
        features = self.layers(x)
        return features if return_features else features[:, :1008]


def stats(rng: np.random.Generator, n: int) -> dict:
    """mu / sigma of `n` seeded Gaussian feature vectors (a valid, rank-deficient covariance like a real one)."""
    features = rng.standard_normal((n, FEATURES))
    return {"mu": features.mean(0), "sigma": np.cov(features, rowvar=False)}


def images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    """Smooth seeded colour fields (uint8, NHWC): images a VQ tokenizer and Inception process like photographs."""
    coarse = rng.integers(0, 256, size=(n, 4, 4, 3)).astype(np.float32)
    t = torch.from_numpy(coarse).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
    return up.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()


def imagenet_folder(cfg: Config, out: Path, per_class: int) -> None:
    """An ImageFolder train split: one sub-folder per class of the teacher, `per_class` JPEG files each. Written
    beside and renamed into place, replacing an earlier stand-in; never over a folder it did not write."""
    from PIL import Image

    if out.exists() and not (out / STAND_IN_MARK).exists():
        raise SystemExit(f"{out} exists and is not a stand-in folder (no {STAND_IN_MARK}); not overwritten. Is "
                         "c2i.data.path your real ImageNet? paper_smoke writes its own.")
    rng = np.random.default_rng(seeded("imagenet"))
    classes = cfg.c2i.teacher.num_classes
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # a killed earlier attempt
    partial.mkdir(parents=True)
    (partial / STAND_IN_MARK).write_text("seeded stand-in ImageNet of the paper_smoke preset (softdimo/stand_ins.py)\n")
    for c in range(classes):
        folder = partial / f"n{c:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images(rng, per_class, cfg.c2i.data.resolution)):
            Image.fromarray(image).save(folder / f"n{c:08d}_{i}.JPEG", quality=95)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


# the workflow rule -> the file it stands in for
RULES = {"download_tokenizer": "maskbit_tokenizer", "download_teacher": "maskbit_teacher",
         "download_maskgit_teacher": "maskgit_teacher", "download_maskgit_tokenizer": "maskgit_tokenizer",
         "download_maskgit_released": "maskgit_released", "download_inception": "inception",
         "download_cleanfid_inception": "cleanfid_inception", "download_adm_reference": "adm_reference",
         "download_dimo_fid_stats": "dimo_fid_stats", "stand_in_imagenet": "imagenet"}


def write(what: str, cfg: Config, out: Path, n_images: int = 16, manifest: Path | None = None) -> None:
    require_stand_in_mode(cfg)
    torch.manual_seed(seeded(what))
    rng = np.random.default_rng(seeded(what))
    out.parent.mkdir(parents=True, exist_ok=True)
    if what == "imagenet":
        imagenet_folder(cfg, out, n_images)
        if manifest is not None:  # the workflow's output for the folder (Snakemake never owns the folder itself)
            write_json(manifest, {"source": "stand-in:imagenet", "path": str(out), "per_class": n_images,
                                  "classes": cfg.c2i.teacher.num_classes})
        return
    if what.startswith("maskbit_"):
        atomic_torch_save(maskbit(what.removeprefix("maskbit_"), cfg), out)
    elif what.startswith("maskgit_"):
        atomic_torch_save(maskgit(what.removeprefix("maskgit_"), cfg), out)
    elif what == "inception":
        atomic_torch_save(torch_fidelity_inception(), out)
    elif what == "cleanfid_inception":
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(CleanFidInterface().eval()), buffer)
        atomic_write_bytes(out, buffer.getvalue())
    elif what == "adm_reference":
        atomic_savez(out, arr_0=images(rng, n_images, cfg.c2i.data.resolution), **stats(rng, n_images))
    elif what == "dimo_fid_stats":
        atomic_savez(out, **stats(rng, n_images))
    else:
        raise SystemExit(f"no stand-in for {what!r}; known: {', '.join(RULES.values())}")
    record_stand_in(out, what, cfg)


def kind_of(out: Path) -> str:
    """The stand-in kind of a download rule's output path."""
    from softdimo.pretrained import PROVIDERS

    rule = next((r for f, r in PROVIDERS.items() if Path(f).name == out.name), None)
    if rule not in RULES:
        known = sorted(Path(f).name for f, r in PROVIDERS.items() if r in RULES)
        raise SystemExit(f"{out}: no stand-in for this file (rule {rule or 'unknown'}); stand-ins exist for {known}")
    return RULES[rule]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", choices=sorted(set(RULES.values())),
                        help="the file to stand in for; default: known from --out's name")
    parser.add_argument("--config", required=True, help="resolved config YAML (sizes of the modules; paper_smoke)")
    parser.add_argument("--images", type=int, default=16, help="images per reference batch / per ImageNet class")
    parser.add_argument("--out", required=True, help="file (a folder for imagenet) to write")
    parser.add_argument("--manifest", help="imagenet only: a JSON file written after the folder")
    args = parser.parse_args(argv)
    what = args.what or kind_of(Path(args.out))
    if args.what and args.what != "imagenet" and kind_of(Path(args.out)) != args.what:
        raise SystemExit(f"--what {args.what} but {args.out} is the file of {kind_of(Path(args.out))}")
    write(what, load_config(args.config), Path(args.out), args.images,
          Path(args.manifest) if args.manifest else None)


if __name__ == "__main__":
    cli(main)
