"""The FID Inception-v3 of pytorch-fid (TensorFlow's 2015-12-05 graph ported to PyTorch), which T2IBenchmark
uses for MS-COCO FID-30k and with which its precomputed COCO statistics were made.

It is torchvision's Inception-v3 (1008 classes, no auxiliary head) whose pooling branches behave like
TensorFlow's: the average pools of the A, C and first E blocks ignore the zero padding, and the last E block
max-pools. Weights come from a local `pt_inception-2015-12-05-6726825d.pth` (the download_fid_inception rule)
and load with strict=True. Input: float images in [-1, 1] at 299 x 299 (T2IBenchmark does no resizing or
normalisation inside the network); output: the 2048-d final average pool.
"""
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.models.inception import InceptionA, InceptionC, InceptionE

from softdimo.pretrained import require_file

SIZE = 299


def _tf_avg_pool(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class TFInceptionA(InceptionA):
    def _forward(self, x):
        return [self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.branch_pool(_tf_avg_pool(x))]


class TFInceptionC(InceptionC):
    def _forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return [self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))]


class TFInceptionE(InceptionE):
    def __init__(self, in_channels, pool: str):
        super().__init__(in_channels)
        self.pool = pool

    def _forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return [self.branch1x1(x), b3, d, self.branch_pool(pooled)]


class FIDInceptionV3(torch.nn.Module):
    def __init__(self, weights=None):
        super().__init__()
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = TFInceptionA(192, 32), TFInceptionA(256, 64), TFInceptionA(288, 64)
        net.Mixed_6b, net.Mixed_6c = TFInceptionC(768, 128), TFInceptionC(768, 160)
        net.Mixed_6d, net.Mixed_6e = TFInceptionC(768, 160), TFInceptionC(768, 192)
        net.Mixed_7b, net.Mixed_7c = TFInceptionE(1280, "avg"), TFInceptionE(2048, "max")
        if weights is not None:  # None: random weights, tests only
            net.load_state_dict(torch.load(require_file(weights), map_location="cpu", weights_only=True), strict=True)
        self.net = net.eval().requires_grad_(False)

    def forward(self, x_m11: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = F.max_pool2d(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x_m11))), kernel_size=3, stride=2)
        x = F.max_pool2d(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e,
                      n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def clean_resize(image: np.ndarray) -> np.ndarray:
    """T2IBenchmark's 'clean' preprocessing of one uint8 HWC image: centre square crop, PIL bicubic to 299,
    back to uint8."""
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(np.ascontiguousarray(image[top:top + s, left:left + s]))
    return np.asarray(square.resize((SIZE, SIZE), resample=Image.BICUBIC)).clip(0, 255).astype(np.uint8)


def to_network_input(images_uint8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1] at 299 (ToTensor, then 2x - 1)."""
    x = torch.from_numpy(np.stack([clean_resize(im) for im in images_uint8])).permute(0, 3, 1, 2).float() / 255
    return 2 * x - 1
