"""The moving region against the camera's motion: a box fitted to an object that moves
across a still or panning background where the map's box holds it; the map's box kept
when nothing moves, after a cut, or where the motion disagrees with the map."""

from __future__ import annotations

import cv2
import numpy as np

from camvideo.cam.extent import MovingExtent, moving_box
from camvideo.cam.motion import MotionEstimator, thumbnail

SIZE = (640, 480)


def _scene(step: int, pan: int = 0, speed: int = 12) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A textured background (moved left by ``pan`` px a frame) and a textured
    120x90 object moving right by ``speed`` px a frame: the frame and the object's box."""
    rng = np.random.default_rng(3)
    back = cv2.GaussianBlur(rng.integers(0, 255, (600, 1100, 3), dtype=np.uint8), (0, 0), 3)
    back = cv2.normalize(back, None, 0, 255, cv2.NORM_MINMAX)
    obj = cv2.GaussianBlur(np.random.default_rng(5).integers(0, 255, (90, 120, 3), dtype=np.uint8), (0, 0), 2)
    obj = cv2.normalize(obj, None, 0, 255, cv2.NORM_MINMAX)
    x0 = step * pan
    frame = back[60:540, x0:x0 + 640].copy()
    ox, oy = 100 + step * speed, 200
    frame[oy:oy + 90, ox:ox + 120] = obj
    return frame, (ox, oy, ox + 120, oy + 90)


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _run(frames: int, pan: int, speed: int, map_box) -> list[tuple]:
    """The boxes a class's map box ``map_box(truth)`` becomes, frame by frame, with the truth."""
    estimator, extent, out = MotionEstimator(), MovingExtent(), []
    for step in range(frames):
        frame, truth = _scene(step, pan, speed)
        thumb = thumbnail(frame)
        motion = estimator(thumb)
        boxes = extent.apply({7: [map_box(truth)]}, SIZE, thumb, motion)
        out.append((boxes[7][0], truth))
    return out


def _wide(truth):
    """A map's box: twice the object's size around it (4x its area), inside the frame."""
    x1, y1, x2, y2 = truth
    w, h = x2 - x1, y2 - y1
    return max(0, x1 - w // 2), max(0, y1 - h // 2), min(640, x2 + w // 2), min(480, y2 + h // 2)


def test_an_object_moving_on_a_still_background_gets_a_box_near_its_own():
    runs = _run(12, pan=0, speed=12, map_box=_wide)
    later = runs[4:]
    assert all(_iou(box, truth) > 0.7 for box, truth in later), [(b, t) for b, t in later]
    assert _iou(*runs[0]) < 0.3  # the first frame: nothing to compare with, the map's box


def test_an_object_moving_while_the_camera_pans_gets_a_box_near_its_own():
    runs = _run(12, pan=8, speed=12, map_box=_wide)
    assert sum(_iou(box, truth) > 0.6 for box, truth in runs[4:]) >= 6


def test_nothing_moving_keeps_the_maps_box_and_a_cut_drops_the_fit():
    runs = _run(6, pan=0, speed=0, map_box=_wide)
    assert all(box == _wide(truth) for box, truth in runs)
    extent, estimator = MovingExtent(), MotionEstimator()
    for step in range(4):
        frame, truth = _scene(step)
        thumb = thumbnail(frame)
        boxes = extent.apply({7: [_wide(truth)]}, SIZE, thumb, estimator(thumb), cut=step == 3)
    assert boxes[7][0] == _wide(truth)  # the cut frame


def test_a_moving_region_outside_the_maps_box_is_not_taken():
    runs = _run(8, pan=0, speed=12, map_box=lambda truth: (400, 0, 640, 150))  # the map points elsewhere
    assert all(box == (400, 0, 640, 150) for box, _ in runs)
    assert moving_box(np.zeros((120, 160), np.uint8), (0, 0, 640, 480), SIZE) is None
