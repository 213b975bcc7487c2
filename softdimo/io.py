"""Atomic file writes (a killed job never leaves a half-written checkpoint, sample file or table), sample files
that record what made them, the data split reader and the checkout's commit."""
import hashlib
import io
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide, other threads may be creating files)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file 0600; give it the mode open() would (0666 less the user's umask)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_torch_save(obj, path) -> None:
    import torch  # here, not at the top: evaluators and reports that only write JSON skip its ~3 s import

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def atomic_savez(path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_samples(path, meta: dict, **arrays) -> None:
    """A samples .npz and its sidecar .json: what made the file (method, seed, steps, ...) and its sha256, which
    every reader checks (check_samples) so that a swapped, stale or damaged file is an error, not a number."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    write_json(Path(path).with_suffix(".json"), {**meta, "sha256": hashlib.sha256(data).hexdigest()})


def check_samples(path, expect: dict) -> dict:
    """The sidecar of a samples file, after checking that it describes this very file (sha256) and the run the
    reader expects (each `expect` key, compared as text); an ArtefactError naming the file otherwise."""
    from softdimo.errors import ArtefactError

    path, sidecar = Path(path), Path(path).with_suffix(".json")
    redo = f"delete {path} and {sidecar} and rerun the workflow (the rule that makes {path} rebuilds both)"
    try:
        meta = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise ArtefactError(f"{sidecar} is missing: it records what made {path}; {redo}") from None
    except ValueError as error:
        raise ArtefactError(f"{sidecar} is unreadable ({error}); {redo}") from None
    if "sha256" not in meta:
        raise ArtefactError(f"{sidecar} records no sha256 of {path} (written by an older version); {redo}")
    actual = sha256_file(path)
    if actual != meta["sha256"]:
        raise ArtefactError(f"{path} has sha256 {actual}, but its sidecar {sidecar} records {meta['sha256']}: the "
                            f"file was replaced or damaged after it was written; {redo}")
    for key, value in expect.items():
        if str(meta.get(key)) != str(value):
            raise ArtefactError(f"{path} was made for {key}={meta.get(key)!r}, but this job expects {key}={value!r}: "
                                f"a file copied or moved from another run; {redo}")
    return meta


def expectations(items: list[str]) -> dict:
    """--expect KEY=VALUE items as a dict."""
    from softdimo.errors import SoftdimoError

    bad = [item for item in items if "=" not in item or not item.split("=", 1)[0]]
    if bad:
        raise SoftdimoError(f"--expect takes KEY=VALUE, got {bad[0]!r}")
    return dict(item.split("=", 1) for item in items)


def add_expect_argument(parser) -> None:
    """Every evaluator's --expect (read with expectations(), checked with check_samples())."""
    parser.add_argument("--expect", action="append", default=[], metavar="KEY=VALUE",
                        help="what the samples' sidecar must record (e.g. method=dimo, seed=1, steps=1; repeatable); "
                             "the sidecar's sha256 of the file is checked as well")


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def load_split(path) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 NHWC, key arr_0) and labels of a data split .npz."""
    from softdimo.errors import read_npz

    split = read_npz(path, ("arr_0", "labels"))
    return split["arr_0"], split["labels"]


def git_commit() -> str:
    """The commit of the checkout running this code, with '-dirty' when files differ; 'unknown' outside git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
