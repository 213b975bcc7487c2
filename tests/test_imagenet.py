"""ImageNet preparation for the paper preset: the folder check, ADM's centre crop, tokenisation."""
import numpy as np
import pytest
import torch
from PIL import Image

from softdimo.tracks.maskbit import imagenet
from softdimo.tokenizers.maskbit import MaskBitTokenizer


def fake_imagenet(root, classes=3, per_class=2):
    for c in range(classes):
        folder = root / f"n{c:08d}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.random.default_rng(10 * c + i).integers(0, 256, (50 + 10 * i, 70, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"img{i}.png")
    return root


def test_check_rejects_missing_and_wrong_folders(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        imagenet.check(tmp_path / "nowhere", 1000)
    fake_imagenet(tmp_path / "train")
    with pytest.raises(SystemExit, match="3 class folders"):
        imagenet.check(tmp_path / "train", 1000)
    (tmp_path / "empty" / "n00000001").mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds no images"):
        imagenet.check(tmp_path / "empty", 1)
    index = imagenet.check(tmp_path / "train", 3)
    assert index["n_images"] == 6 and index["labels"] == [0, 0, 1, 1, 2, 2]
    assert index["files"][0] == "n00000000/img0.png"


def test_adm_center_crop():
    # a 300x100 (w x h) image with a bright centre column: box-halved once (100 >= 2 * 32), then bicubic to 32
    arr = np.zeros((100, 300, 3), dtype=np.uint8)
    arr[:, 145:155] = 255
    out = imagenet.center_crop_adm(Image.fromarray(arr), 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 15:17].mean() > 200 and out[:, :8].mean() < 5 and out[:, -8:].mean() < 5
    small = imagenet.center_crop_adm(Image.fromarray(np.zeros((20, 40, 3), dtype=np.uint8)), 32)  # upscales
    assert small.shape == (32, 32, 3)


def test_tokenize_folder_matches_direct_encoding(tmp_path):
    index = imagenet.check(fake_imagenet(tmp_path / "train"), 3)
    torch.manual_seed(0)
    tok = MaskBitTokenizer(image_size=32, channels=3, bits=6, splits=2, hidden_channels=32, channel_mult=(1, 1),
                           num_res_blocks=1).eval()
    tokens = imagenet.tokenize(index, tok, 32, batch_size=1, workers=0, device="cpu")
    assert tokens.shape == (6, 256, 2) and tokens.dtype == np.int16
    with Image.open(tmp_path / "train" / index["files"][3]) as image:
        crop = torch.from_numpy(imagenet.center_crop_adm(image, 32).copy())[None]
    assert np.array_equal(tokens[3], tok.encode(crop)[0].numpy())
