"""Issue 17, class 3: samples and metrics say what made them, and readers check it (a swapped or stale file is a
named error, never a number)."""
import json
import shutil

import numpy as np
import pytest

from reports.table1 import build_table1
from softdimo.errors import ArtefactError
from softdimo.io import check_samples, write_samples


def samples(folder, seed):
    path = folder / f"seed{seed}.npz"
    images = np.full((4, 8, 8, 1), seed, dtype=np.uint8)
    write_samples(path, {"method": "dimo", "steps": 1, "eval_seed": seed}, arr_0=images, labels=np.arange(4))
    return path


def test_a_file_written_by_write_samples_passes_its_check(tmp_path):
    path = samples(tmp_path, 1)
    meta = check_samples(path, {"method": "dimo", "steps": "1", "eval_seed": "1"})
    assert meta["eval_seed"] == 1 and len(meta["sha256"]) == 64


def test_samples_copied_over_another_seed_are_refused(tmp_path):
    zero, one = samples(tmp_path, 0), samples(tmp_path, 1)
    shutil.copyfile(zero, one)  # the .npz alone: its sidecar still describes seed 1's file
    with pytest.raises(ArtefactError, match=r"seed1\.npz has sha256 .* replaced or damaged"):
        check_samples(one, {"eval_seed": "1"})
    shutil.copyfile(zero.with_suffix(".json"), one.with_suffix(".json"))  # both files: consistent, but seed 0's
    with pytest.raises(ArtefactError, match=r"made for eval_seed=0, but this job expects eval_seed='1'"):
        check_samples(one, {"eval_seed": "1"})


def test_a_missing_or_old_sidecar_is_named(tmp_path):
    path = samples(tmp_path, 2)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    del meta["sha256"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ArtefactError, match="records no sha256"):
        check_samples(path, {})
    sidecar.unlink()
    with pytest.raises(ArtefactError, match=r"seed2\.json is missing"):
        check_samples(path, {})


def metrics_file(folder, method, steps, seed, recorded_seed=None):
    path = folder / "metrics" / method / f"steps{steps}" / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sampling": {"method": method, "steps": steps,
                                             "eval_seed": seed if recorded_seed is None else recorded_seed}}))
    return path


def test_table1_refuses_a_metrics_file_that_is_not_what_its_name_says(tmp_path, root):
    moved = metrics_file(tmp_path, "dimo", 1, 1, recorded_seed=0)
    with pytest.raises(ArtefactError, match=r"seed1\.json holds the metrics of dimo at 1 steps, seed 0"):
        build_table1([metrics_file(tmp_path, "dimo", 1, 0), moved], root / "config/reported.csv", "smoke")


def test_table1_refuses_the_same_seed_twice(tmp_path, root):
    a = metrics_file(tmp_path / "a", "dimo", 1, 0)
    b = metrics_file(tmp_path / "b", "dimo", 1, 0)
    with pytest.raises(ArtefactError, match=r"evaluation seed\(s\) \[0\] more than once"):
        build_table1([a, b], root / "config/reported.csv", "smoke")


def test_text_to_image_evaluation_checks_its_samples(tmp_path):
    """The shapes track's evaluator (t2i rules pass --expect) refuses another row's, seed's or prompt set's file."""
    import numpy as np
    import pytest

    from softdimo.errors import ArtefactError
    from softdimo.io import write_samples
    from softdimo.tracks.shapes.metrics import load_samples

    images, ids = np.zeros((4, 8, 8, 3), np.uint8), np.arange(4)
    for role in ("eval", "fid"):
        write_samples(tmp_path / f"{role}.npz", {"method": "dimo", "steps": 1, "eval_seed": 0, "set": role},
                      arr_0=images, prompt_ids=ids)
    expect = {"method": "dimo", "steps": "1", "eval_seed": "0"}
    assert load_samples(tmp_path / "eval.npz", expect, role="eval")[0].shape == (4, 8, 8, 3)
    with pytest.raises(ArtefactError, match="'fid' prompt set"):
        load_samples(tmp_path / "fid.npz", expect, role="eval")
    with pytest.raises(ArtefactError, match="eval_seed"):
        load_samples(tmp_path / "eval.npz", {**expect, "eval_seed": "1"}, role="eval")
    with pytest.raises(ArtefactError, match="method"):
        load_samples(tmp_path / "eval.npz", {**expect, "method": "soft_dimo"}, role="eval")
