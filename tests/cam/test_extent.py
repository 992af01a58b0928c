"""The moving region against the camera's motion: a box fitted to an object that moves
across a still or panning background where the map's box holds it; the map's box kept
when nothing moves, after a cut, or where the motion disagrees with the map."""

from __future__ import annotations

import cv2
import numpy as np

from camvideo.cam.extent import (
    INSIDE,
    LARGER,
    LEAST,
    PAD,
    SMALLER,
    SPECKS,
    MovingExtent,
    MovingRegions,
    followed,
    moving_box,
)
from camvideo.cam.motion import Motion, MotionEstimator, thumbnail

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


def _moving_box_by_pixels(mask, box, size):
    """``moving_box`` pixel by pixel: the regions mostly inside the box, their pixels' box."""
    mh, mw = mask.shape
    sx, sy = mw / size[0], mh / size[1]
    x1, y1 = int(np.floor(box[0] * sx)), int(np.floor(box[1] * sy))
    x2, y2 = int(np.ceil(box[2] * sx)), int(np.ceil(box[3] * sy))
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    areas = np.bincount(labels.ravel(), minlength=count)
    inside = np.bincount(labels[y1:y2, x1:x2].ravel(), minlength=count)
    kept = [k for k in range(1, count) if inside[k] >= 0.5 * areas[k]]
    moving = sum(areas[k] for k in kept)
    if moving == 0 or moving < LEAST * mw * mh or moving < INSIDE * areas[1:].sum():
        return None
    ys, xs = np.nonzero(np.isin(labels, kept))
    fitted = (xs.min() / sx, ys.min() / sy, (xs.max() + 1) / sx, (ys.max() + 1) / sy)
    if (fitted[2] - fitted[0]) * (fitted[3] - fitted[1]) > SMALLER * (box[2] - box[0]) * (box[3] - box[1]):
        return None
    return fitted


def test_the_regions_labelled_once_give_each_box_what_its_pixels_give():
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(40):
        mask = np.zeros((120, 160), np.uint8)
        for _ in range(rng.integers(1, 6)):  # a few blobs
            x, y = rng.integers(0, 150), rng.integers(0, 110)
            mask[y:y + rng.integers(2, 30), x:x + rng.integers(2, 40)] = 1
        regions = MovingRegions(mask)
        for _ in range(5):  # several classes' boxes on one labelling
            x1, y1 = int(rng.integers(0, 500)), int(rng.integers(0, 380))
            box = (x1, y1, x1 + int(rng.integers(20, 640 - x1 + 1)), y1 + int(rng.integers(20, 480 - y1 + 1)))
            want = _moving_box_by_pixels(mask, box, SIZE)
            assert regions.box(box, SIZE) == want == moving_box(mask, box, SIZE)
            found += want is not None
    assert found >= 10  # boxes fitted, not only refused


def test_a_fit_that_follows_the_object_boxes_the_corners_that_move_with_it():
    # The picture's motion measured is the object's (it holds nearly every corner: a
    # sharp object over a soft background), so what moved against it is the background.
    rng = np.random.default_rng(1)
    shift = np.array([[1.0, 0.0, 0.03], [0.0, 1.0, 0.0]])  # 0.03 of the width: 4.8 thumbnail px
    on = rng.uniform([0.4, 0.4], [0.6, 0.6], (30, 2))  # the object: 256..384 x 192..288 px
    off = rng.uniform(0.0, 1.0, (3, 2))
    before = np.vstack([on, off])
    after = np.vstack([on + [0.03, 0.0], off - [0.02, 0.0]])  # the background's few went the other way
    motion = Motion(shift, before, after)
    streaming = np.zeros((120, 160), np.uint8)
    streaming[:, 5:8] = streaming[:, 140:143] = streaming[100:103, :] = 1  # edges of the background
    wide = (160, 120, 480, 360)
    box = followed(motion, wide, SIZE, MovingRegions(streaming))
    pad = PAD * 4  # thumbnail pixels of a 160x120 thumbnail -> 640x480
    truth = (on[:, 0].min() * 640 + 19.2 - pad, on[:, 1].min() * 480 - pad,  # where the corners went, padded
             on[:, 0].max() * 640 + 19.2 + pad, on[:, 1].max() * 480 + pad)
    assert box is not None and _iou(box, truth) > 0.8, (box, truth)
    assert followed(motion, wide, SIZE, MovingRegions(np.zeros_like(streaming))) is None  # nothing streamed past
    inside = np.zeros_like(streaming)
    inside[40:80, 60:100] = 1  # what moved lies in the map's box: the ordinary fit's case
    assert followed(motion, wide, SIZE, MovingRegions(inside)) is None
    still = Motion(np.array([[1.0, 0.0, 0.001], [0.0, 1.0, 0.0]]), before, before + [0.001, 0.0])
    assert followed(still, wide, SIZE, MovingRegions(streaming)) is None  # a camera that hardly moved
    elsewhere = (0, 0, 200, 150)  # the map's box holds few of the corners
    assert followed(motion, elsewhere, SIZE, MovingRegions(streaming)) is None


