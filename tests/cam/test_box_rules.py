"""Box rules and component rules on hand-made maps; top-k maps from one pass.

A map as large as the frame is not resampled, so boxes are in map cells exactly.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from oneshot import cams

from camvideo.cam.boxes import boxes_from_cam
from camvideo.cam.methods import cam_method
from camvideo.cam.preprocess import preprocess
from camvideo.models import load_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule, LocalizeSettings

DATA = Path(__file__).resolve().parents[1] / "data"


def boxes(cam, rule):
    cam = np.asarray(cam, np.float32)
    return boxes_from_cam(cam, cam.shape[1], cam.shape[0], rule)


def two_blobs():
    """A 10x12 map: a 3x4 blob of 1.0 at rows 1-3, cols 1-4 and a 2x2 blob of 0.5 at
    rows 6-7, cols 8-9 on a zero background."""
    cam = np.zeros((10, 12), np.float32)
    cam[1:4, 1:5] = 1.0
    cam[6:8, 8:10] = 0.5
    return cam


def test_max_rule_keeps_a_fraction_of_the_maximum():
    cam = two_blobs()
    assert boxes(cam, BoxRule(threshold=0.6)) == [(1, 1, 5, 4)]  # the 0.5 blob is below 0.6 x max
    assert boxes(cam, BoxRule(threshold=0.6, components="all")) == [(1, 1, 5, 4)]
    assert boxes(cam, BoxRule(threshold=0.2, components="all")) == [(1, 1, 5, 4), (8, 6, 10, 8)]


def test_inset_moves_each_side_in_by_a_fraction_of_the_box():
    cam = np.zeros((100, 200), np.float32)
    cam[20:70, 40:140] = 1.0  # a 100x50 region
    assert boxes(cam, BoxRule(max_side=4096)) == [(40, 20, 140, 70)]  # the paper's box
    assert boxes(cam, BoxRule(max_side=4096, inset=0.1)) == [(50, 25, 130, 65)]  # 10 px of 100, 5 of 50
    tiny = np.zeros((10, 10), np.float32)
    tiny[4, 4] = 1.0
    (x1, y1, x2, y2), = boxes(tiny, BoxRule(inset=0.45))
    assert x2 > x1 and y2 > y1  # never inside out
    for bad in (-0.1, 0.5, 1.0):
        with pytest.raises(ValueError, match="inset"):
            BoxRule(inset=bad)


def test_the_presets_inset_and_the_command_line_overrides_it():
    import argparse

    from camvideo.cli.options import add_localize_options, localize_settings_from_args
    from camvideo.presets import BOX_INSET, quality_maps

    assert quality_maps("fast")[1].inset == 0.0  # plain CAM: the paper's box
    assert quality_maps("balanced")[1].inset == quality_maps("best")[1].inset == BOX_INSET > 0
    parser = argparse.ArgumentParser()
    add_localize_options(parser)
    assert localize_settings_from_args(parser.parse_args([])).box_rule.inset == BOX_INSET
    assert localize_settings_from_args(parser.parse_args(["--quality", "fast"])).box_rule.inset == 0.0
    assert localize_settings_from_args(parser.parse_args(["--inset", "0"])).box_rule.inset == 0.0


def test_largest_component_rule():
    cam = two_blobs()
    cam[6:8, 8:10] = 1.0  # as strong as the big blob, but smaller
    assert boxes(cam, BoxRule(threshold=0.2, components="largest")) == [(1, 1, 5, 4)]


def test_all_components_above_min_area():
    cam = two_blobs()
    rule = BoxRule(threshold=0.2, components="all", min_area=5 / 120)  # blobs of 12 and 4 cells
    assert boxes(cam, rule) == [(1, 1, 5, 4)]
    rule = BoxRule(threshold=0.2, components="all", min_area=3 / 120)
    assert boxes(cam, rule) == [(1, 1, 5, 4), (8, 6, 10, 8)]
    # when no region is large enough, the largest is still boxed
    assert boxes(cam, BoxRule(threshold=0.2, components="all", min_area=0.5)) == [(1, 1, 5, 4)]


def test_components_are_eight_connected():
    cam = np.zeros((6, 6), np.float32)
    cam[1, 1] = cam[2, 2] = cam[3, 3] = 1.0  # a diagonal line is one region
    assert boxes(cam, BoxRule(components="all")) == [(1, 1, 4, 4)]


def test_percentile_rule_keeps_the_top_of_the_map():
    cam = np.arange(120, dtype=np.float32).reshape(10, 12)  # larger toward the bottom rows
    assert boxes(cam, BoxRule(method="percentile", threshold=0.9)) == [(0, 9, 12, 10)]  # top 10%: last row
    assert boxes(cam, BoxRule(method="percentile", threshold=0.5)) == [(0, 5, 12, 10)]


def test_otsu_rule_splits_a_bimodal_map():
    rng = np.random.default_rng(0)
    cam = rng.uniform(0.1, 0.3, (10, 12)).astype(np.float32)
    cam[2:6, 3:9] = rng.uniform(0.7, 1.0, (4, 6))
    assert boxes(cam, BoxRule(method="otsu")) == [(3, 2, 9, 6)]
    # 20% of the maximum lets background cells in: a larger box around the blob
    (x1, y1, x2, y2), = boxes(cam, BoxRule(method="max", threshold=0.2))
    assert x1 <= 3 and y1 <= 2 and x2 >= 9 and y2 >= 6 and (x2 - x1) * (y2 - y1) > 24


def test_flat_map_gives_no_box():
    assert boxes(np.full((7, 7), 3.0), BoxRule()) == []
    assert boxes(np.zeros((7, 7)), BoxRule(method="otsu")) == []


def test_boxes_scale_to_the_frame():
    cam = np.zeros((7, 7), np.float32)
    cam[2:5, 3:6] = 1.0
    x1, y1, x2, y2 = boxes_from_cam(cam, 700, 350, BoxRule(threshold=0.5))[0]
    # cells 3..5 of 7 across 700 px = 300..600, rows 2..4 of 7 across 350 px = 100..250 (bilinear blur: +-1 cell)
    assert abs(x1 - 300) <= 50 and abs(x2 - 600) <= 50 and abs(y1 - 100) <= 25 and abs(y2 - 250) <= 25


@pytest.mark.parametrize(
    "kwargs", [dict(method="median"), dict(components="some"), dict(threshold=1.5), dict(min_area=1.0), dict(max_side=4),
               dict(method="mean", threshold=0.0), dict(method="mean", threshold=11.0)]
)
def test_box_rule_is_checked(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        BoxRule(**kwargs)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(2)
    return load_model("lite0")


def test_topk_maps_from_one_pass_equal_single_class_maps(model):
    frames = [cv2.imread(str(DATA / name)) for name in ("chelsea.png", "coffee.png")]
    engine = cam_method(model)
    x = preprocess(frames, model)
    top = cams(engine, x, topk=5)
    for b in range(len(frames)):
        for j, class_id in enumerate(top.class_ids[b].tolist()):
            single = cams(engine, x[b : b + 1], class_ids=[class_id])
            torch.testing.assert_close(top.maps[b, j], single.maps[0, 0], rtol=1e-5, atol=1e-4)
            assert float(single.scores[0, 0]) == pytest.approx(float(top.scores[b, j]), abs=1e-6)
    # and through the localizer: one colour-ready map, box and label per rank
    result = FrameLocalizer(model, LocalizeSettings(topk=3))(frames[:1])[0]
    assert result.map_class_ids == tuple(top.class_ids[0, :3].tolist())
    assert [d.rank for d in result.detections] == [1, 2, 3]
    for j, class_id in enumerate(result.map_class_ids):
        alone = FrameLocalizer(model, LocalizeSettings(class_ids=(class_id,)))(frames[:1])[0]
        np.testing.assert_allclose(result.heatmaps[j], alone.heatmaps[0], atol=1e-5)
        assert result.detections[j].box == alone.detections[0].box
