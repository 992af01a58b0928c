"""yuv: BGR pictures as yuv420p frames; one reused buffer and frame for a recording."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from clips import pattern

from camvideo.video.yuv import I420Frames, I420Pool, yuv420p_frame


def _i420(frame) -> np.ndarray:
    return frame.to_ndarray()  # (h * 3 / 2, w): Y, then U, then V


@pytest.mark.parametrize("height,width", [(48, 64), (270, 480), (482, 640)])
def test_the_reused_frame_has_each_picture_s_own_pixels(height, width):
    frames = I420Frames()
    for i in range(3):
        image = pattern(i, width, height)
        frame = frames.frame(image)
        assert (frame.height, frame.width) == (height, width)
        assert np.array_equal(_i420(frame), cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420))
        assert np.array_equal(_i420(frame), _i420(yuv420p_frame(image)))


def test_one_frame_and_buffer_a_size_a_new_one_for_another_size():
    frames = I420Frames()
    first = frames.frame(pattern(0, 64, 48))
    assert frames.frame(pattern(1, 64, 48)) is first
    other = frames.frame(pattern(2, 32, 24))
    assert other is not first and (other.height, other.width) == (24, 32)
    # a height PyAV cannot share (not a multiple of 4): a frame of its own each time
    assert frames.frame(pattern(3, 64, 54)) is not frames.frame(pattern(4, 64, 54))


def test_an_encode_of_the_reused_frame_is_that_of_frames_of_their_own():
    """The encoder copies the picture in while encode runs: the next picture written
    into the same buffer changes nothing already encoded."""
    images = [pattern(i, 64, 48) for i in range(12)]

    def packets(make) -> list[bytes]:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
        codec.time_base = Fraction(1, 30)
        codec.options = {"preset": "superfast", "tune": "zerolatency", "crf": "24"}
        out = []
        for i, image in enumerate(images):
            frame = make(image)
            frame.pts = i
            out += [bytes(p) for p in codec.encode(frame)]
        return out + [bytes(p) for p in codec.encode(None)]

    assert packets(I420Frames().frame) == packets(yuv420p_frame)


@pytest.mark.parametrize("height,width", [(48, 64), (480, 640)])
def test_a_pool_s_picture_is_the_image_s_i420_and_its_buffer_comes_back(height, width):
    pool = I420Pool(keep=2)
    image = pattern(0, width, height)
    picture = pool.convert(image)
    assert picture.size == (height, width) and picture.pool is pool
    assert np.array_equal(picture.buffer, cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420))
    assert np.array_equal(_i420(picture.frame), picture.buffer)
    pool.give(picture)
    again = pool.convert(pattern(1, width, height))
    assert again is picture  # the free buffer reused
    assert np.array_equal(again.buffer, cv2.cvtColor(pattern(1, width, height), cv2.COLOR_BGR2YUV_I420))
    other = pool.convert(pattern(2, width, height))  # none free: a new one
    assert other is not again


def test_a_pool_converts_no_size_pyav_cannot_share_and_keeps_at_most_keep():
    pool = I420Pool(keep=1)
    assert pool.convert(pattern(0, 64, 54)) is None  # height not a multiple of 4
    assert pool.convert(pattern(0, 63, 48)) is None  # odd width
    assert pool.convert(np.zeros((48, 64), np.uint8)) is None  # not BGR
    first, second = pool.convert(pattern(0, 64, 48)), pool.convert(pattern(1, 64, 48))
    pool.give(first)
    pool.give(second)  # beyond keep: dropped
    assert pool.convert(pattern(2, 64, 48)) is first
    assert pool.convert(pattern(3, 64, 48)) is not second
    small = pool.convert(pattern(4, 32, 24))  # another size: a buffer of its own
    assert small.size == (24, 32)
    other = I420Pool()
    other.give(small)  # another pool's picture is not kept
    assert other.convert(pattern(5, 32, 24)) is not small
