"""BGR pictures as the yuv420p frames an H.264 encoder takes.

``yuv420p_frame`` converts one picture into a frame of its own; ``I420Frames``
converts every picture of a recording into one reused buffer that one reused
``av.VideoFrame`` wraps: no frame-sized array, no ``VideoFrame`` made a frame.
That is safe for libx264, which copies the picture in while ``encode`` runs, so
the buffer is free again when it returns (NVENC may keep a frame by reference:
the recorder gives it frames of their own).
``I420Pool`` converts a picture on one thread (the pipeline's writer, right after
the overlay drew it, while it is still in that core's cache) for a recorder that
encodes it on another (the sinks thread), in buffers the recorder gives back.
All give OpenCV's BT.601 video-range I420, as FFmpeg's swscale makes it (cheaper
than swscale and closer to the picture; docs/measuring.md): the same pixels.

av, cv2 and numpy load with the first picture (a batch driver names outputs
without them).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np


def _wrap(i420: np.ndarray, height: int, width: int):
    """A yuv420p ``av.VideoFrame`` whose planes are ``i420`` itself (the frame keeps
    it alive); None where PyAV cannot share it. PyAV reads a shared I420 array's
    height as ``rows // 6 * 4``, right only for heights that are multiples of 4 (at
    270 rows it gives a 268-row frame with misplaced colour planes)."""
    import av

    if height % 4:
        return None
    try:
        frame = av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")
    except (AttributeError, ValueError):  # an older PyAV
        return None
    return frame if (frame.height, frame.width) == (height, width) else None


def yuv420p_frame(image: np.ndarray):
    """A BGR uint8 image (both sides even) as a yuv420p ``av.VideoFrame`` of its own:
    the I420 array itself where PyAV can share it, else a copy (``from_ndarray``)."""
    import av
    import cv2

    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    frame = _wrap(i420, *image.shape[:2])
    return frame if frame is not None else av.VideoFrame.from_ndarray(i420, format="yuv420p")


class I420Frames:
    """One recording's pictures as yuv420p frames, converted into one buffer.

    ``frame(image)`` (BGR uint8, both sides even) returns the same ``av.VideoFrame``
    each time, its pixels those of ``image``: hand it to ``encode`` before the next
    call. A new size gets a new buffer; where PyAV cannot share the buffer (a height
    that is not a multiple of 4) each call makes a frame of its own instead."""

    def __init__(self) -> None:
        self._buffer = None  # (h * 3 / 2, w) uint8: the Y plane, then U, then V
        self._frame = None  # the VideoFrame on it, None where PyAV cannot share it
        self._size: tuple[int, int] | None = None  # (height, width) of the pictures

    def frame(self, image: np.ndarray):
        import cv2

        size = image.shape[:2]
        if size != self._size:
            import numpy as np

            self._size = size
            self._buffer = np.empty((size[0] * 3 // 2, size[1]), np.uint8)
            self._frame = _wrap(self._buffer, *size)
        if self._frame is None:
            return yuv420p_frame(image)
        cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._buffer)
        return self._frame


class I420Picture(NamedTuple):
    """One picture converted by an ``I420Pool``: its (height, width), the I420
    ``buffer`` and the yuv420p ``frame`` on it, and the ``pool`` it goes back to."""

    size: tuple[int, int]
    buffer: np.ndarray
    frame: object  # av.VideoFrame
    pool: I420Pool


class I420Pool:
    """Pictures converted to yuv420p where they are made, encoded elsewhere.

    ``convert(image)`` (BGR uint8) converts ``image`` into a free buffer (or a new
    one) and returns it as an ``I420Picture``; None where the picture's size cannot
    be shared with PyAV (odd sides, a height that is not a multiple of 4), which the
    encoding side then converts itself. ``give(picture)`` hands a buffer back once
    its frame is encoded (the encoder copied it in); up to ``keep`` wait for reuse.
    ``convert`` and ``give`` may run on two threads (a deque's append and pop are atomic)."""

    def __init__(self, keep: int = 6) -> None:
        self.keep = keep
        self._free: deque[I420Picture] = deque()

    def convert(self, image: np.ndarray) -> I420Picture | None:
        import cv2

        height, width = size = image.shape[:2]
        if width % 2 or height % 4 or image.ndim != 3 or image.shape[2] != 3 or image.dtype.char != "B":  # uint8
            return None
        try:
            picture = self._free.pop()
        except IndexError:
            picture = None
        if picture is None or picture.size != size:
            picture = self._new(size)
            if picture is None:
                return None
        cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=picture.buffer)
        return picture

    def _new(self, size: tuple[int, int]) -> I420Picture | None:
        import numpy as np

        buffer = np.empty((size[0] * 3 // 2, size[1]), np.uint8)
        frame = _wrap(buffer, *size)
        return None if frame is None else I420Picture(size, buffer, frame, self)

    def give(self, picture: I420Picture) -> None:
        if picture.pool is self and len(self._free) < self.keep:
            self._free.append(picture)
