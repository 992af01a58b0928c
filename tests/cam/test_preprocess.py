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


def _two_steps(frame, width, height):
    """``resize_for_model``'s pixels with an intermediate of its own (what it did before
    it kept one a thread)."""
    import cv2

    between = cv2.resize(frame, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(between, (width, height), interpolation=cv2.INTER_AREA)


def test_the_kept_intermediate_gives_the_same_pixels_and_is_never_handed_out():
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((480, 640, 3), (720, 1280, 3), (480, 640),
                                                                        (480, 640, 4), (480, 640, 3))]
    got = [resize_for_model(f, 288, 224) for f in frames]  # shapes change between calls: the buffer follows
    for frame, out in zip(frames, got):
        np.testing.assert_array_equal(out, _two_steps(frame, 288, 224))
    assert not any(np.shares_memory(a, b) for i, a in enumerate(got) for b in got[i + 1:])
    np.testing.assert_array_equal(resize_for_model(frames[0], 144, 112), _two_steps(frames[0], 144, 112))


def test_threads_resizing_at_once_get_their_own_pixels():
    import threading

    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(4)]
    expected = [_two_steps(f, 288, 224) for f in frames]
    wrong = []

    def run(i):
        for _ in range(30):
            if not np.array_equal(resize_for_model(frames[i], 288, 224), expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not wrong
