"""The overlay drawn in a frame's I420 planes (camvideo.annotate, ``draws_i420``):
the same picture as the BGR overlay converted to I420, on a real photo."""

import cv2
import numpy as np
import pytest

from camvideo.annotate import (
    COLORMAPS,
    BoxAnnotator,
    FrameAnnotator,
    HudAnnotator,
    colormap_lut,
    i420_planes,
    picture_size,
    yuv_color,
    yuv_lut,
)
from camvideo.class_colours import PALETTE
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import OverlaySettings


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture
def photo(data_dir) -> np.ndarray:
    """The cat photo at 640x360 (a 16:9 frame: 360 rows, not a multiple of 8)."""
    return cv2.resize(cv2.imread(str(data_dir / "chelsea.png")), (640, 360), interpolation=cv2.INTER_AREA)


def result(width=640, height=360) -> FrameResult:
    """Three classes: two boxes (odd and even corners) and one listed in the corner."""
    rng = np.random.default_rng(3)
    heat = np.stack([cv2.resize(rng.random((3, 3)).astype(np.float32), (9, 7)) for _ in range(3)])
    dets = (Detection(1, 285, "Egyptian cat", 0.79, (11, 21, 461, 301)),
            Detection(2, 282, "tiger cat", 0.31, (100, 50, 336, 204)),
            Detection(3, 281, "tabby", 0.05, None))
    return FrameResult(0, 0.0, width, height, dets, ClassMaps((285, 282, 281), heat))


def test_the_i420_overlay_is_the_bgr_overlay_converted(photo):
    """Y (the picture's detail, the text) within ~0.5 level; the whole within the
    visual threshold (the box edges' U, V cells differ where a line covers half a cell)."""
    planes = cv2.cvtColor(photo, cv2.COLOR_BGR2YUV_I420)
    before = planes.copy()
    annotator = FrameAnnotator()
    reference = cv2.cvtColor(annotator.annotate(photo, result()), cv2.COLOR_BGR2YUV_I420)
    drawn = annotator.annotate(planes, result())
    assert drawn.shape == planes.shape and drawn.dtype == np.uint8 and drawn is not planes
    assert np.array_equal(planes, before)  # the frame's own planes are left alone
    assert psnr(drawn[:360], reference[:360]) >= 45
    assert psnr(drawn, reference) >= 35


def test_the_heat_map_alone_matches_in_every_plane(photo):
    planes = cv2.cvtColor(photo, cv2.COLOR_BGR2YUV_I420)
    heat_only = FrameAnnotator(OverlaySettings(boxes=False, labels=False, colormap="turbo"))
    reference = cv2.cvtColor(heat_only.annotate(photo, result()), cv2.COLOR_BGR2YUV_I420)
    drawn = heat_only.annotate(planes, result())
    assert psnr(drawn[:360], reference[:360]) >= 45 and psnr(drawn[360:], reference[360:]) >= 40


def test_boxes_are_drawn_in_their_colour_in_every_plane():
    planes = np.full((360 * 3 // 2, 640), 128, np.uint8)
    planes[:360] = 60
    BoxAnnotator(thickness=2).annotate(planes, result())
    y, u, v = i420_planes(planes)
    assert yuv_color((0, 0, 0)) == (16, 128, 128)  # the outline: video-range black
    cy, cu, cv = yuv_color(PALETTE[285 % len(PALETTE)])
    assert y[21, 200] == cy and u[10, 100] == cu and v[10, 100] == cv  # the top edge (row 21: chroma row 10)
    assert y[100, 200] == 60 and u[50, 100] == 128  # inside stays untouched


def test_yuv_tables_are_opencv_s_conversion():
    for name in COLORMAPS:
        bgr = colormap_lut(name)[:, 0, :]
        table = yuv_lut(name)[:, :, 0]
        for entry in (0, 77, 255):
            assert tuple(int(x) for x in table[:, entry]) == yuv_color(tuple(int(c) for c in bgr[entry]))
    white = cv2.cvtColor(np.full((2, 2, 3), 255, np.uint8), cv2.COLOR_BGR2YUV_I420).ravel()
    assert yuv_color((255, 255, 255)) == (int(white[0]), int(white[4]), int(white[5])) == (235, 128, 128)


def test_the_hud_draws_on_planes_at_the_bottom():
    planes = np.full((240 * 3 // 2, 320), 128, np.uint8)
    HudAnnotator(lambda r: "30.0 fps").annotate(planes, result(320, 240))
    assert picture_size(planes) == (240, 320)
    assert (planes[230:240] != 128).any() and (planes[:200] == 128).all()
