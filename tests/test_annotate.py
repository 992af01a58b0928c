import numpy as np
import pytest

from camvideo.annotate import BoxAnnotator, FrameAnnotator, HeatmapAnnotator, LabelAnnotator, OverlaySettings
from camvideo.results import Detection, FrameResult


def result(width=320, height=240, box=(40, 30, 200, 180), heat=None):
    if heat is None:
        heat = np.zeros((1, 7, 7), np.float32)
        heat[0, 1:5, 1:5] = 1.0
    dets = (Detection(1, 285, "Egyptian cat", 0.79, box), Detection(2, 282, "tiger cat", 0.1, None))
    return FrameResult(0, 0.0, width, height, dets, heatmaps=heat, map_class_ids=(285,))


def test_overlay_returns_a_new_frame_and_leaves_the_input_alone():
    frame = np.full((240, 320, 3), 128, np.uint8)
    before = frame.copy()
    out = FrameAnnotator().annotate(frame, result())
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before)
    assert not np.array_equal(out, frame)
    # with everything off, the frame comes back unchanged (as a copy)
    plain = FrameAnnotator(OverlaySettings(heatmap=False, boxes=False, labels=False)).annotate(frame, result())
    assert np.array_equal(plain, frame) and plain is not frame


def test_heatmap_is_hot_where_the_map_is_high():
    frame = np.full((240, 320, 3), 128, np.uint8)
    out = HeatmapAnnotator(alpha=0.6, colormap="jet").annotate(frame, result())
    hot = out[100, 100].astype(int)  # inside the hot cells -> red in jet (BGR: high R)
    cold = out[230, 310].astype(int)  # outside -> blue in jet (high B)
    assert hot[2] > hot[0] and cold[0] > cold[2]


def test_box_is_drawn_at_its_pixels_in_the_rank_colour():
    frame = np.zeros((240, 320, 3), np.uint8)
    BoxAnnotator(thickness=2).annotate(frame, result())
    assert frame[30, 120].tolist() == [255, 255, 255]  # top edge, rank 1 is white
    assert frame[100, 120].tolist() == [0, 0, 0]  # inside stays untouched


@pytest.mark.parametrize("background", [0, 255])
def test_label_reads_on_any_background(background):
    frame = np.full((240, 320, 3), background, np.uint8)
    LabelAnnotator().annotate(frame, result())
    tag = frame[31:45, 41:120]
    # the tag has both its fill and contrasting ink, whatever the background
    assert tag.min() < 60 and tag.max() > 200
    # the class without a box is listed in the top-left corner
    assert (frame[0:12, 0:40] != background).any()


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"colormap": "rainbowish"}])
def test_bad_heatmap_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        HeatmapAnnotator(**kwargs)
