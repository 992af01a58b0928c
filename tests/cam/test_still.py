"""The photos' analysis (camvideo.cam.still) on real photos with the real weights."""

import json
from pathlib import Path

import pytest
import torch

from camvideo.cam.boxes import iou
from camvideo.cam.still import StillAnalysis, still_analysis
from camvideo.presets import StillSettings, quality_settings, still_settings
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import LocalizeSettings
from camvideo.video.sources import read_image

DEVSET = Path(__file__).resolve().parents[1] / "data" / "devset"
SPLIT_ONLY = StillSettings(class_models=())  # the finer pass alone: no second model to load


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


def test_one_object_keeps_the_coarse_box(lite0, balanced, photo):
    image = photo("chelsea")
    coarse = balanced([image])[0].detections[0]
    fine = StillAnalysis(balanced.method, SPLIT_ONLY)(balanced, image).detections[0]
    assert (fine.class_id, fine.box, fine.regions) == (coarse.class_id, coarse.box, coarse.regions)


def test_the_classes_are_the_mean_of_lite0_and_lite1(lite0, balanced, photo):
    still = still_analysis(lite0, StillSettings(split_side=None))
    assert [m.model.name for m in (p.method for p in still._classes)] == ["lite1"]
    image = photo("coffee")
    own = balanced.forward([image])[0]
    mixed = still.classes(image, own)
    lite1 = still._classes[0].evidence([image], LocalizeSettings(maps=own.settings.maps))[0].probs
    assert torch.allclose(mixed.probs, (own.probs + lite1) / 2, atol=1e-6)
    assert mixed.probs.sum().item() == pytest.approx(1.0, abs=1e-4)
    assert int(mixed.probs.argmax()) in (967, 968)  # espresso or cup
    result = still(balanced, image)
    assert result.detections[0].score == pytest.approx(float(mixed.probs.max()), abs=1e-5)


def test_what_is_asked_decides_what_runs(lite0):
    assert still_analysis(lite0, None) is None
    assert still_analysis(lite0, StillSettings(), own_classes=True)._classes == []  # custom classes: lite0's own
    assert still_settings("fast") is None and still_settings("balanced") == still_settings("best") == StillSettings()
    assert StillAnalysis(FrameLocalizer(lite0).method, StillSettings(split_side=None)).fine(None) is None


@pytest.mark.parametrize("fields, message", [
    ({"split_side": 16}, "split_side"), ({"split_side": True}, "split_side"), ({"split_level": 0.0}, "split_level"),
    ({"split_peak": 1.5}, "split_peak"), ({"class_models": ("",)}, "class_models"),
])
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        StillSettings(**fields)
    with pytest.raises(ValueError, match="quality"):
        still_settings("finest")
