"""Paper-size MaskBit modules: checkpoint names and shapes, conversion of official files, forward shapes."""
import json
from pathlib import Path

import pytest
import torch

from softdimo.bits import tokens_to_bits
from softdimo.checkpoints import load_artefact
from softdimo.config import load_config
from softdimo.pretrained import convert, paper_module, record_path, require_file, sha256_of

MANIFEST = json.loads((Path(__file__).parent / "fixtures" / "maskbit_manifest.json").read_text())


@pytest.fixture(scope="module")
def paper_cfg():
    return load_config("config/paper.yaml")


@pytest.fixture(scope="module")
def generator(paper_cfg):
    return paper_module("teacher", paper_cfg)


@pytest.fixture(scope="module")
def tokenizer(paper_cfg):
    return paper_module("tokenizer", paper_cfg)


def shapes(module) -> dict:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def test_generator_matches_official_key_shape_manifest(generator):
    arch, kwargs, module = generator
    assert arch == "maskbit_lfqbert" and kwargs["seq_len"] == 256
    assert shapes(module) == MANIFEST["generator_14bit"]
    assert sum(p.numel() for p in module.parameters()) == 304_929_024


@pytest.mark.parametrize("bits", [10, 18])
def test_generator_other_bit_widths_match_manifest(bits):
    from softdimo.models.maskbit import MaskBitGenerator

    with torch.device("meta"):  # names and shapes only: nothing allocated
        small = MaskBitGenerator(seq_len=256, bits=bits, splits=2, num_classes=1000, dim=1024, depth=24, heads=16,
                                 mlp_ratio=4.0, dropout=0.1)
    assert shapes(small) == MANIFEST[f"generator_{bits}bit"]


def test_tokenizer_matches_official_key_shape_manifest(tokenizer):
    arch, kwargs, module = tokenizer
    assert arch == "maskbit_vqgan_plus"
    assert shapes(module) == MANIFEST["tokenizer_14bit"]
    assert module.seq_len == 256 and module.classes_per_split == 128


def test_convert_official_file_strict_and_round_trip(paper_cfg, generator, tmp_path):
    # the paper preset's generator at full width and 2 of its 24 blocks (the manifest test covers all 24): the same
    # config path and official names at 1/10 of the 1.2 GB file
    import yaml

    from softdimo.config import from_dict

    raw = yaml.safe_load(Path("config/paper.yaml").read_text())
    raw["c2i"]["teacher"]["depth"], raw["c2i"]["gan"]["layers"] = 2, [1]  # the GAN heads sit on existing blocks
    shallow_cfg = from_dict(raw)
    _, _, module = paper_module("teacher", shallow_cfg)
    official = tmp_path / "teacher_official.bin"
    # the official naming of the input projection, as MaskBit's loader expects to rename it
    state = {k.replace("input_proj.", "token_emb."): v for k, v in module.state_dict().items()}
    torch.save(state, official)
    record_path(official).write_text(json.dumps({"source": "test", "sha256": sha256_of(official)}))
    convert("teacher", shallow_cfg, official, tmp_path / "teacher.pt")
    loaded, payload = load_artefact(tmp_path / "teacher.pt", "teacher")
    assert payload["summary"]["sha256"] == sha256_of(official) and payload["kwargs"]["depth"] == 2
    ours = loaded.state_dict()
    assert ours.keys() == module.state_dict().keys()
    assert all(torch.equal(ours[k], v) for k, v in module.state_dict().items())

    # the refusals, on a small generator of the same class through the same conversion code
    from softdimo.models import build_model
    from softdimo.pretrained import convert_module

    arch, kwargs, _ = generator
    small_kwargs = dict(kwargs, seq_len=4, dim=32, depth=1, heads=2)
    small = build_model(arch, **small_kwargs)
    state = {k.replace("input_proj.", "token_emb."): v for k, v in small.state_dict().items()}
    flipped = dict(state, bits_to_indices=state["bits_to_indices"].flip(0))  # most significant bit first
    torch.save(flipped, official)
    record_path(official).write_text(json.dumps({"source": "test", "sha256": sha256_of(official)}))
    with pytest.raises(SystemExit, match="bit order"):
        convert_module("teacher", arch, small_kwargs, build_model(arch, **small_kwargs), paper_cfg, official,
                       tmp_path / "bad.pt")

    torch.save({k: v for k, v in state.items() if not k.startswith("prediction_layer")}, official)
    record_path(official).write_text(json.dumps({"source": "test", "sha256": sha256_of(official)}))
    with pytest.raises(SystemExit, match="missing.*prediction_layer"):
        convert_module("teacher", arch, small_kwargs, build_model(arch, **small_kwargs), paper_cfg, official,
                       tmp_path / "bad.pt")


def test_downloaded_file_checked_against_recorded_sha(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    record_path(f).write_text(json.dumps({"source": "test", "sha256": sha256_of(f)}))
    assert require_file(f) == f
    f.write_bytes(b"truncat")
    with pytest.raises(SystemExit, match="differs from"):
        require_file(f)
    with pytest.raises(SystemExit, match="download_teacher"):
        require_file(Path("resources/c2i/teacher_official.bin"))


def test_forward_shapes_and_shared_bit_convention(generator, tokenizer):
    _, _, gen = generator
    _, _, tok = tokenizer
    torch.manual_seed(0)
    images = torch.randint(0, 256, (1, 256, 256, 3), dtype=torch.uint8)
    with torch.no_grad():
        tokens = tok.encode(images)
        assert tokens.shape == (1, 256, 2) and int(tokens.max()) < 128
        # a token index's bit k is latent channel k (the quantizer's codebook buffer is that table)
        index = tokens[..., 0] + (tokens[..., 1] << 7)
        assert torch.equal(gen.embed(tokens), tok.quantize.codebook[index])
        assert torch.equal(tokens_to_bits(tokens, 7, lsb_first=True), tok.quantize.codebook[index])
        masked = tokens.clone()
        masked[:, :10, 1] = gen.mask_id
        e = gen.embed(masked)
        assert (e[:, :10, 7:] == 0).all() and (e[:, :10, :7].abs() == 1).all()
        logits = gen(masked, torch.tensor([5]))
        assert logits.shape == (1, 256, 2, 128)
        hard = tok.decode(tokens)
        soft = tok.decode_soft(torch.nn.functional.one_hot(tokens, 128).float())
        assert hard.shape == (1, 3, 256, 256)
        assert torch.allclose(hard, soft, atol=1e-5)
