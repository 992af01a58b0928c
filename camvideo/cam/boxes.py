"""Class activation map -> bounding boxes in source-frame pixels.

The map is min-max normalized, upsampled (bilinear) to the frame, thresholded and
boxed. The default is the CAM paper's rule: keep the pixels at or above 20% of the
map's maximum and box the largest connected component.

The map covers the whole source frame (preprocessing resizes the whole frame), so
any aspect ratio maps back by a plain scale per axis.
"""

from __future__ import annotations

import cv2
import numpy as np

from camvideo.results import Box
from camvideo.settings import BoxRule


def normalize(cam: np.ndarray) -> np.ndarray:
    """Min-max scale one map to [0, 1] (a flat map becomes all zeros)."""
    cam = np.asarray(cam, dtype=np.float32)
    lo, hi = float(cam.min()), float(cam.max())
    if hi - lo < 1e-12:
        return np.zeros_like(cam)
    return (cam - lo) / (hi - lo)


def upsample(cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear upsampling with pixel centres aligned (as ``align_corners=False``)."""
    return cv2.resize(np.asarray(cam, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def threshold_mask(heat: np.ndarray, rule: BoxRule) -> np.ndarray:
    """uint8 mask (0/1) of the pixels kept by ``rule`` on a map in [0, 1]."""
    top = float(heat.max())
    if top <= 0.0:
        return np.zeros(heat.shape, np.uint8)
    if rule.method == "otsu":
        heat8 = np.clip(heat * 255.0 + 0.5, 0, 255).astype(np.uint8)
        _, mask = cv2.threshold(heat8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)  # keeps > Otsu's level
        return mask
    if rule.method == "max":
        level = rule.threshold * top
    elif rule.method == "mean":
        level = rule.threshold * float(heat.mean())
    else:
        level = float(np.quantile(heat, rule.threshold))
    return (heat >= level).view(np.uint8)  # numpy's bools are the bytes 0 and 1: no copy


def single_region(mask: np.ndarray) -> Box | None | bool:
    """The box of a 0/1 mask's one connected region (8-connected), None when it has
    several, False when it has none.

    Border following (``findContours``, 8-connected foreground like
    ``connectedComponentsWithStats``) in its two-level mode lists each region's
    outer border at the top level and its holes below it (a region inside a hole
    is a top-level border again). So one top-level border means one region, whose
    box is that border's: ~0.03-0.06 ms on a 320x240 mask instead of ~0.5 ms for
    labelling every pixel. A map thresholded at a fraction of its maximum is one
    region with holes more often than several regions (14 of 19 multi-contour
    maps on the bench's 640x480 frames, top-3), so the holes do not send it to
    the labelling."""
    outer = outer_contours(mask)
    if not outer:
        return False
    if len(outer) != 1:
        return None
    x, y, w, h = cv2.boundingRect(outer[0])
    return (x, y, x + w, y + h)


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The outer border of each connected region (8-connected) of a 0/1 mask, one
    contour a region (``single_region``'s two-level border following); each
    contour's points are pixels of its region."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    if len(contours) == 1:
        return list(contours)
    return [c for c, parent in zip(contours, hierarchy[0, :, 3].tolist()) if parent < 0]


def mask_boxes(mask: np.ndarray, rule: BoxRule) -> list[Box]:
    """Boxes of the connected components (8-connected) of a 0/1 mask, largest first.

    Fast path (``single_region``): a thresholded class map is nearly always one
    region, and its box is its outer contour's; anything else is labelled.
    """
    blob = single_region(mask)
    if blob is False:
        return []
    if blob is not None:
        return [blob]
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    regions = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    if rule.components == "largest":
        regions = regions[:1]
    else:
        least = rule.min_area * mask.shape[0] * mask.shape[1]
        regions = [i for i in regions if stats[i, cv2.CC_STAT_AREA] >= least] or regions[:1]
    boxes = []
    for i in regions:
        x, y, w, h = (int(v) for v in stats[i, :4])
        boxes.append((x, y, x + w, y + h))
    return boxes


def boxes_from_cam(cam: np.ndarray, width: int, height: int, rule: BoxRule = BoxRule()) -> list[Box]:
    """Boxes, in pixels of a ``width`` x ``height`` source frame, for one class map
    at feature resolution (raw or already normalized)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = min(1.0, rule.max_side / max(width, height))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    heat = upsample(normalize(cam), work_w, work_h)
    boxes = mask_boxes(threshold_mask(heat, rule), rule)
    if rule.inset > 0.0:
        boxes = [inset_box(b, rule.inset) for b in boxes]
    sx, sy = width / work_w, height / work_h
    return [
        (
            max(0, int(np.floor(x1 * sx))),
            max(0, int(np.floor(y1 * sy))),
            min(width, int(np.ceil(x2 * sx))),
            min(height, int(np.ceil(y2 * sy))),
        )
        for x1, y1, x2, y2 in boxes
    ]


def inset_box(box, fraction: float):
    """``box`` with each side moved inwards by ``fraction`` of its width or height
    (``BoxRule.inset``), in float working pixels; never less than one pixel wide."""
    x1, y1, x2, y2 = box
    dx = min(fraction * (x2 - x1), max(0.0, (x2 - x1 - 1) / 2))
    dy = min(fraction * (y2 - y1), max(0.0, (y2 - y1 - 1) / 2))
    return (x1 + dx, y1 + dy, x2 - dx, y2 - dy)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