def test_specks_in_a_panning_picture_are_not_a_fit_but_a_real_object_is():
    # A pan (0.03 of the width a frame) whose moving mask holds a 2x2 speck in the map's
    # box: under LARGER of the box's area, the map's box is kept; a still picture fits it.
    before = np.random.default_rng(2).uniform(0.0, 1.0, (40, 2))
    panning = Motion(np.array([[1.0, 0.0, 0.03], [0.0, 1.0, 0.0]]), before, before + [0.03, 0.0])
    still = Motion(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), before, before)
    speck = np.zeros((120, 160), np.uint8)
    speck[50:57, 70:77] = 1  # 7x7 thumbnail px: 28x28 px, 0.01 of the 320x240 box
    box = (160, 120, 480, 360)
    assert MovingExtent()._fit(7, box, MovingRegions(speck), SIZE, panning) is None
    assert MovingExtent()._fit(7, box, MovingRegions(speck), SIZE, still) == (280, 200, 308, 228)
    blob = np.zeros_like(speck)
    blob[40:70, 60:100] = 1  # 0.2 of the box: an object, fitted while panning too
    assert MovingExtent()._fit(7, box, MovingRegions(blob), SIZE, panning) == (240, 160, 400, 280)


def test_a_small_object_in_a_panning_picture_is_fitted_though_the_maps_box_is_far_larger():
    # The map's box spreads over most of the frame (a small object's 7x9 map: 20x its
    # area on the development set's panning clip): the object's moving pixels fill a box
    # under LARGER of it, yet they are many more than a speck's (SPECKS), so it is a fit.
    before = np.random.default_rng(2).uniform(0.0, 1.0, (40, 2))
    panning = Motion(np.array([[1.0, 0.0, 0.03], [0.0, 1.0, 0.0]]), before, before + [0.03, 0.0])
    small = np.zeros((120, 160), np.uint8)
    small[50:65, 70:90] = 1  # 20x15 thumbnail px (300 px: 0.016 of the picture): 80x60 px
    box = (0, 0, 640, 480)
    assert 300 > SPECKS * small.size and 20 * 15 < LARGER * 160 * 120
    assert MovingExtent()._fit(7, box, MovingRegions(small), SIZE, panning) == (280, 200, 360, 260)
    strip = np.zeros_like(small)
    strip[10:110, 0:3] = 1  # as many pixels, in a strip 3 thumbnail px wide at the edge: the warp's, not taken
    assert MovingExtent()._fit(7, box, MovingRegions(strip), SIZE, panning) is None


def _centre_lag(runs) -> float:
    """The mean distance (px) between the fitted box's centre and the object's, frames 4 on."""
    return float(np.mean([np.hypot((b[0] + b[2] - t[0] - t[2]) / 2, (b[1] + b[3] - t[1] - t[3]) / 2)
                          for b, t in runs[4:]]))


def test_the_averaged_box_moves_as_far_as_the_fit_and_does_not_trail_a_fast_object():
    # 30 px a frame: the averaged box, carried as the fit moved, stays on the object (5 px
    # off); moved by nothing (a still camera) or by the flow inside its old box, it trailed
    # 27 and 34 px behind, under IoU 0.7 on every frame.
    for pan in (0, 8):
        runs = _run(10, pan=pan, speed=30, map_box=_wide)
        assert _centre_lag(runs) < 10, (pan, runs)
        assert sum(_iou(box, truth) > 0.7 for box, truth in runs[4:]) >= 5, (pan, runs)


