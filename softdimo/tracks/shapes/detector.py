"""The shapes world's object detector: GenEval's Mask2Former stand-in at tiny scale.

Foreground pixels are the saturated ones (objects are saturated colours on a grey background); they are
split into 4-connected components, components smaller than `min_area` pixels are dropped as noise, each
component's colour is the palette colour nearest to its median pixel, and its class is the shape template
(rendered at the component's box size) with the highest IoU against the component's mask; that IoU is the
detection's confidence (GenEval's official rule checks the most confident detections of a class). No learning:
the detector cannot be fitted to a generator's artefacts, and its accuracy on clean renders is reported.
"""
import numpy as np
from scipy import ndimage

from softdimo.tracks.shapes.world import PALETTE, shape_mask


class ShapesDetector:
    def __init__(self, shapes, colors, *, saturation: int = 70, min_area: int = 6):
        self.shapes, self.colors = tuple(shapes), tuple(colors)
        self.palette = np.array([PALETTE[c] for c in self.colors], float)
        self.saturation, self.min_area = saturation, min_area

    def __call__(self, image: np.ndarray) -> list[dict]:
        """uint8 (H, W, 3) -> detections [{'class', 'color', 'box': (x0, y0, x1, y1), 'iou', 'confidence'}]."""
        img = image.astype(np.int16)
        foreground = (img.max(-1) - img.min(-1)) > self.saturation
        components, n = ndimage.label(foreground)
        out = []
        for k, where in enumerate(ndimage.find_objects(components), start=1):
            mask = components[where] == k
            if mask.sum() < self.min_area:
                continue
            pixel = np.median(img[where][mask], axis=0)
            color = self.colors[int(np.argmin(((self.palette - pixel) ** 2).sum(1)))]
            h, w = mask.shape
            ious = [(mask & shape_mask(s, h, w)).sum() / (mask | shape_mask(s, h, w)).sum() for s in self.shapes]
            best = int(np.argmax(ious))
            ys, xs = where
            out.append({"class": self.shapes[best], "color": color, "iou": float(ious[best]),
                        "confidence": float(ious[best]),
                        "box": (xs.start, ys.start, xs.stop, ys.stop)})
        return out
