"""The environment a table's numbers were computed in, as one line under the table (docs/reproducibility.md):
the CPU kernel level the workflow exported to its jobs, the kernels torch and OpenBLAS run, and whether the
installed packages are those of requirements-lock.txt. Bit-for-bit reproduction holds only within the same
environment; elsewhere the page's tolerance applies.
"""
import os
import re
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements-lock.txt"


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """name -> version of every package pinned in the lock file (names normalised as pip does)."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", lock.read_text(), flags=re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def package_drift(lock: Path = LOCK) -> list[str]:
    """'name installed (lock version)' for every locked package installed at another version or missing."""
    drift = []
    for name, version in sorted(locked_versions(lock).items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drift.append(f"{name} {installed} (lock {version})")
    return drift


def describe(lock: Path = LOCK) -> str:
    """One sentence naming the environment of this process (the table builder runs in the jobs' environment)."""
    import torch

    from softdimo.runtime import openblas_cores

    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, so that both copies are reported)

    level = os.environ.get("SOFTDIMO_CPU_KERNELS", "native")
    cores = ", ".join(sorted(set(openblas_cores().values()))) or "none loaded"
    if not lock.exists():
        packages = "installed packages not checked (no requirements-lock.txt beside the code)"
    else:
        drift = package_drift(lock)
        packages = ("packages as in requirements-lock.txt" if not drift else
                    f"{len(drift)} of the locked packages differ from requirements-lock.txt (e.g. {drift[0]})")
    return (f"Environment: CPU kernels {level} (SOFTDIMO_CPU_KERNELS; torch "
            f"{torch.backends.cpu.get_cpu_capability()}, OpenBLAS {cores}), torch {torch.__version__}, {packages}. "
            "These numbers reproduce bit for bit only in the same environment and thread count; elsewhere expect "
            "the tolerance of docs/reproducibility.md.")
