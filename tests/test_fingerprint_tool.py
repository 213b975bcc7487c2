"""The run fingerprint (reports/fingerprint.py) ignores what varies run to run and sees every real change."""
import json

import numpy as np
import torch

from reports import fingerprint
from softdimo.io import atomic_savez, atomic_torch_save, write_json


def _results(folder, weight: float, commit: str, seconds: float):
    atomic_torch_save({"kind": "teacher", "state_dict": {"w": torch.full((2, 3), weight), "step": torch.tensor(3)},
                       "git_commit": commit, "summary": {"train_seconds_this_run": seconds}}, folder / "c2i/teacher.pt")
    atomic_savez(folder / "c2i/samples/seed0.npz", arr_0=np.zeros((2, 8, 8, 1), np.uint8))
    write_json(folder / "c2i/metrics/seed0.json", {"fid": 1.5, "git_commit": commit, "eval_seconds": seconds,
                                                  "samples_sha256": commit, "sampling": {"images_per_s": seconds}})
    (folder / "table1.csv").write_text(f"method,fid_mean,images_per_s_mean,git_commit\nteacher,1.5,{seconds},{commit}\n")


def test_same_results_other_commit_and_timing_are_identical(tmp_path):
    _results(tmp_path / "a", 1.0, "abc", 1.0)
    _results(tmp_path / "b", 1.0, "def-dirty", 7.0)
    assert fingerprint.compare(fingerprint.make(tmp_path / "a"), fingerprint.make(tmp_path / "b")) == []


def test_a_changed_weight_or_metric_is_named(tmp_path):
    _results(tmp_path / "a", 1.0, "abc", 1.0)
    _results(tmp_path / "b", 1.0 + 1e-7, "abc", 1.0)
    a, b = fingerprint.make(tmp_path / "a"), fingerprint.make(tmp_path / "b")
    assert fingerprint.compare(a, b) == ["differs: c2i/teacher.pt"]
    metrics = tmp_path / "b" / "c2i/metrics/seed0.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "fid": 1.5000001}))
    (tmp_path / "b" / "c2i/extra.npz").write_bytes((tmp_path / "b" / "c2i/samples/seed0.npz").read_bytes())
    assert fingerprint.compare(a, fingerprint.make(tmp_path / "b")) == [
        "only after: c2i/extra.npz", "differs: c2i/metrics/seed0.json", "differs: c2i/teacher.pt"]
