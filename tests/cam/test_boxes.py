import numpy as np
import pytest

from camvideo.cam.boxes import boxes_from_cam, iou, mask_boxes, normalize, threshold_mask
from camvideo.settings import BoxRule


def blob(h, w, cy, cx, sigma=0.8):
    y, x = np.mgrid[0:h, 0:w]
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_iou_edge_cases():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching
    assert iou((0, 0, 10, 10), (2, 2, 4, 4)) == pytest.approx(4 / 100)  # contained
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0  # empty
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_normalize_flat_map_is_zero():
    assert normalize(np.full((7, 7), 3.0)).max() == 0.0
    m = normalize(np.array([[1.0, 3.0]]))
    assert m.tolist() == [[0.0, 1.0]]


def test_box_maps_back_to_source_pixels_on_a_16_9_frame():
    """A hot region in the right third, lower half of the map lands there in a 1280x720 frame."""
    cam = np.zeros((7, 7), np.float32)
    cam[4:6, 5:7] = 1.0  # columns 5-6, rows 4-5 of 7
    (box,) = boxes_from_cam(cam, 1280, 720, BoxRule(threshold=0.5))
    x1, y1, x2, y2 = box
    # cells 5..6 of 7 -> x in [5/7, 7/7] of 1280 = [914, 1280]; rows 4..5 -> y in [411, 617]
    assert x1 == pytest.approx(914, abs=1280 / 7 * 0.6)
    assert x2 == 1280
    assert y1 == pytest.approx(411, abs=720 / 7 * 0.6)
    assert y2 == pytest.approx(617, abs=720 / 7 * 0.6)
    # and the box from a centered blob is centered whatever the aspect ratio
    (box,) = boxes_from_cam(blob(7, 7, 3, 3), 1280, 720)
    assert (box[0] + box[2]) / 2 == pytest.approx(640, abs=4)
    assert (box[1] + box[3]) / 2 == pytest.approx(360, abs=4)


def test_working_resolution_changes_boxes_by_less_than_a_working_pixel():
    cam = blob(7, 9, 2.5, 6.0, sigma=1.3) + 0.5 * blob(7, 9, 5, 2, sigma=0.9)
    full = boxes_from_cam(cam, 1280, 720, BoxRule(max_side=4096))[0]
    fast = boxes_from_cam(cam, 1280, 720, BoxRule(max_side=320))[0]
    assert max(abs(a - b) for a, b in zip(full, fast)) <= 1280 / 320 + 1


def test_largest_component_versus_all_components():
    cam = np.zeros((10, 10), np.float32)
    cam[1:3, 1:3] = 1.0  # small
    cam[5:9, 4:9] = 0.9  # large
    largest = boxes_from_cam(cam, 100, 100, BoxRule(threshold=0.5, max_side=4096))
    both = boxes_from_cam(cam, 100, 100, BoxRule(threshold=0.5, components="all", max_side=4096))
    assert len(largest) == 1 and len(both) == 2
    assert largest[0] == both[0]  # largest first
    assert largest[0][0] > 30 and largest[0][1] > 40
    # min_area drops the small one
    big_only = boxes_from_cam(cam, 100, 100, BoxRule(threshold=0.5, components="all", min_area=0.1, max_side=4096))
    assert big_only == largest


def test_threshold_rules_on_a_hand_made_map():
    heat = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    assert threshold_mask(heat, BoxRule(threshold=0.5)).sum() == 50
    assert threshold_mask(heat, BoxRule(method="percentile", threshold=0.8)).sum() == 20
    bimodal = np.zeros((10, 10), np.float32)
    bimodal[:, 6:] = 0.9
    bimodal[:, :6] = 0.1
    assert threshold_mask(bimodal, BoxRule(method="otsu")).sum() == 40
    assert threshold_mask(np.zeros((4, 4), np.float32), BoxRule()).sum() == 0


def test_mask_boxes_are_exclusive_corners():
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 3:7] = 1
    assert mask_boxes(mask, BoxRule()) == [(3, 2, 7, 5)]
    assert mask_boxes(np.zeros((8, 8), np.uint8), BoxRule()) == []


@pytest.mark.parametrize(
    "kwargs", [{"method": "median"}, {"components": "two"}, {"threshold": 1.5}, {"min_area": 1.0}, {"max_side": 2},
               {"method": "mean", "threshold": 0.0}]
)
def test_bad_rules_are_rejected(kwargs):
    with pytest.raises(ValueError):
        BoxRule(**kwargs)


def _labelled_boxes(mask):
    """Every 8-connected region's box, by labelling every pixel (the reference)."""
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return sorted((int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in stats[1:count, :4])


def test_single_region_sees_through_holes_and_counts_islands():
    from camvideo.cam.boxes import single_region

    mask = np.zeros((40, 50), np.uint8)
    assert single_region(mask) is False
    mask[5:30, 8:40] = 1
    assert single_region(mask) == (8, 5, 40, 30)
    mask[10:20, 15:30] = 0  # a hole: still one region, the same box
    assert single_region(mask) == (8, 5, 40, 30)
    mask[13:16, 20:24] = 1  # an island inside the hole: two regions
    assert single_region(mask) is None
    mask[13:16, 20:24] = 0
    mask[35, 45] = 1  # a second region outside
    assert single_region(mask) is None
    mask[35, 45] = 0
    mask[30, 40] = 1  # touching the first by a corner: 8-connected, one region
    assert single_region(mask) == (8, 5, 41, 31)


def test_single_region_agrees_with_the_labelling_on_random_masks():
    import cv2

    from camvideo.cam.boxes import single_region

    rng = np.random.default_rng(7)
    seen = {"one": 0, "several": 0}
    for _ in range(300):
        small = rng.random((rng.integers(3, 9), rng.integers(3, 9))).astype(np.float32)
        heat = cv2.resize(small, (64, 48), interpolation=cv2.INTER_LINEAR)
        mask = (heat >= rng.uniform(0.2, 0.8) * heat.max()).astype(np.uint8)
        reference = _labelled_boxes(mask)
        found = single_region(mask)
        if len(reference) == 1:
            assert found == reference[0]
            seen["one"] += 1
        else:
            assert found is None
            seen["several"] += 1
    assert seen["one"] > 20 and seen["several"] > 20  # both paths were exercised
