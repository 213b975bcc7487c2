"""Process-wide torch settings every CLI applies first: CPU kernel level, thread count and deterministic
kernels; autocast.

Multithreaded CPU convolution backward passes are not bit-reproducible run to run (measured: the VQ
tokenizer's weights after 5 steps at batch 128 differ between two 2-thread runs); deterministic algorithms
make every training and sampling job reproduce exactly for a given thread count. On CUDA cuBLAS needs a fixed
workspace.

Across machines the CPU results also depend on which SIMD kernels torch, oneDNN and MKL pick for the processor
(docs/reproducibility.md): torch.randn alone draws different numbers under AVX2 and AVX-512 kernels, so the same
seed initialises different weights, and the OpenBLAS of numpy and scipy (FID's matrix square root, precision /
recall) picks its kernels by processor too. SOFTDIMO_CPU_KERNELS=avx2 (set by the Snakefile for the CPU presets)
holds all four at the AVX2 level that every x86-64 processor since 2015 runs; `native` (the default outside the
workflow) lets each library pick the fastest. The thread count changes the numbers too: the workflow passes
each job its rule's threads, which Snakemake lowers below `torch_threads` only when run with fewer --cores.
"""
import contextlib
import os
from pathlib import Path

# torch is imported inside the functions: the Snakefile reads CPU_KERNEL_ENV without paying for torch

# what each SOFTDIMO_CPU_KERNELS level sets before the libraries first read their variables
CPU_KERNEL_ENV = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
             "OPENBLAS_CORETYPE": "Haswell"},
}


def openblas_cores() -> dict[str, str]:
    """library file -> kernel family of every OpenBLAS loaded in this process (numpy's, scipy's)."""
    from threadpoolctl import threadpool_info

    return {Path(info["filepath"]).name: str(info.get("architecture"))
            for info in threadpool_info() if info.get("internal_api") == "openblas"}


def pin_cpu_kernels(level: str | None = None) -> str:
    """Apply SOFTDIMO_CPU_KERNELS (or `level`) and check that torch's CPU kernels are the ones asked for.

    The variables only take effect if they are set before torch, oneDNN and MKL first dispatch, so the
    workflow exports them before any job starts; here they are filled in for a CLI run by hand, and a process
    whose ATen already chose another level fails with a message instead of silently computing other numbers.
    """
    import torch

    level = (level or os.environ.get("SOFTDIMO_CPU_KERNELS") or "native").lower()
    if level not in CPU_KERNEL_ENV:
        raise ValueError(f"SOFTDIMO_CPU_KERNELS={level!r}: expected one of {sorted(CPU_KERNEL_ENV)}")
    if level == "native":
        return torch.backends.cpu.get_cpu_capability()
    if not torch.cpu._is_avx2_supported():
        # torch would accept ATEN_CPU_CAPABILITY=avx2 and die on an illegal instruction
        raise RuntimeError(f"SOFTDIMO_CPU_KERNELS={level}: this processor has no AVX2; run with "
                           "SOFTDIMO_CPU_KERNELS=native (results then differ from the pinned fingerprint)")
    for name, value in CPU_KERNEL_ENV[level].items():
        os.environ.setdefault(name, value)
    capability = torch.backends.cpu.get_cpu_capability()
    if capability != level.upper():
        raise RuntimeError(
            f"SOFTDIMO_CPU_KERNELS={level} but torch runs {capability} CPU kernels: ATEN_CPU_CAPABILITY="
            f"{os.environ.get('ATEN_CPU_CAPABILITY')!r} or a tensor operation before setup_torch fixed them; "
            f"start the process with ATEN_CPU_CAPABILITY={level}")
    # numpy loads its OpenBLAS at import, usually before this runs: a wrong core can only be reported
    wanted = CPU_KERNEL_ENV[level]["OPENBLAS_CORETYPE"]
    wrong = {name: core for name, core in openblas_cores().items() if core.lower() != wanted.lower()}
    if wrong:
        raise RuntimeError(
            f"SOFTDIMO_CPU_KERNELS={level} but OpenBLAS runs other kernels ({wrong}): it was loaded before "
            f"OPENBLAS_CORETYPE was set; start the process with OPENBLAS_CORETYPE={wanted}")
    return capability


def setup_torch(threads: int) -> None:
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # only the download rules (softdimo.pretrained, which never calls this) may reach the hub; holds for hub
    # libraries imported after this call (they read it at import)
    os.environ["HF_HUB_OFFLINE"] = "1"
    pin_cpu_kernels()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = True  # MaskBit's own setting; no effect on the CPU
    torch.backends.cudnn.allow_tf32 = True


def autocast(precision: str, device):
    """bf16 autocast of forwards on CUDA (the paper runs in bf16); fp32 does nothing."""
    import torch

    if precision == "bf16" and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}")
    return contextlib.nullcontext()
