"""Map inputs beyond the squashed square (MapSettings, camvideo.cam.multiscale) and the
quality presets: input sizes, the real model at other sizes through FrameLocalizer
(images and smoothed video), flip averaging, the mean box rule, the presets' settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from camvideo.cam.boxes import boxes_from_cam, iou
from camvideo.cam.multiscale import ScaledPasses, class_input_size, map_input_size
from camvideo.presets import DEFAULT_QUALITY, QUALITY_PRESETS, quality_settings
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings, SmoothingSettings

DATA = Path(__file__).resolve().parents[1] / "data"
CAT_BOX = (0, 0, 400, 300)  # tests/data/manifest.json


@pytest.fixture(scope="module")
def model():
    from camvideo.models import load_model

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_model("lite0", device="cpu")


@pytest.fixture(scope="module")
def cat():
    return cv2.imread(str(DATA / "chelsea.png"), cv2.IMREAD_COLOR)


def test_input_sizes_keep_the_aspect_within_the_pixel_budget():
    aspect = MapSettings(input="aspect")
    assert class_input_size(640, 480, (224, 224), MapSettings()) == (224, 224)
    assert class_input_size(640, 480, (224, 224), aspect) == (224, 288)  # 4:3, 1.29x the pixels
    assert class_input_size(1280, 720, (224, 224), aspect) == (192, 320)  # 16:9 within 1.3x: a shorter side
    assert class_input_size(480, 640, (224, 224), aspect) == (288, 224)  # portrait
    assert class_input_size(500, 500, (224, 224), aspect) == (224, 224)
    for w, h in ((640, 480), (1280, 720), (451, 300), (300, 451), (1000, 200)):
        hh, ww = class_input_size(w, h, (224, 224), aspect)
        assert hh % 32 == 0 and ww % 32 == 0 and hh * ww <= 1.3 * 224 * 224
    assert map_input_size(640, 480, 288) == (288, 384) and map_input_size(480, 640, 288) == (384, 288)
    with pytest.raises(ValueError, match="frame size"):
        class_input_size(0, 480, (224, 224), aspect)


def test_map_settings_are_checked_where_they_are_made():
    with pytest.raises(ValueError, match="input"):
        MapSettings(input="crop")
    with pytest.raises(ValueError, match="map_side"):
        MapSettings(map_side=8)
    with pytest.raises(ValueError, match="max_pixels"):
        MapSettings(max_pixels=9.0)
    with pytest.raises(TypeError, match="flip"):
        MapSettings(flip=1)
    with pytest.raises(ValueError, match="combine needs a second pass"):
        MapSettings(combine=True)
    assert MapSettings().plain and not MapSettings(flip=True).plain
    with pytest.raises(ValueError, match="mean"):
        BoxRule(method="mean", threshold=0.0)
    assert BoxRule(method="mean", threshold=1.5).threshold == 1.5


def test_the_mean_rule_keeps_what_is_above_the_maps_average():
    cam = np.zeros((7, 7), np.float32)
    cam[2:5, 2:5] = 1.0
    cam[0, 0] = 0.3  # above the mean (0.19 + ...) but below half of the maximum
    low = boxes_from_cam(cam, 70, 70, BoxRule(method="mean", threshold=1.0, components="all"))
    high = boxes_from_cam(cam, 70, 70, BoxRule(method="max", threshold=0.5, components="all"))
    assert len(low) == 2 and len(high) == 1
    assert iou(high[0], (20, 20, 50, 50)) > 0.7


def test_flip_averaging_gives_mirror_symmetric_features(model, cat):
    from camvideo.cam.methods import ExactCam

    passes = ScaledPasses(ExactCam(model))
    settings = LocalizeSettings(maps=MapSettings(input="aspect", flip=True))  # 224x288 for the cat's 4:3
    with torch.inference_mode():
        f = passes.evidence([cat], settings)[0].features
        g = passes.evidence([np.ascontiguousarray(cat[:, ::-1])], settings)[0].features
    assert f.shape == (1280, 7, 9)
    assert torch.allclose(f, g.flip(2), atol=1e-4)


def test_aspect_and_two_scales_localize_the_cat_as_images(model, cat):
    for maps in (MapSettings(input="aspect"), MapSettings(input="aspect", map_side=288), MapSettings(flip=True),
                 MapSettings(input="aspect", map_side=288, combine=True)):
        # the paper's box: the map inputs are under test, not the presets' inset
        loc = FrameLocalizer(model, LocalizeSettings(maps=maps, topk=2, box_rule=BoxRule()))
        r = loc([cat, cat[:, :300]])  # two sizes in one batch
        top = r[0].detections[0]
        assert 281 <= top.class_id <= 285 and iou(top.box, CAT_BOX) > 0.8, maps
        assert len(r[0].heatmaps) == 2 and r[1].width == 300
        expected = (9, 14) if maps.map_side else ((7, 7) if maps.input == "squash" else (7, 9))
        assert r[0].heatmaps.shape[1:] == expected
        if maps.combine:  # the mean of two normalized maps: in [0, 1], both passes' peaks near the cat
            assert 0.0 <= r[0].heatmaps.min() and r[0].heatmaps.max() <= 1.0


def test_two_scales_follow_a_moving_cat_on_smoothed_video(model, cat):
    settings = LocalizeSettings(maps=MapSettings(input="aspect", map_side=288, combine=True), smoothing=SmoothingSettings())
    loc = FrameLocalizer(model, settings)
    canvas = np.full((360, 640, 3), 90, np.uint8)
    boxes = []
    for k in range(6):  # the cat slides right by 12 px a frame
        frame = canvas.copy()
        x = 60 + 12 * k
        frame[30:330, x : x + 451] = cat[:, : min(451, 640 - x)] if x + 451 <= 640 else cat[:, : 640 - x]
        r = loc([frame])[0]
        boxes.append(r.detections[0].box)
        assert 281 <= r.detections[0].class_id <= 285
    assert boxes[-1][0] > boxes[0][0]  # the box moved with the cat


def test_presets_are_named_settings_that_keep_the_rest():
    base = LocalizeSettings(topk=3, smoothing=SmoothingSettings(), box_rule=BoxRule(components="all", min_area=0.05))
    assert DEFAULT_QUALITY in QUALITY_PRESETS
    for name in QUALITY_PRESETS:
        s = quality_settings(name, base)
        assert s.topk == 3 and s.smoothing == base.smoothing
        assert s.box_rule.components == "all" and s.box_rule.min_area == 0.05
    assert quality_settings("fast").maps.plain
    assert quality_settings("best").maps.map_side is not None
    assert dataclasses.replace(quality_settings(DEFAULT_QUALITY), topk=1).maps == LocalizeSettings().maps
    with pytest.raises(ValueError, match="quality"):
        quality_settings("ultra")


def test_a_smoothed_stream_whose_frame_size_changes_starts_afresh(model, cat):
    # An aspect-kept input gives maps of another shape when the frame size changes
    # (another source without a reset): the smoother takes it as a cut.
    loc = FrameLocalizer(model, LocalizeSettings(smoothing=SmoothingSettings()))
    first = loc([cat])[0]
    second = loc([np.ascontiguousarray(cat[:, :200])])[0]
    assert first.heatmaps.shape[1:] == (7, 9) and second.heatmaps.shape[1:] == (9, 7)
    x1, y1, x2, y2 = second.detections[0].box
    assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 300


def test_a_one_frame_batch_gives_what_that_frame_gets_in_a_batch_of_mixed_sizes(model, cat):
    """A file's batch (one frame) takes the short way; the same features and
    probabilities as in a batch of frames of two sizes (grouped by size)."""
    from camvideo.cam import multiscale
    from camvideo.cam.methods import cam_method

    passes = ScaledPasses(cam_method(model))
    settings = quality_settings("best", LocalizeSettings(topk=2))
    wide = cv2.resize(cat, (320, 180), interpolation=cv2.INTER_AREA)
    with torch.inference_mode():
        (alone,) = passes.evidence([cat], settings)
        mixed = passes.evidence([wide, cat, wide], settings)
    torch.testing.assert_close(alone.features, mixed[1].features)
    torch.testing.assert_close(alone.probs, mixed[1].probs)
    torch.testing.assert_close(alone.first.features, mixed[1].first.features)
    for w, h in ((640, 480), (320, 180), (480, 640)):  # the sizes kept for a stream are the functions' own
        assert multiscale._class_size(w, h, (224, 224), settings.maps) == class_input_size(w, h, (224, 224),
                                                                                            settings.maps)
        assert multiscale._map_size(w, h, 288) == map_input_size(w, h, 288)
    assert multiscale._PLAIN == MapSettings() and MapSettings().plain
