"""MaskGen's output head is tied to its embedding table: a file that stores the tie once still converts."""
import pytest
import torch

from softdimo.models import build_model
from softdimo.pretrained import convert_module

safetensors_torch = pytest.importorskip("safetensors.torch")
SMALL = dict(seq_len=8, codebook_size=16, num_classes=1000, text_dim=8, dim=16, depth=1, heads=2,
             micro_condition_dim=8, aesthetic_score=6.5)


def test_tied_head_stored_once_converts_and_missing_key_is_refused(tmp_path, smoke_cfg):
    torch.manual_seed(0)
    src = build_model("maskgen_vq", **SMALL)
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_model(src, str(path))  # the standard writer: one name per shared tensor
    stored = safetensors_torch.load_file(str(path))
    assert ("lm_head.weight" in stored) != ("embeddings.weight" in stored)  # the tie is stored once
    dest = build_model("maskgen_vq", **SMALL)
    convert_module("teacher", "maskgen_vq", SMALL, dest, smoke_cfg, path, tmp_path / "teacher.pt")
    assert dest.lm_head.weight is dest.embeddings.weight
    assert all(torch.equal(v, src.state_dict()[k]) for k, v in dest.state_dict().items())
    # a tensor with no tied partner in the file is still missing
    broken = {k: v for k, v in stored.items() if not k.endswith("pos_embed") and "pos_embed" not in k}
    assert len(broken) < len(stored)
    safetensors_torch.save_file(broken, str(tmp_path / "broken.safetensors"))
    with pytest.raises(SystemExit, match="missing"):
        convert_module("teacher", "maskgen_vq", SMALL, build_model("maskgen_vq", **SMALL), smoke_cfg,
                       tmp_path / "broken.safetensors", tmp_path / "t2.pt")
