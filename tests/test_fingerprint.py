"""The smoke run's numbers against the committed fingerprint of the pinned environment (docs/reproducibility.md).

tests/fixtures/smoke_fingerprint.json is `python -m reports.fingerprint make results` of one
`snakemake all --cores 2 --configfile config/smoke.yaml` run in the environment of requirements-lock.txt with
the CPU kernels the Snakefile pins (SOFTDIMO_CPU_KERNELS=avx2). test_workflow.py::test_smoke_end_to_end calls
check_smoke_fingerprint on the results it produced (a warning instead where the environment is not the pinned
one); the tests here only check the check itself (cheap).
"""
import json
import os
import platform
import re
from pathlib import Path

import pytest

from reports.environment import LOCK, locked_versions, package_drift
from reports.fingerprint import compare, make

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "tests" / "fixtures" / "smoke_fingerprint.json"
# what the fingerprint was made with besides the lock: the presets' torch_threads (2) need --cores >= 2
SMOKE_CORES = 2


def environment_mismatch(lock: Path = LOCK) -> str | None:
    """Why this environment is not the one the fingerprint holds for, or None when it is."""
    import torch

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"the fingerprint is for x86-64 CPUs, this is {platform.machine()}"
    if not torch.cpu._is_avx2_supported():
        return "this processor has no AVX2, the pinned CPU kernel level"
    if os.environ.get("SOFTDIMO_CPU_KERNELS", "avx2").lower() != "avx2":
        return f"SOFTDIMO_CPU_KERNELS={os.environ['SOFTDIMO_CPU_KERNELS']} (the fingerprint is for avx2)"
    drift = package_drift(lock)
    if drift:
        more = f" and {len(drift) - 5} more" if len(drift) > 5 else ""
        return f"installed packages differ from {lock.name}: " + ", ".join(drift[:5]) + more
    return None


def fingerprint_differences(results: Path, expected: dict[str, str]) -> list[str]:
    """Differing artefacts, the earliest written first: that one is where the numbers started to differ."""
    actual = make(results)
    lines = compare(expected, actual)
    differing = [line.split(": ", 1)[1] for line in lines if line.startswith("differs: ")]
    differing.sort(key=lambda name: (results / name).stat().st_mtime_ns)
    missing = [line for line in lines if not line.startswith("differs: ")]
    return differing + missing


def check_smoke_fingerprint(results: Path, expected_path: Path = EXPECTED) -> str | None:
    """Fail with the first artefact that differs from the committed fingerprint.

    Returns why nothing was compared (not the pinned environment), or None after a successful comparison.
    """
    reason = environment_mismatch()
    if reason:
        return f"smoke fingerprint not compared: {reason}"
    expected = json.loads(expected_path.read_text())
    diff = fingerprint_differences(results, expected)
    if diff:
        shown = "\n  ".join(diff[:15]) + (f"\n  ... {len(diff) - 15} more" if len(diff) > 15 else "")
        pytest.fail(
            f"smoke results differ from {expected_path.relative_to(ROOT)} ({len(diff)} of {len(expected)} "
            f"artefacts); first artefact that differs: {diff[0]}\n  {shown}\n"
            "Numbers changed: if on purpose, regenerate the fixture (docs/reproducibility.md); if not, the first "
            "artefact names the stage whose numerics moved.", pytrace=False)
    return None


def test_expected_fingerprint_covers_the_smoke_run():
    expected = json.loads(EXPECTED.read_text())
    for name in ("c2i/data/train.npz", "c2i/classifier.pt", "c2i/teacher.pt", "table1.csv", "table2.csv",
                 "claims.csv", "t2i/teacher.pt", "c2i/maskgit/teacher.pt",
                 "c2i/metrics/maskgit/soft_dimo/steps1/seed0.json"):
        assert name in expected, name
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in expected.values())
    assert not any(name.endswith((".log", ".tsv", ".png", ".md")) for name in expected)


def test_lock_pins_torch_and_torchvision_together():
    pins = locked_versions()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert all("--hash=sha256:" in block for block in LOCK.read_text().split("==")[1:])


def test_first_differing_artefact_is_the_earliest_written(tmp_path):
    results = tmp_path / "results"
    (results / "c2i").mkdir(parents=True)
    for i, name in enumerate(["c2i/early.json", "c2i/late.json", "same.json"]):
        path = results / name
        path.write_text(json.dumps({"value": i, "seconds": 1.0}))
        os.utime(path, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    expected = make(results)
    assert fingerprint_differences(results, expected) == []
    (results / "c2i" / "late.json").write_text(json.dumps({"value": 99, "seconds": 2.0}))
    (results / "c2i" / "early.json").write_text(json.dumps({"value": 98, "seconds": 2.0}))
    os.utime(results / "c2i" / "early.json", ns=(10**18, 10**18))
    os.utime(results / "c2i" / "late.json", ns=(10**18 + 5 * 10**9, 10**18 + 5 * 10**9))
    (results / "same.json").write_text(json.dumps({"value": 2, "seconds": 7.0}))  # timing only: no difference
    assert fingerprint_differences(results, expected) == ["c2i/early.json", "c2i/late.json"]
    expected["gone.json"] = "0" * 64
    assert fingerprint_differences(results, expected)[-1] == "only before: gone.json"


def test_package_drift_names_a_drifted_package(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK.read_text().replace("numpy==", "numpy==0.0.0.dev0+", 1))
    assert any(line.startswith("numpy ") and "(lock 0.0.0.dev0+" in line for line in package_drift(lock))


def test_tables_name_the_environment_they_were_computed_in(tmp_path, monkeypatch):
    """The line under Table 1 and 2 (reports.environment): kernel level, torch's and OpenBLAS's kernels, the lock."""
    from reports.environment import describe

    monkeypatch.setenv("SOFTDIMO_CPU_KERNELS", "avx2")
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK.read_text().replace("numpy==", "numpy==0.0.0.dev0+", 1))
    line = describe(lock)
    assert line.startswith("Environment: CPU kernels avx2 (SOFTDIMO_CPU_KERNELS; torch ") and "OpenBLAS " in line
    assert "1 of the locked packages differ from requirements-lock.txt (e.g. numpy" in line
    assert "no requirements-lock.txt" in describe(tmp_path / "missing.txt")
