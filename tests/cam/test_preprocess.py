"""``camvideo.cam.preprocess``: the resize into a batch's own place gives the same pixels."""

from __future__ import annotations

import types

import numpy as np
import pytest

from camvideo.cam.preprocess import pixels, resize_for_model


def _model(size):
    return types.SimpleNamespace(preprocessing=types.SimpleNamespace(size=size), device=None)


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (224, 288), (301, 417)])
def test_a_resize_into_a_given_array_gives_the_same_pixels_there(shape):
    frame = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    out = np.zeros((2, 224, 288, 3), np.uint8)
    got = resize_for_model(frame, 288, 224, out[1])
    assert np.shares_memory(got, out[1])
    np.testing.assert_array_equal(out[1], resize_for_model(frame, 288, 224))
    assert not out[0].any()


def test_a_batch_of_pixels_is_each_frame_resized_in_order():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((480, 640), (360, 640), (224, 288))]
    batch = pixels(frames, _model((224, 288)))
    assert batch.dtype.is_floating_point is False and tuple(batch.shape) == (3, 224, 288, 3)
    for frame, got in zip(frames, batch.numpy()):
        np.testing.assert_array_equal(got, resize_for_model(frame, 288, 224))
    one = pixels(frames[2:], _model((224, 288)))
    assert np.shares_memory(one.numpy(), frames[2])  # one frame at the input size: no copy
