"""Boxes per region of a class map: the paper's box first, the other regions ranked by
their evidence, faint and tiny regions left out."""

from __future__ import annotations

import numpy as np
import pytest

from camvideo.cam.boxes import boxes_from_cam
from camvideo.cam.regions import region_boxes
from camvideo.settings import BoxRule


def _map(*blobs) -> np.ndarray:
    """A 14x18 map with Gaussian blobs (row, col, peak, sigma)."""
    yy, xx = np.mgrid[0:14, 0:18].astype(np.float32)
    cam = np.zeros((14, 18), np.float32)
    for r, c, peak, sigma in blobs:
        cam += peak * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma ** 2))
    return cam


@pytest.mark.parametrize("rule", [BoxRule(), BoxRule(inset=0.04)])
def test_two_objects_give_two_boxes_the_papers_box_first(rule):
    cam = _map((4, 4, 1.0, 1.2), (9, 13, 0.9, 2.0))  # a small strong blob, a larger weaker one
    boxes = region_boxes(cam, 640, 480, rule)
    assert len(boxes) == 2
    assert boxes[0] == boxes_from_cam(cam, 640, 480, rule)[0]  # the largest region: the paper's box
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = boxes
    assert bx2 < ax1 or ax2 < bx1 or by2 < ay1 or ay2 < by1  # apart
    assert (bx2 - bx1) * (by2 - by1) < (ax2 - ax1) * (ay2 - ay1)
    assert bx1 < 640 / 2 and by1 < 480 / 2  # the strong small blob, top left


def test_one_object_gives_the_papers_box_alone():
    cam = _map((7, 9, 1.0, 2.5))
    assert region_boxes(cam, 320, 240) == boxes_from_cam(cam, 320, 240)


def test_faint_and_tiny_regions_are_left_out_and_the_rest_ranked_by_evidence():
    cam = _map((7, 4, 1.0, 1.5), (7, 10, 0.6, 1.0), (7, 15, 0.3, 1.5))
    boxes = region_boxes(cam, 360, 280)
    assert len(boxes) == 2  # the third's peak is below half the maximum
    assert len(region_boxes(cam, 360, 280, least_peak=0.25)) == 3
    assert len(region_boxes(cam, 360, 280, most=1)) == 1
    assert region_boxes(np.zeros((7, 7)), 100, 100) == []


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="frame size"):
        region_boxes(_map((3, 3, 1, 1)), 0, 10)
    with pytest.raises(ValueError, match="most"):
        region_boxes(_map((3, 3, 1, 1)), 10, 10, most=0)


def test_one_region_with_a_hole_gives_its_box_alone():
    # A ring: one region with a hole in the middle; the labelling and the border
    # following agree, and the box is the ring's.
    cam = np.ones((9, 9), np.float32)
    cam[3:6, 3:6] = 0.0
    cam[0, :] = cam[-1, :] = cam[:, 0] = cam[:, -1] = 0.0
    rule = BoxRule(threshold=0.5)
    boxes = region_boxes(cam, 90, 90, rule)
    assert len(boxes) == 1
    assert boxes == boxes_from_cam(cam, 90, 90, rule)


def _ranked_by_bincount(heat, mask, least_peak, least_area, most):
    """The regions' ranking as it was written first (labels and masses over the whole
    frame): the reference ``_ranked`` must match to the box."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    areas = stats[:, cv2.CC_STAT_AREA]
    largest = 1 + int(np.argmax(areas[1:]))
    mass = np.bincount(labels.ravel(), weights=heat.ravel(), minlength=count)
    level = least_peak * float(heat.max())
    others = []
    for i in np.argsort(-mass[1:]) + 1:
        if len(others) == most - 1:
            break
        if int(i) != largest and areas[i] >= least_area and float(heat[labels == i].max()) >= level:
            others.append(int(i))
    return [(int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 0] + stats[i, 2]), int(stats[i, 1] + stats[i, 3]))
            for i in [largest, *others]]


@pytest.mark.parametrize("size", [(240, 320), (37, 53), (600, 800)])
def test_the_ranking_matches_whole_frame_labelling_and_masses(size):
    import cv2

    from camvideo.cam.boxes import normalize, threshold_mask, upsample
    from camvideo.cam.regions import _ranked

    rng = np.random.default_rng(11)
    height, width = size
    several = 0
    for trial in range(40):
        cam = rng.random((7, 9)).astype(np.float32) ** 3  # spiky maps: several regions, holes
        heat = upsample(normalize(cam), width, height)
        mask = threshold_mask(heat, BoxRule(threshold=float(rng.uniform(0.1, 0.5))))
        least_area = float(rng.choice([0.0, 0.002])) * width * height
        got = _ranked(heat, mask, 0.5 if trial % 2 else 0.0, least_area, 5)
        assert got == _ranked_by_bincount(heat, mask, 0.5 if trial % 2 else 0.0, least_area, 5)
        several += len(got) > 1
    assert several >= 5  # the ranking itself was compared, not just the largest region
    # and the masses to the bit: float64 sums in the frame's order
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    from camvideo.cam.regions import _region_values

    whole = np.bincount(labels.ravel(), weights=heat.ravel(), minlength=count)
    for label in range(1, count):
        assert np.add.accumulate(_region_values(heat, labels, stats, label), dtype=np.float64)[-1] == whole[label]


@pytest.mark.parametrize("size", [(240, 320), (37, 53), (5, 7)])
def test_labelled_gives_opencvs_labels_and_statistics(size):
    import cv2

    from camvideo.cam.boxes import outer_contours
    from camvideo.cam.regions import _labelled

    rng = np.random.default_rng(5)
    height, width = size
    for trial in range(30):  # noise of every density: many regions, holes, regions in holes, the borders
        mask = (rng.random((height, width)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
        if trial % 3 == 0:
            mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        count, labels, stats = _labelled(mask, outer_contours(mask))
        want_count, want_labels, want_stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        assert count == want_count
        assert (labels == want_labels).all()
        assert (stats[1:] == want_stats[1:]).all()  # the background's row is not used


def test_a_map_normalized_already_gives_the_same_boxes():
    from camvideo.cam.boxes import normalize

    rng = np.random.default_rng(11)
    for _ in range(20):
        cam = rng.standard_normal((7, 9)).astype(np.float32)
        assert np.array_equal(normalize(normalize(cam)), normalize(cam))  # what normalized=True relies on
        assert region_boxes(normalize(cam), 640, 480, normalized=True) == region_boxes(cam, 640, 480)
