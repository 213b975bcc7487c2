"""The MaskGit GPU benchmark script, run on the CPU with small random modules of the same code (a check of the
script; the GPU numbers come from running it on a GPU, docs/maskgit.md)."""
import json

import yaml

from softdimo.models import build_model
from softdimo.tracks.maskgit.sampler import forward_passes
from tests.test_maskgit_paper import SMALL_T, small_cfg


def test_gpu_benchmark_script_runs_on_cpu_with_small_modules(tmp_path):
    from softdimo.config import to_dict
    from softdimo.tracks.maskgit import gpu_benchmark

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(to_dict(small_cfg())))
    gpu_benchmark.main(["--config", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "b.json"), "--device", "cpu",
                        "--batch-size", "2", "--student-repeats", "1", "--precisions", "bf16"])
    out = json.loads((tmp_path / "b.json").read_text())
    assert out["teacher_params"] == sum(p.numel() for p in build_model("maskgit_transformer", **SMALL_T).parameters())
    assert out["bf16"]["teacher_4_steps"]["nfe"] == forward_passes(4, 3.0)
    assert out["train_step_bf16"]["phases"] == ["generator", "aux", "disc"]
