"""The pinned CPU kernel level (softdimo.runtime, docs/reproducibility.md): a process asked for the AVX2 level
either runs AVX2 kernels in torch and Haswell kernels in every OpenBLAS, or stops saying what to export."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
REPORT = ("import numpy, scipy.linalg, torch; from softdimo.runtime import setup_torch, openblas_cores; "
          "setup_torch(1); print(torch.backends.cpu.get_cpu_capability(), sorted(set(openblas_cores().values())))")

pytestmark = pytest.mark.skipif(not torch.cpu._is_avx2_supported(), reason="the pinned level needs AVX2")


def _run(**env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SOFTDIMO_CPU_KERNELS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR",
                          "OPENBLAS_CORETYPE")}
    return subprocess.run([sys.executable, "-c", REPORT], env={**clean, **env}, cwd=ROOT, capture_output=True,
                          text=True)


def test_the_workflow_environment_runs_avx2_kernels_everywhere():
    from softdimo.runtime import CPU_KERNEL_ENV

    done = _run(SOFTDIMO_CPU_KERNELS="avx2", **CPU_KERNEL_ENV["avx2"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "AVX2" and "['Haswell']" in done.stdout


def test_an_openblas_loaded_with_other_kernels_is_refused_by_name():
    """numpy loads OpenBLAS at import, before setup_torch could set OPENBLAS_CORETYPE: Prescott stands for any
    other processor's choice (SkylakeX on AVX-512 machines, Zen on AMD)."""
    done = _run(SOFTDIMO_CPU_KERNELS="avx2", OPENBLAS_CORETYPE="Prescott")
    assert done.returncode != 0
    assert "OpenBLAS runs other kernels" in done.stderr and "OPENBLAS_CORETYPE=Haswell" in done.stderr
