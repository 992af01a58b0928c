"""The zoomed second pass (camvideo.cam.zoom): its window, and its box on a real photo."""

import json
from pathlib import Path

import pytest

from camvideo.cam.boxes import iou
from camvideo.cam.multiscale import ScaledPasses
from camvideo.cam.zoom import box_area, crop_evidence, wanted, zoom_box, zoom_window
from camvideo.presets import quality_settings
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule
from camvideo.video.sources import read_image

DEVSET = Path(__file__).resolve().parents[1] / "data" / "devset"


def test_the_window_is_the_box_enlarged_about_its_centre():
    assert zoom_window((100, 100, 140, 120), 640, 480, scale=2.0, least=0.0) == (80, 90, 160, 130)
    assert zoom_window((100, 100, 140, 120), 640, 480, scale=1.0, least=0.0) == (100, 100, 140, 120)


def test_the_window_has_its_least_side_and_stays_inside_the_photo():
    x1, y1, x2, y2 = zoom_window((0, 0, 10, 10), 640, 480, scale=2.0, least=0.25)
    assert (x1, y1) == (0, 0) and (x2 - x1, y2 - y1) == (120, 120)  # shifted in, not cut
    assert zoom_window((600, 440, 640, 480), 640, 480, scale=2.0, least=0.25) == (520, 360, 640, 480)
    assert zoom_window((10, 10, 630, 470), 640, 480, scale=2.0) == (0, 0, 640, 480)  # a large box: the photo


@pytest.mark.parametrize("scale, least", [(0.9, 0.25), (2.0, -0.1), (2.0, 1.5)])
def test_bad_windows_are_refused(scale, least):
    with pytest.raises(ValueError):
        zoom_window((0, 0, 10, 10), 640, 480, scale=scale, least=least)
    with pytest.raises(ValueError, match="positive"):
        zoom_window((0, 0, 10, 10), 0, 480)


def test_only_a_small_enough_box_is_zoomed():
    assert box_area((10, 10, 30, 20)) == 200 and box_area((5, 5, 5, 9)) == 0
    assert wanted((0, 0, 100, 100), 640, 480, 0.05) and not wanted((0, 0, 200, 200), 640, 480, 0.05)
    assert not wanted((0, 0, 10, 10), 640, 480, None) and not wanted(None, 640, 480, 0.5)


def test_the_zoomed_box_lies_in_the_window_on_the_photo(lite0):
    image = read_image(DEVSET / "ladybird.jpg")
    height, width = image.shape[:2]
    localizer = FrameLocalizer(lite0, quality_settings("balanced"))
    det = localizer([image])[0].detections[0]
    window = zoom_window(det.box, width, height, scale=2.0, least=0.25)
    evidence = crop_evidence(ScaledPasses(localizer.method), image, window)
    box = zoom_box(localizer.method, evidence, det.class_id, window, BoxRule(threshold=0.25, inset=0.04))
    assert box is not None and window[0] <= box[0] < box[2] <= window[2] and window[1] <= box[1] < box[3] <= window[3]
    truth = next(i["boxes"] for i in json.loads((DEVSET / "manifest.json").read_text())["images"]
                 if i["file"] == "ladybird.jpg")
    assert max(iou(box, t) for t in truth) > max(iou(det.box, t) for t in truth)  # finer on a small object
