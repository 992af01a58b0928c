"""Sources read from disk: video files (PyAV) and sequences of images (OpenCV).

``VideoFileSource`` gives the container's own timestamps (variable frame rate is
real) and applies rotation metadata; ``ImageSequenceSource`` gives the images of
a folder or a glob, ``1 / fps`` seconds apart. Both can seek and loop; both take
their buffer policy from ``camvideo.video.reader.policy_for`` unless given one
(a blocking queue: nothing dropped; ``Paced`` for the window). ``read_image`` is
the one way an image file is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from camvideo.errors import InputError, reason
from camvideo.video.policies import BufferPolicy
from camvideo.video.reader import Source
from camvideo.video.spec import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

IMAGE_FPS = 30.0  # time step given to images of a folder or glob (they have no timestamps)


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, or an InputError that says why it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not an image that can be decoded (is it a PNG, JPEG, BMP, TIFF or WebP?)")
    return image


def av_image(frame) -> np.ndarray:
    """A decoded PyAV video frame as BGR, turned as its display matrix says
    (counterclockwise degrees, as PyAV reports it)."""
    image = frame.to_ndarray(format="bgr24")
    k = int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class ImageSequenceSource(Source):
    """Images of a folder (sorted by name) or of a glob pattern, one frame each,
    ``1 / fps`` seconds apart."""

    def __init__(self, paths: list[Path], name: str, fps: float = IMAGE_FPS, loop: bool = False, *,
                 policy: BufferPolicy | None = None) -> None:
        if not paths:
            raise InputError(f"{name}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        first = read_image(paths[0])  # fail at open time if the first cannot be read
        super().__init__(name, live=False, size=(first.shape[1], first.shape[0]),
                         frame_count_hint=len(paths), policy=policy)
        self.paths = paths
        self.fps = fps
        self.loop = loop

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        first = min(int(round(start * self.fps)), len(self.paths) - 1)
        cycle = 0
        while True:
            for i in range(first, len(self.paths)):
                try:
                    image = read_image(self.paths[i])
                except InputError as exc:
                    log.warning("skipping %s", exc)
                    continue
                index = cycle * len(self.paths) + i
                yield image, index / self.fps, index
            if not self.loop:
                return
            first, cycle = 0, cycle + 1
class VideoFileSource(Source):
    """A video file decoded with PyAV; times are the container's timestamps.

    A file that breaks mid-way (truncated, corrupt) logs a warning and ends the
    stream at the damage: every frame before it is delivered.
    """

    def __init__(self, path: Path, loop: bool = False, *, policy: BufferPolicy | None = None) -> None:
        import av

        self.path = path
        self.loop = loop
        self.start_time = 0.0  # the first frame's time, known once it is decoded below
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty (0 bytes)")
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: not a video that can be decoded ({reason(exc)})") from None
        try:
            if not container.streams.video:
                raise InputError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            self.time_base = stream.time_base
            self.rate = float(stream.average_rate or stream.guessed_rate or 0.0) or None
            # the header's idea of the length: a file that ends well before it is truncated
            self.duration = container.duration / 1e6 if container.duration and container.duration > 0 else None
            count = stream.frames or None
            if not count and stream.duration and self.rate:
                count = int(round(float(stream.duration * stream.time_base) * self.rate))
            if not count and self.duration and self.rate:
                count = int(round(self.duration * self.rate))
            # Decode the first frame now: a file that cannot give one fails here.
            first = None
            for first in self._decode(container, 0.0):  # noqa: B007 - kept: the decoded first frame
                break
            if first is None:
                raise InputError(f"{path}: contains no decodable video frame")
        except InputError:
            container.close()
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            container.close()
            raise InputError(f"{path}: not a video that can be decoded ({reason(exc)})") from None
        container.close()
        image, self.start_time, _ = first
        super().__init__(str(path), live=False, size=(image.shape[1], image.shape[0]), frame_count_hint=count,
                         policy=policy)

    def _decode(self, container, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        import av

        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
            index = -1  # unknown until the first frame: estimated from its time
        last_time = None
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    stamp = (last_time + 1.0 / (self.rate or 30.0)) if last_time is not None else 0.0
                else:
                    stamp = float(frame.pts * frame.time_base)
                if stamp < start - 1e-6:
                    continue
                if index < 0:
                    index = int(round((stamp - self.start_time) * (self.rate or 30.0)))
                last_time = stamp
                yield av_image(frame), stamp, index
                index += 1
            step = 1.0 / (self.rate or 30.0)
            if self.duration and last_time is not None and last_time - self.start_time + 2.5 * step < self.duration:
                log.warning("%s: the video ends at %.2f s but its header says %.2f s; it may be truncated "
                            "(everything up to the damage was read)", self.path, last_time, self.duration)
        except av.FFmpegError as exc:
            if index == 0:
                raise InputError(f"{self.path}: not a video that can be decoded ({reason(exc)})") from None
            log.warning("%s: the video is damaged after frame %d (%s); stopping there",
                        self.path, index - 1, reason(exc))

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        import av

        offset_time, offset_index = 0.0, 0
        while True:
            last = None
            with av.open(str(self.path)) as container:
                for image, stamp, index in self._decode(container, start):
                    last = (stamp, index)
                    yield image, stamp + offset_time, index + offset_index
            if not self.loop or last is None:
                return
            step = 1.0 / (self.rate or 30.0)
            offset_time += last[0] - self.start_time + step
            offset_index += last[1] + 1
            start = 0.0

