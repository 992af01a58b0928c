"""A zoomed second pass on a box (issue 25, photos: small objects).

A photo's coarse map has 7x9 cells on 4:3, so a small object's box is drawn from one
or two cells and comes out several times the object's area. ``zoom_window`` takes a
box, enlarges it about its centre by ``scale``, at least ``least`` of the photo's
short side a side, kept inside the photo; ``zoom_box`` runs the map model on that
crop at its usual input size (so the map's cells are that much finer on the
object), makes the same class's CAM on the crop, boxes it by the box rule, and maps
the box back to the photo's pixels. A box that already covers most of the photo
gives a window of the whole photo: nothing to gain, and ``wanted`` says so.
"""

from __future__ import annotations

import numpy as np

from camvideo.cam.boxes import boxes_from_cam, normalize
from camvideo.results import Box
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings

CROP_PASS = MapSettings(input="aspect")  # the crop's pass: balanced's


def box_area(box: Box) -> int:
    """The area of ``box`` (x1, y1, x2, y2) in pixels (0 when empty)."""
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def wanted(box: Box | None, width: int, height: int, below: float | None) -> bool:
    """Whether ``box`` gets the zoomed pass: its area under ``below`` of the photo's
    (None: never)."""
    return below is not None and box is not None and box_area(box) < below * width * height


def _span(lo: float, hi: float, size: int, least: float) -> tuple[int, int]:
    """One axis of the window: ``lo..hi`` grown to ``least`` (at most ``size``) about
    its centre, shifted to lie inside ``0..size``."""
    length = min(float(size), max(hi - lo, least))
    start = min(max(0.0, (lo + hi - length) / 2), size - length)
    return int(round(start)), int(round(start + length))


def zoom_window(box: Box, width: int, height: int, scale: float = 2.0, least: float = 0.25) -> Box:
    """The crop around ``box`` in a ``width`` x ``height`` photo: the box enlarged
    ``scale`` times a side about its centre, each side at least ``least`` of the
    photo's short side, shifted (not cut) to lie inside the photo."""
    if width <= 0 or height <= 0:
        raise ValueError(f"photo size must be positive, got {width}x{height}")
    if scale < 1.0 or not 0.0 <= least <= 1.0:
        raise ValueError(f"scale must be >= 1 and least in [0, 1], got {scale}, {least}")
    x1, y1, x2, y2 = box
    grow_x, grow_y = (scale - 1.0) * (x2 - x1) / 2, (scale - 1.0) * (y2 - y1) / 2
    side = least * min(width, height)
    left, right = _span(x1 - grow_x, x2 + grow_x, width, side)
    top, bottom = _span(y1 - grow_y, y2 + grow_y, height, side)
    return left, top, right, bottom


def crop_evidence(passes, frame: np.ndarray, window: Box, flip: bool = False):
    """The map model's ``Evidence`` of ``frame`` cropped to ``window`` (its balanced
    pass; ``flip``: averaged with the crop's mirror). ``passes``: a
    ``camvideo.cam.multiscale.ScaledPasses``."""
    import torch

    x1, y1, x2, y2 = window
    crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
    request = LocalizeSettings(topk=1, maps=MapSettings(input="aspect", flip=flip))
    with torch.inference_mode():
        return passes.evidence([crop], request)[0]


def zoom_box(method, evidence, class_id: int, window: Box, rule: BoxRule) -> Box | None:
    """``class_id``'s box from the crop's ``evidence`` (``crop_evidence``) by ``rule``,
    in the photo's pixels (None: the map has no region)."""
    import torch

    x1, y1, x2, y2 = window
    with torch.inference_mode():
        cam = method.maps(evidence, [class_id]).cpu().numpy()[0]
    boxes = boxes_from_cam(normalize(cam), x2 - x1, y2 - y1, rule)
    if not boxes:
        return None
    bx1, by1, bx2, by2 = boxes[0]
    return bx1 + x1, by1 + y1, bx2 + x1, by2 + y1
