"""Real images to the square uint8 arrays a tokenizer encodes (ImageNet for MaskBit / MaskGit, image-caption
pairs for MaskGen-L's GAN)."""
import numpy as np
from PIL import Image


def center_crop_adm(image: Image.Image, size: int) -> np.ndarray:
    """ADM's crop: halve with a box filter while the short side is >= 2 * size, resize the short side to `size`
    with bicubic, then cut the centre square. Returns uint8 HWC RGB."""
    image = image.convert("RGB")
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(s // 2 for s in image.size), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(s * scale) for s in image.size), resample=Image.BICUBIC)
    arr = np.asarray(image)
    top, left = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return arr[top:top + size, left:left + size]
