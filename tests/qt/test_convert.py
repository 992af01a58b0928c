"""BGR arrays -> QImage in the worker."""

from __future__ import annotations

import numpy as np
import pytest

from camvideo.qt.convert import bgr_to_qimage


def test_pixels_and_own_memory():
    image = np.zeros((5, 7, 3), np.uint8)
    image[2, 3] = (10, 20, 30)  # B, G, R
    qimage = bgr_to_qimage(image)
    assert (qimage.width(), qimage.height()) == (7, 5)
    image[2, 3] = 0  # the QImage keeps its own copy
    color = qimage.pixelColor(3, 2)
    assert (color.red(), color.green(), color.blue()) == (30, 20, 10)


def test_non_contiguous_and_odd_widths():
    big = np.random.default_rng(0).integers(0, 255, (9, 13, 3), np.uint8)
    view = big[1:8, 2:11]  # strided rows, odd width (row padding differs)
    qimage = bgr_to_qimage(view)
    for y in (0, 6):
        for x in (0, 8):
            c = qimage.pixelColor(x, y)
            assert (c.blue(), c.green(), c.red()) == tuple(int(v) for v in view[y, x])


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)])
def test_rejects_what_is_not_bgr_uint8(bad):
    with pytest.raises(ValueError, match="BGR uint8"):
        bgr_to_qimage(bad)


def test_rejects_non_arrays():
    with pytest.raises(TypeError, match="numpy array"):
        bgr_to_qimage([[0, 0, 0]])
