"""Hub downloads are pinned: the configured revision is asked for, and a file with another sha256 is refused."""
import hashlib

import pytest

from softdimo import pretrained

huggingface_hub = pytest.importorskip("huggingface_hub")


def fake_hub(monkeypatch, tmp_path, payload=b"weights"):
    calls = []
    cached = tmp_path / "cache" / "model.bin"
    cached.parent.mkdir()
    cached.write_bytes(payload)

    def hf_hub_download(**kwargs):
        calls.append(kwargs)
        return str(cached)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return calls, hashlib.sha256(payload).hexdigest()


def test_revision_and_expected_sha256(monkeypatch, tmp_path):
    calls, digest = fake_hub(monkeypatch, tmp_path)
    dest = tmp_path / "resources" / "teacher.bin"
    pretrained.main(["download", "--repo-id", "org/model", "--filename", "model.bin", "--revision", "abc123",
                     "--sha256", digest, "--rule", "download_teacher", "--out", str(dest)])
    assert calls[0]["revision"] == "abc123" and dest.read_bytes() == b"weights"
    assert "@abc123" in pretrained.record_path(dest).read_text()
    wrong = "0" * 64
    with pytest.raises(SystemExit) as error:
        pretrained.main(["download", "--repo-id", "org/model", "--filename", "model.bin", "--revision", "abc123",
                         "--sha256", wrong, "--rule", "download_teacher", "--out", str(tmp_path / "other.bin")])
    message = str(error.value)
    assert all(s in message for s in ("org/model/model.bin", digest, wrong, "download_teacher"))
    assert not (tmp_path / "other.bin").exists()


def test_every_hub_file_of_the_paper_preset_has_revision_and_sha256(root):
    import yaml

    raw = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "repo_id" in node:
                found.append(node)
            for value in node.values():
                walk(value)

    walk(raw)
    single = [f for f in found if "filename" in f]  # one file each (MaskBit, MaskGen-L, MaskGit, scorers, CLIP score)
    folders = [f for f in found if "files" in f]  # several files of one repository (Meissonic, its student)
    assert len(single) == 13 and all(f["revision"] and "sha256" in f for f in single)
    assert len(folders) == 2 and all(f["revision"] and f["files"] for f in folders)
    assert len(single) + len(folders) == len(found)
