"""The photos' analysis (camvideo.cam.still) on real photos with the real weights."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from camvideo.cam.boxes import iou
from camvideo.cam.still import StillAnalysis, still_analysis
from camvideo.cam.zoom import zoom_window
from camvideo.presets import StillSettings, quality_settings, still_settings
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule, LocalizeSettings
from camvideo.video.sources import read_image

DEVSET = Path(__file__).resolve().parents[1] / "data" / "devset"
SPLIT_ONLY = StillSettings(class_models=(), mirror=False, level=None, zoom_below=None)  # the finer pass alone


def truth(name: str) -> list:
    images = json.loads((DEVSET / "manifest.json").read_text())["images"]
    return next(i["boxes"] for i in images if i["file"] == name)


@pytest.fixture(scope="module")
def balanced(lite0):
    return FrameLocalizer(lite0, quality_settings("balanced"))


def test_four_chickens_get_one_box_each_instead_of_one_around_all(lite0, balanced):
    image = read_image(DEVSET / "farm_chicken.jpg")
    coarse = balanced([image])[0].detections[0]
    fine = StillAnalysis(balanced.method, SPLIT_ONLY)(balanced, image).detections[0]
    assert fine.class_id == coarse.class_id and fine.score == pytest.approx(coarse.score)
    assert max(iou(coarse.box, t) for t in truth("farm_chicken.jpg")) < 0.5  # the default's box spans the flock
    assert len(fine.regions) >= 2 and fine.regions[0] == fine.box
    assert max(iou(fine.box, t) for t in truth("farm_chicken.jpg")) >= 0.5
    hits = {max(range(4), key=lambda k, r=r: iou(r, truth("farm_chicken.jpg")[k])) for r in fine.regions}
    assert len(hits) >= 2  # the listed regions lie on different birds


def test_a_large_region_with_a_small_one_beside_it_is_not_split(lite0, balanced):
    # Tower Bridge (one true box, the whole bridge): the 448 map of its true class
    # thresholds into a large region and one under half its area (a tower): one
    # object's parts, so the coarse box stays; every split kept (session 13's rule)
    # boxes the large region alone
    image = read_image(DEVSET / "details_tower_bridge.jpg")
    height, width = image.shape[:2]
    strict = StillAnalysis(balanced.method, SPLIT_ONLY)
    loose = StillAnalysis(balanced.method, dataclasses.replace(SPLIT_ONLY, split_similar=0.0))
    fine, rule = strict.fine(image), BoxRule(inset=0.04)
    regions = loose.split(fine, 839, width, height, rule)  # 839: suspension bridge
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert len(regions) >= 2 and area(regions[1]) < 0.5 * area(regions[0])
    assert strict.split(fine, 839, width, height, rule) == []
    assert max(iou(regions[0], t) for t in truth("details_tower_bridge.jpg")) < 0.5


def test_one_object_keeps_the_coarse_box(lite0, balanced, photo):
    image = photo("chelsea")
    coarse = balanced([image])[0].detections[0]
    fine = StillAnalysis(balanced.method, SPLIT_ONLY)(balanced, image).detections[0]
    assert (fine.class_id, fine.box, fine.regions) == (coarse.class_id, coarse.box, coarse.regions)


def test_the_classes_are_the_mean_of_lite0_lite1_and_lite2(lite0, balanced, photo):
    still = still_analysis(lite0, StillSettings(class_models=("lite1", "lite2"), split_side=None, mirror=False,
                                                level=None))  # session 13's class mean (none by default now)
    assert [m.model.name for m in (p.method for p in still._classes)] == ["lite1", "lite2"]
    image = photo("coffee")
    own = balanced.forward([image])[0]
    mixed = still.classes(image, own)
    others = [p.evidence([image], LocalizeSettings(maps=own.settings.maps))[0].probs for p in still._classes]
    assert torch.allclose(mixed.probs, (own.probs + others[0] + others[1]) / 3, atol=1e-6)
    assert mixed.probs.sum().item() == pytest.approx(1.0, abs=1e-4)
    assert int(mixed.probs.argmax()) in (967, 968)  # espresso or cup
    result = still(balanced, image)
    assert result.detections[0].score == pytest.approx(float(mixed.probs.max()), abs=1e-5)


def test_the_coarse_box_comes_from_the_mirror_averaged_map_at_its_level(lite0, balanced, photo):
    image = photo("coffee")
    own = balanced.forward([image])[0]
    still = StillAnalysis(balanced.method, StillSettings(class_models=(), split_side=None, mirror=True, level=None))
    both = still.mirrored(image, own)
    assert torch.equal(both.probs, own.probs)  # the classes stay the unmirrored pass's
    assert both.features.shape == own.features.shape and not torch.allclose(both.features, own.features)
    # a photo and its mirror averaged: the mirrored photo gives the mirrored features
    other = still.mirrored(image[:, ::-1].copy(), balanced.forward([image[:, ::-1].copy()])[0])
    assert torch.allclose(other.features, torch.flip(both.features, [2]), atol=1e-4)
    box = still(balanced, image).detections[0].box
    assert iou(box, truth_of_coffee()) >= 0.5
    tighter = StillAnalysis(balanced.method, dataclasses.replace(still.settings, level=0.4))(balanced, image)
    x1, y1, x2, y2 = tighter.detections[0].box
    assert (x2 - x1) * (y2 - y1) < (box[2] - box[0]) * (box[3] - box[1])  # a higher level, a smaller box


def truth_of_coffee() -> list:
    return json.loads((Path(__file__).resolve().parents[1] / "data" / "manifest.json").read_text())["images"][1]["boxes"][0]


def test_the_level_applies_to_a_rule_of_the_maximum_only(lite0):
    still = StillAnalysis(FrameLocalizer(lite0).method, StillSettings(class_models=(), split_side=None, level=0.25))
    assert still.rule(BoxRule(inset=0.04)) == BoxRule(threshold=0.25, inset=0.04)
    assert still.rule(BoxRule(method="otsu")) == BoxRule(method="otsu")
    plain = StillAnalysis(FrameLocalizer(lite0).method, StillSettings(class_models=(), split_side=None, level=None))
    assert plain.rule(BoxRule(threshold=0.3)) == BoxRule(threshold=0.3)


def test_what_is_asked_decides_what_runs(lite0):
    assert still_analysis(lite0, None) is None
    assert still_analysis(lite0, StillSettings(), own_classes=True)._classes == []  # custom classes: lite0's own
    assert still_analysis(lite0, StillSettings())._classes == []  # the default: lite0's own classes, no other model
    assert StillSettings().zoom_below is None and StillSettings().split_similar == 0.5  # session 14's choice
    assert still_settings("fast") is None and still_settings("balanced") is None  # the preset's own pass
    assert still_settings("best") == StillSettings()
    assert StillAnalysis(FrameLocalizer(lite0).method, StillSettings(split_side=None)).fine(None) is None


@pytest.mark.parametrize("fields, message", [
    ({"split_side": 16}, "split_side"), ({"split_side": True}, "split_side"), ({"split_level": 0.0}, "split_level"),
    ({"split_peak": 1.5}, "split_peak"), ({"class_models": ("",)}, "class_models"), ({"level": 0.0}, "level"),
    ({"level": 1.5}, "level"), ({"zoom_below": 0.0}, "zoom_below"), ({"zoom_scale": 0.5}, "zoom_scale"),
    ({"zoom_least": 2.0}, "zoom_least"), ({"zoom_level": 0.0}, "zoom_level"), ({"split_similar": 1.5}, "split_similar"),
    ({"split_similar": -0.1}, "split_similar"),
])
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        StillSettings(**fields)
    with pytest.raises(ValueError, match="quality"):
        still_settings("finest")


def test_a_threshold_or_rule_given_replaces_the_photos_level(lite0):
    import argparse

    from camvideo.cli.options import still_from_args

    base = {"quality": "best", "checkpoint": "own.pt", "threshold": None, "rule": None}  # own: no class models
    assert still_from_args(argparse.Namespace(**base), lite0).settings.level == StillSettings().level
    for given in ({"threshold": 0.3}, {"rule": "otsu"}):
        assert still_from_args(argparse.Namespace(**{**base, **given}), lite0).settings.level is None


ZOOM_ONLY = StillSettings(split_side=None, mirror=False, zoom_below=1.0)  # lite0's pass, then the zoomed crop


def test_the_coarse_box_is_zoomed_and_the_crop_joins_the_classes(lite0, balanced, photo):
    image = photo("coffee")
    height, width = image.shape[:2]
    coarse = StillAnalysis(balanced.method, dataclasses.replace(ZOOM_ONLY, zoom_below=None))(balanced, image)
    coarse = coarse.detections[0]  # the coarse box at the photos' level, unzoomed
    still = StillAnalysis(balanced.method, ZOOM_ONLY)
    det = still(balanced, image).detections[0]
    assert det.regions[0] == det.box and det.box != coarse.box  # the JSON's primary box first
    window = zoom_window(coarse.box, width, height, ZOOM_ONLY.zoom_scale, ZOOM_ONLY.zoom_least)
    assert window[0] <= det.box[0] < det.box[2] <= window[2] and window[1] <= det.box[1] < det.box[3] <= window[3]
    assert iou(det.box, truth_of_coffee()) >= 0.5
    own, crops = balanced.forward([image])[0], {}
    joined = still.joined(image, own, None, BoxRule(inset=0.04), crops)
    assert list(crops) == [window]  # the top-1 class's window, passed once
    assert torch.allclose(joined.probs, (own.probs + crops[window].probs) / 2, atol=1e-6)
    assert det.score == pytest.approx(float(joined.probs.max()), abs=1e-5)


def test_no_zoom_when_not_asked_or_the_users_rule_holds(lite0, balanced, photo):
    image = photo("coffee")
    coarse = balanced([image])[0].detections[0]
    off = StillAnalysis(balanced.method, dataclasses.replace(ZOOM_ONLY, zoom_below=None, level=None))(balanced, image)
    assert (off.detections[0].box, off.detections[0].score) == (coarse.box, pytest.approx(coarse.score))
    user = StillAnalysis(balanced.method, dataclasses.replace(ZOOM_ONLY, level=None))
    assert user.zoom_rule(BoxRule(threshold=0.3)) == BoxRule(threshold=0.3)  # the user's threshold, on the crop too
    assert still_analysis(lite0, ZOOM_ONLY).zoom_rule(BoxRule(inset=0.04)) == BoxRule(threshold=0.2, inset=0.04)
    assert user.zoomed(image, coarse.class_id, coarse.box, BoxRule(components="all"), {}) == coarse.box
