"""Paper-scale weights: download official files (recording sha256) and convert them to softdimo artefacts.

Only the download rules of the paper preset call this; every other job reads local files.

    python -m softdimo.pretrained download --repo-id markweber/maskbit_generator_14bit --filename F --dest D
    python -m softdimo.pretrained download-inception --dest resources/eval/inception_v3_torch_fidelity.pth
    python -m softdimo.pretrained convert --kind teacher --config CFG --official D --out results/c2i/teacher.pt
"""
import argparse
import hashlib
import shutil
from pathlib import Path

from softdimo.io import write_json


def _record(dest: Path, source: str) -> None:
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    write_json(dest.with_suffix(dest.suffix + ".sha256.json"), {"source": source, "sha256": digest})
    print(f"{dest}: sha256 {digest}")


def download_hub(repo_id: str, filename: str, dest: Path) -> None:
    from huggingface_hub import hf_hub_download

    cached = hf_hub_download(repo_id=repo_id, filename=filename)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, dest)
    _record(dest, f"hub:{repo_id}/{filename}")


def download_inception(dest: Path) -> None:
    """torch-fidelity's own Inception-v3 weights (the TF FID network), from the address torch-fidelity uses."""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(URL_INCEPTION_V3, str(dest))
    _record(dest, URL_INCEPTION_V3)


def convert(kind: str, official: Path, out: Path) -> None:
    raise SystemExit(
        f"converting the official {kind} checkpoint {official} needs the checkpoint-compatible MaskBit modules, "
        "which this version does not contain yet (paper-scale class-to-image track). Use the tiny or smoke preset.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download")
    d.add_argument("--repo-id", required=True)
    d.add_argument("--filename", required=True)
    d.add_argument("--dest", required=True)
    i = sub.add_parser("download-inception")
    i.add_argument("--dest", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--kind", required=True, choices=["tokenizer", "teacher"])
    c.add_argument("--config", required=True)
    c.add_argument("--official", required=True)
    c.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "download":
        download_hub(args.repo_id, args.filename, Path(args.dest))
    elif args.cmd == "download-inception":
        download_inception(Path(args.dest))
    else:
        convert(args.kind, Path(args.official), Path(args.out))


if __name__ == "__main__":
    main()