def test_a_fit_far_larger_than_the_averaged_box_is_not_taken():
    # A fit held at the object's box; the next frame's moving regions join the background's
    # (JUMP times the held box's area or more): the held box, carried, stays the answer.
    before = np.random.default_rng(2).uniform(0.0, 1.0, (40, 2))
    still = Motion(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), before, before)
    box = (0, 0, 640, 480)
    blob = np.zeros((120, 160), np.uint8)
    blob[40:60, 60:80] = 1  # 80x80 px
    extent = MovingExtent()
    assert extent._fit(7, box, MovingRegions(blob), SIZE, still) == (240, 160, 320, 240)
    joined = blob.copy()
    joined[20:100, 20:140] = 1  # the background's edges: 480x320 px, 24x the held box
    assert extent._fit(7, box, MovingRegions(joined), SIZE, still) == (240, 160, 320, 240)
    assert MovingExtent()._fit(7, box, MovingRegions(joined), SIZE, still) == (80, 80, 560, 400)  # nothing held


def test_regions_are_labelled_only_when_enough_moved_for_a_fit():
    few = np.zeros((120, 160), np.uint8)
    few[10:13, 10:13] = 1  # 9 pixels: under LEAST of the picture, no box can be fitted
    regions = MovingRegions(few)
    assert regions.total == 9 and regions.box((0, 0, 640, 480), SIZE) is None
    assert "_regions" not in vars(regions)  # never labelled
    many = np.zeros((120, 160), np.uint8)
    many[20:40, 30:60] = 1
    many[80:90, 100:110] = 1
    regions = MovingRegions(many)
    count, _, areas, *_ = regions._regions
    assert regions.total == int(areas[1:].sum()) == 700 and count == 3


def test_the_pan_in_floats_is_the_arrays_figure():
    from camvideo.cam.extent import _panned

    rng = np.random.default_rng(2)
    corners = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    for _ in range(500):
        angle, scale = rng.normal(0.0, 0.05), 1.0 + rng.normal(0.0, 0.05)
        linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        transform = np.hstack([linear, rng.normal(0.0, 0.02, (2, 1))])
        shift = np.abs((transform[:, :2] - np.eye(2)) @ corners + transform[:, 2:]) * np.array([[160.0], [120.0]])
        assert _panned(transform, 160, 120) == float(shift.max())


def test_with_least_a_picture_where_little_moved_skips_the_clean_up_and_fits_the_same():
    estimator, plain, quick, taken = MotionEstimator(), MovingExtent(), MovingExtent(), []
    for step in range(5):
        frame, _ = _scene(step, pan=5, speed=0 if step < 3 else 12)  # nothing moves against the pan, then it does
        thumb = thumbnail(frame)
        motion = estimator(thumb)
        full, short = plain.moving(thumb, motion), quick.moving(thumb, motion, least=LEAST)
        if full is None:
            assert short is None
            continue
        area = full.shape[0] * full.shape[1]
        quick_way = 4 * cv2.countNonZero(short) < LEAST * area
        taken.append(quick_way)
        if quick_way:  # the raw difference, under LEAST as the cleaned mask is: no fit either way
            assert cv2.countNonZero(full) < LEAST * area
        else:  # enough moved: the cleaned mask itself
            assert np.array_equal(full, short)
    assert any(taken) and not all(taken)  # both ways were taken


def test_a_still_picture_where_little_moved_is_compared_unwarped(monkeypatch):
    """In a picture that stood still (``Motion.still``) the raw difference is taken
    unwarped when it holds under an eighth of ``least``: no warp; where an object moves,
    the mask is the warped one, as without ``least``."""
    import camvideo.cam.extent as extent_module

    warps = []
    warp = cv2.warpAffine
    monkeypatch.setattr(extent_module.cv2, "warpAffine", lambda *a, **k: warps.append(1) or warp(*a, **k))
    for speed, unwarped in ((0, True), (12, False)):
        estimator, quick, plain = MotionEstimator(), MovingExtent(), MovingExtent()
        for index in range(3):
            thumb = thumbnail(_scene(index, pan=0, speed=speed)[0])
            motion = estimator(thumb)
            warps.clear()
            short = quick.moving(thumb, motion, least=LEAST)
            if motion is None:
                plain.moving(thumb, motion)
                continue
            assert motion.still and (not warps) == unwarped
            full = plain.moving(thumb, motion)
            if unwarped:
                assert cv2.countNonZero(short) == 0 and cv2.countNonZero(full) == 0
            else:
                assert np.array_equal(short, full) and cv2.countNonZero(full) >= LEAST * full.size
