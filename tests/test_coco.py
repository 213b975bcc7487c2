"""COCO FID-30k / CLIP score (Di[M]O's text-to-image protocol) with the real network shapes, random weights."""
import numpy as np
import pytest
import torch
import torchvision

from evaluation import coco
from evaluation.fid_inception import SIZE, FIDInceptionV3, clean_resize, to_network_input
from evaluation.frechet import feature_stats


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3()


def test_fid_inception_has_the_pytorch_fid_weight_layout(net, tmp_path):
    reference = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    ours = net.net.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.state_dict().items()}
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(ours, path)
    loaded = FIDInceptionV3(path)  # strict load of a file with that layout
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x)) and net(x).shape == (2, 2048)


def test_tensorflow_pooling_patches_are_active(net):
    torch.manual_seed(1)
    x = torch.rand(1, 192, 35, 35)
    plain = torchvision.models.inception.InceptionA(192, 32)
    plain.load_state_dict(net.net.Mixed_5b.state_dict())
    with torch.no_grad():
        ours, theirs = net.net.Mixed_5b.eval()(x), plain.eval()(x)
    # only the pool branch at the border differs: TF averages over the valid pixels only
    pool = slice(ours.shape[1] - 32, None)
    assert torch.equal(ours[:, :-32], theirs[:, :-32])
    assert not torch.allclose(ours[:, pool, 0, 0], theirs[:, pool, 0, 0])
    assert torch.allclose(ours[:, pool, 1:-1, 1:-1], theirs[:, pool, 1:-1, 1:-1], atol=1e-5)
    assert net.net.Mixed_7c.pool == "max" and net.net.Mixed_7b.pool == "avg"


def test_clean_resize_crops_the_centre_and_scales_to_299():
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, 50:250] = 200  # the centre square is uniformly 200, the side bands 0
    out = clean_resize(image)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8 and (out == 200).all()
    x = to_network_input(np.stack([image, image]))
    assert x.shape == (2, 3, SIZE, SIZE) and torch.allclose(x, torch.full_like(x, 2 * 200 / 255 - 1))


def test_coco_fid_and_clip_score(tmp_path, net, fast_frechet, tiny_scorers):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    captions_csv = tmp_path / "captions.csv"
    captions_csv.write_text("image_id,text\n" + "".join(f"{i},a photo number {i}\n" for i in range(12)))
    rows = coco.load_captions(captions_csv)
    assert rows[3] == (3, "a photo number 3")
    inception = tmp_path / "inception.pth"
    torch.save(net.net.state_dict(), inception)
    clip = tmp_path / "clip.pt"
    torch.manual_seed(0)
    from evaluation.clip_scorers import clip_score_model

    torch.save(clip_score_model(None).model.state_dict(), clip)
    same = feature_stats(coco.fid_features(images, net, 6, "cpu"))
    np.savez(tmp_path / "same.npz", mu=same[0], sigma=same[1])
    other = feature_stats(coco.fid_features(255 - images, net, 6, "cpu"))
    np.savez(tmp_path / "other.npz", mu=other[0], sigma=other[1])
    captions = [t for _, t in rows]
    kwargs = dict(inception=inception, clip=clip, batch_size=6, n_captions=12)
    near = coco.evaluate(images, captions, stats=tmp_path / "same.npz", **kwargs)
    far_lower_bound = ((same[0] - other[0]) ** 2).sum()  # FID >= the mean term (a 2048-d sqrtm costs seconds)
    assert abs(near["coco_fid"]) < 1e-3 * far_lower_bound
    assert -1 <= near["clip_score"] <= 1 and near["n_images"] == 12
    official = coco.evaluate(images, captions, stats=tmp_path / "same.npz", clip_images="gigagan_pil", **kwargs)
    assert official["clip_images"] == "gigagan_pil" and official["coco_fid"] == near["coco_fid"]
    assert -1 <= official["clip_score"] <= 1 and official["clip_score"] != near["clip_score"]  # another image path
    with pytest.raises(ValueError, match="30000 images"):
        coco.evaluate(images, captions, stats=tmp_path / "same.npz", inception=inception, clip=clip)
    with pytest.raises(ValueError, match="caption row"):
        coco.evaluate(images[:5], captions, stats=tmp_path / "same.npz", **kwargs)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,caption\n1,x\n")
    with pytest.raises(ValueError, match="image_id and text"):
        coco.load_captions(bad)


def test_gigagan_clip_image_path_crops_the_long_edge_then_lanczos_256():
    """Di[M]O's gigagan_eval_clip.py: centre crop to the short side, LANCZOS to 256, then CLIP's own PIL
    preprocessing; a 256-pixel square goes straight to that preprocessing."""
    import open_clip
    from PIL import Image

    from evaluation.clip_scorers import CLIP_MEAN, CLIP_STD, gigagan_pil_pixels

    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    square = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    transform = open_clip.image_transform(224, is_train=False, mean=CLIP_MEAN, std=CLIP_STD)
    crop = Image.fromarray(wide[:, 50:250]).resize((256, 256), Image.LANCZOS)
    assert torch.equal(gigagan_pil_pixels(wide[None], 224)[0], transform(crop))
    assert torch.equal(gigagan_pil_pixels(square[None], 224)[0], transform(Image.fromarray(square)))
