"""Several objects, several boxes: one box per connected region of a class map.

The CAM paper boxes the largest connected region of the map thresholded at 20% of
its maximum. A photo of two spaniels or four airliners often thresholds into
several regions; ``region_boxes`` boxes each one by the same rule (the same level,
the same inset) and ranks them: the paper's box (the largest region) first, so the
primary box is exactly ``boxes_from_cam``'s, then the other regions by their
evidence (the sum of the normalized map over the region), strongest first. A region
whose peak is below ``least_peak`` of the map's maximum, or smaller than
``least_area`` of the frame, is left out (the faint tail of a single object's
map).

Cost: one contour pass on the upsampled map (~0.03-0.06 ms on 320x240) when the map
thresholds into one region, with holes or without (nearly always:
``camvideo.cam.boxes.single_region``), the labelling otherwise (~0.2 ms: the
labels without OpenCV's statistics, ``_labelled``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from camvideo.cam.boxes import inset_box, normalize, outer_contours, threshold_mask, upsample
from camvideo.results import Box
from camvideo.settings import BoxRule

MOST = 5  # regions listed per class at most
LEAST_PEAK = 0.5  # a region's peak must reach this fraction of the map's maximum
LEAST_AREA = 0.002  # ... and its area this fraction of the frame


def region_boxes(cam: np.ndarray, width: int, height: int, rule: BoxRule = BoxRule(), most: int = MOST,
                 least_peak: float = LEAST_PEAK, least_area: float = LEAST_AREA, normalized: bool = False) -> list[Box]:
    """Boxes, in pixels of a ``width`` x ``height`` frame, of the regions of one class
    map (feature resolution, raw or normalized) under ``rule``'s threshold: the
    largest region's first (``boxes_from_cam``'s box), then the others by evidence.
    ``normalized``: ``cam`` is ``normalize``'s already (it is not scaled again: the
    same boxes, a normalized map normalizes to itself)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if most < 1:
        raise ValueError(f"most must be at least 1, got {most}")
    scale = min(1.0, rule.max_side / max(width, height))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    heat = upsample(cam if normalized else normalize(cam), work_w, work_h)
    mask = threshold_mask(heat, rule)
    outer = outer_contours(mask)
    if not outer:
        return []
    if len(outer) == 1:  # one region (holes or not): the paper's box alone
        x, y, w, h = cv2.boundingRect(outer[0])
        ranked = [(x, y, x + w, y + h)]
    else:
        ranked = _ranked(heat, mask, least_peak, least_area * work_w * work_h, most, outer)
    if rule.inset > 0.0:
        ranked = [inset_box(b, rule.inset) for b in ranked]
    sx, sy = width / work_w, height / work_h
    return [(max(0, math.floor(x1 * sx)), max(0, math.floor(y1 * sy)), min(width, math.ceil(x2 * sx)),
             min(height, math.ceil(y2 * sy))) for x1, y1, x2, y2 in ranked]


def _ranked(heat: np.ndarray, mask: np.ndarray, least_peak: float, least_area: float, most: int,
            outer: list[np.ndarray] | None = None) -> list[tuple]:
    """The regions' boxes (working pixels): the largest first, then up to ``most - 1``
    kept others by their evidence. ``outer``: the mask's ``outer_contours`` when known."""
    count, labels, stats = _labelled(mask, outer_contours(mask) if outer is None else outer)
    if count <= 1:
        return []
    areas = stats[:, cv2.CC_STAT_AREA]
    largest = 1 + int(np.argmax(areas[1:]))
    values = [_region_values(heat, labels, stats, i) for i in range(1, count)]
    mass = np.array([0.0, *(float(np.add.accumulate(v, dtype=np.float64)[-1]) for v in values)])
    level = least_peak * float(heat.max())
    others = []
    for i in np.argsort(-mass[1:]) + 1:  # strongest first; a peak is looked up for the few that are large enough
        if len(others) == most - 1:
            break
        if int(i) != largest and areas[i] >= least_area and float(values[i - 1].max()) >= level:
            others.append(int(i))
    boxes = []
    for i in [largest, *others]:
        x, y, w, h = (int(v) for v in stats[i, :4])
        boxes.append((x, y, x + w, y + h))
    return boxes


def _labelled(mask: np.ndarray, outer: list[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats(mask, connectivity=8)``'s count, labels and
    stats (left, top, width, height, area) at a third of its cost: the labels
    without statistics, the areas counted by ``np.bincount``, each region's box
    its outer contour's (``outer``: one a region; its points lie in the region)."""
    height, width = mask.shape
    # 16-bit labels where they cannot overflow (8-connected regions are at least 2 pixels
    # apart: at most one per 2x2 cell): the same labels, at a lower cost
    ltype = cv2.CV_16U if ((width + 1) // 2) * ((height + 1) // 2) < 65535 else cv2.CV_32S
    count, labels = cv2.connectedComponents(mask, connectivity=8, ltype=ltype)
    stats = np.zeros((count, 5), np.int64)
    stats[:, cv2.CC_STAT_AREA] = np.bincount(labels.ravel(), minlength=count)
    for contour in outer:
        x, y = contour[0, 0]
        stats[labels[y, x], :4] = cv2.boundingRect(contour)
    return count, labels, stats


def _region_values(heat: np.ndarray, labels: np.ndarray, stats: np.ndarray, label: int) -> np.ndarray:
    """The map's values over region ``label``, in the frame's row-major order: looked up
    within the region's bounding box (``np.bincount`` with weights over the whole frame
    cost ~0.8 ms at 320x240, a chain of dependent adds into one bin). Summed in float64
    one after another (``np.add.accumulate``), they give ``np.bincount``'s mass to the
    bit: the same additions in the same order."""
    x, y, w, h = (int(v) for v in stats[label, :4])
    return heat[y:y + h, x:x + w][labels[y:y + h, x:x + w] == label]
