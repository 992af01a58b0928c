"""Where frames come from: cameras, streams, video files, folders and globs of images.

``open_source(spec)`` follows the usual convention: a number is a camera index, an
``rtsp://`` / ``http(s)://`` URL a stream, a folder the images in it (sorted), a
pattern with ``*?[`` the matching images, anything else a video file. Bad input
raises ``InputError`` at open time, with a message that says what to do.

Each source runs its reader in its own thread, with a named policy:

- ``"latest"`` (cameras, streams): only the newest frame is kept; older unread
  frames are dropped and counted in ``dropped``. Latency stays at about one
  consumer step however slow the consumer is.
- ``"block"`` (files, folders): a bounded queue; a fast reader waits for a slow
  consumer. Nothing is dropped, frames come in order.

Every ``Frame`` carries its 0-based index and its own presentation time: the
container's timestamps for video files (variable frame rate is real), the time
since opening for cameras. A frame count from metadata is only a progress hint.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camvideo.errors import InputError, reason

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
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


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame as read: BGR uint8 HxWx3, C-contiguous, rotation metadata applied."""

    image: np.ndarray
    index: int  # 0-based, in source order
    time: float  # the frame's own presentation time, seconds
    captured: float  # time.monotonic() when the reader got it (latency measurement)
    read_ms: float = 0.0  # time the reader spent decoding/grabbing it


class _End:
    """Sentinel: the reader has nothing more to give."""


_END = _End()


class _LatestSlot:
    """A one-frame buffer: ``put`` replaces an unread frame (counted as a drop)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Frame | None = None
        self._ended = False
        self.dropped = 0

    def put(self, item: Frame) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def get(self, timeout: float | None) -> Frame | _End:
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None or self._ended, timeout):
                raise TimeoutError("no frame yet")
            if self._item is not None:
                item, self._item = self._item, None
                return item
            return _END

    def clear(self) -> None:
        with self._cond:
            self._item = None
            self._ended = False


class Source:
    """Base of every source: a reader thread feeding a bounded buffer.

    Subclasses implement ``_frames(start)`` -> iterator of ``(image, time, index)``
    starting at ``start`` seconds; it runs in the reader thread. ``live`` picks
    the policy: latest-frame for live sources, blocking queue for the rest.
    """

    policy: str

    def __init__(self, name: str, *, live: bool, size: tuple[int, int] | None = None,
                 frame_count_hint: int | None = None, queue_size: int = 8) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.name = name
        self.live = live
        self.policy = "latest" if live else "block"
        self.size = size
        self.frame_count_hint = frame_count_hint
        self._queue_size = queue_size
        self._buffer: _LatestSlot | queue.Queue = _LatestSlot() if live else queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._ended = False
        self._closed = False
        self._start_at = 0.0
        self._dropped_before = 0
        self._lock = threading.Lock()

    # -- subclass hooks -------------------------------------------------------
    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        raise NotImplementedError

    def _release(self) -> None:
        """Free the underlying device or file (called once, by close)."""

    # -- public API -------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Frames dropped by the latest-frame policy (always 0 for files)."""
        return self._dropped_before + (self._buffer.dropped if isinstance(self._buffer, _LatestSlot) else 0)

    @property
    def ended(self) -> bool:
        """True once ``read`` has returned the end of the stream (until a seek)."""
        return self._ended

    def start(self) -> None:
        """Start the reader thread (idempotent)."""
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.name}: the source is closed")
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._ended = False
            self._error = None
            self._thread = threading.Thread(target=self._run, name=f"camvideo-reader:{self.name}")
            self._thread.start()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None at the end of the stream.

        Starts the reader if needed. Raises ``TimeoutError`` when ``timeout``
        seconds pass with no frame, and ``InputError`` when the reader failed.
        """
        if self._ended or self._closed:
            return None
        if self._thread is None:
            self.start()
        try:
            item = self._buffer.get(timeout=timeout) if isinstance(self._buffer, _LatestSlot) \
                else self._buffer.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: no frame within {timeout} s") from None
        if item is _END:
            self._ended = True
            if self._error is not None:
                error = self._error
                if isinstance(error, InputError):
                    raise error
                raise InputError(f"{self.name}: reading failed: {error}") from error
            return None
        return item

    def seek(self, seconds: float) -> None:
        """Restart reading at ``seconds`` (files and folders only)."""
        if self.live:
            raise ValueError(f"seek needs a file or folder source; {self.name} is live")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
        self._halt()
        self._start_at = float(seconds)
        self.start()

    def close(self) -> None:
        """Stop and join the reader thread, then free the device or file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._halt()
        finally:
            self._release()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    # -- reader thread ----------------------------------------------------------
    def _halt(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            # unblock a reader waiting on a full queue; a stream's read may block
            # for its whole stall time before it sees the stop
            wait = 5.0 + getattr(self, "stall_s", 0.0)
            deadline = time.monotonic() + wait
            while thread.is_alive() and time.monotonic() < deadline:
                self._drain()
                thread.join(timeout=0.05)
            if thread.is_alive():
                log.warning("%s: reader thread did not stop within %.0f s", self.name, wait)
        self._thread = None
        self._drain()
        if isinstance(self._buffer, _LatestSlot):
            self._dropped_before += self._buffer.dropped
            self._buffer = _LatestSlot()
        self._ended = False

    def _drain(self) -> None:
        if isinstance(self._buffer, _LatestSlot):
            self._buffer.clear()
            return
        try:
            while True:
                self._buffer.get_nowait()
        except queue.Empty:
            pass

    def _put(self, item) -> bool:
        """Hand ``item`` to the consumer; False when asked to stop meanwhile."""
        if isinstance(self._buffer, _LatestSlot):
            if item is _END:
                self._buffer.end()
            else:
                self._buffer.put(item)
            return not self._stop.is_set()
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            frames = self._frames(self._start_at)
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    image, stamp, index = next(frames)
                except StopIteration:
                    break
                read_ms = (time.perf_counter() - t0) * 1000.0
                if image.ndim == 2:
                    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
                elif image.shape[2] == 4:
                    image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
                image = np.ascontiguousarray(image)
                if self.size is None:
                    self.size = (image.shape[1], image.shape[0])
                frame = Frame(image, index, float(stamp), time.monotonic(), read_ms)
                if not self._put(frame):
                    break
        except BaseException as exc:  # handed to the consumer through read()
            log.debug("%s: reader failed", self.name, exc_info=True)
            self._error = exc
        finally:
            if not self._stop.is_set() or self._error is not None:
                self._put_end()

    def _put_end(self) -> None:
        if isinstance(self._buffer, _LatestSlot):
            self._buffer.end()
            return
        while True:
            try:
                self._buffer.put(_END, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    return


class ImageSequenceSource(Source):
    """Images of a folder (sorted by name) or of a glob pattern, one frame each,
    ``1 / fps`` seconds apart."""

    def __init__(self, paths: list[Path], name: str, fps: float = IMAGE_FPS, loop: bool = False) -> None:
        if not paths:
            raise InputError(f"{name}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        first = read_image(paths[0])  # fail at open time if the first cannot be read
        super().__init__(name, live=False, size=(first.shape[1], first.shape[0]),
                         frame_count_hint=len(paths))
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


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Apply a display-matrix rotation (counterclockwise degrees, as PyAV reports it)."""
    k = int(round(degrees / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class VideoFileSource(Source):
    """A video file decoded with PyAV; times are the container's timestamps.

    A file that breaks mid-way (truncated, corrupt) logs a warning and ends the
    stream at the damage: every frame before it is delivered.
    """

    def __init__(self, path: Path, loop: bool = False) -> None:
        import av

        self.path = path
        self.loop = loop
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
        super().__init__(str(path), live=False, size=(image.shape[1], image.shape[0]), frame_count_hint=count)

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
                    index = int(round((stamp - getattr(self, "start_time", 0.0)) * (self.rate or 30.0)))
                last_time = stamp
                image = frame.to_ndarray(format="bgr24")
                rotation = getattr(frame, "rotation", 0) or 0
                if rotation:
                    image = _rotate(image, rotation)
                yield image, stamp, index
                index += 1
            step = 1.0 / (self.rate or 30.0)
            if self.duration and last_time is not None and last_time - getattr(self, "start_time", 0.0) + 2.5 * step < self.duration:
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


class CameraSource(Source):
    """A camera through OpenCV; times count from opening. Latest-frame policy."""

    def __init__(self, index: int) -> None:
        if index < 0:
            raise InputError(f"camera index must be 0 or more, got {index}")
        with _quiet_opencv():  # the user gets one clear line, not backend chatter
            cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"camera {index}: no camera there (is it plugged in, and free?); "
                             "try another index, a video file or a stream URL")
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise InputError(f"camera {index}: opened but gave no picture; is another program using it?")
        self._cap = cap
        self._first = image
        super().__init__(f"camera {index}", live=True, size=(image.shape[1], image.shape[0]))

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        t0 = time.monotonic()
        index = 0
        if self._first is not None:
            yield self._first, 0.0, 0
            self._first = None
            index = 1
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                raise InputError(f"{self.name}: the camera stopped giving pictures (unplugged?)")
            yield image, time.monotonic() - t0, index
            index += 1

    def _release(self) -> None:
        self._cap.release()


class StreamSource(Source):
    """A network stream (RTSP, HTTP, ...) through PyAV. Latest-frame policy; a stream
    that gives no frame for ``stall_s`` seconds is reopened with growing backoff."""

    def __init__(self, url: str, stall_s: float = 5.0, max_retries: int = 5) -> None:
        import av

        self.url = url
        self.stall_s = stall_s
        self.max_retries = max_retries
        began = time.monotonic()
        try:
            container = self._open()
        except (av.FFmpegError, OSError) as exc:
            if time.monotonic() - began >= 0.9 * stall_s:  # FFmpeg's reason would be a misleading "invalid data"
                raise InputError(f"{url}: no answer from the stream within {stall_s:g} s; check the address, "
                                 "that the camera or server is on, and the network") from None
            raise InputError(f"{url}: cannot open the stream ({reason(exc)}); check the address and the network") from None
        if not container.streams.video:
            container.close()
            raise InputError(f"{url}: the stream has no video")
        self._container = container
        super().__init__(url, live=True)

    def _open(self):
        import av

        options = {"rtsp_transport": "tcp"} if self.url.startswith("rtsp") else {}
        return av.open(self.url, options=options, timeout=(self.stall_s, self.stall_s))

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        import av

        index, retries, t0 = 0, 0, time.monotonic()
        container = self._container
        while not self._stop.is_set():
            try:
                if container is None:
                    container = self._open()
                stream = container.streams.video[0]
                for frame in container.decode(stream):
                    retries = 0
                    image = frame.to_ndarray(format="bgr24")
                    rotation = getattr(frame, "rotation", 0) or 0
                    yield (_rotate(image, rotation) if rotation else image), time.monotonic() - t0, index
                    index += 1
                    if self._stop.is_set():
                        return
                log.warning("%s: the stream ended; reopening", self.url)
            except (av.FFmpegError, OSError) as exc:
                log.warning("%s: %s; reopening", self.url, reason(exc))
            if container is not None:
                container.close()
                container = None
                self._container = None
            retries += 1
            if retries > self.max_retries:
                raise InputError(f"{self.url}: the stream gave no frame after {self.max_retries} reopen attempts")
            self._stop.wait(min(0.5 * 2 ** retries, 8.0))

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class IterableSource(Source):
    """Frames from any iterable of BGR images (or ``(image, time)`` pairs): for
    tests, synthetic input and frames another library produced. ``live=True``
    gives the latest-frame policy."""

    def __init__(self, images, *, live: bool = False, name: str = "frames", fps: float = 30.0) -> None:
        super().__init__(name, live=live)
        self._images = images
        self.fps = fps

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        for index, item in enumerate(self._images):
            image, stamp = item if isinstance(item, tuple) else (item, index / self.fps)
            if stamp >= start - 1e-9:
                yield image, stamp, index


@contextlib.contextmanager
def _quiet_opencv():
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)



def open_source(spec: str | int | Path, *, loop: bool = False) -> Source:
    """Open a camera (``0``), stream (``rtsp://...``), folder, glob or video file.

    Raises ``InputError`` with a clear message when it cannot be opened.
    """
    if isinstance(spec, bool) or not isinstance(spec, (str, int, Path)):
        raise TypeError(f"spec must be a camera index, URL, path or glob, got {type(spec).__name__}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    text = str(spec)
    if text.lower().startswith(STREAM_PREFIXES):
        return StreamSource(text)
    path = Path(os.path.expanduser(text))
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise InputError(f"{path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageSequenceSource(images, str(path), loop=loop)
    if not path.exists() and any(c in text for c in "*?["):
        images = sorted(Path(p) for p in globlib.glob(os.path.expanduser(text))
                        if Path(p).suffix.lower() in IMAGE_SUFFIXES and Path(p).is_file())
        if not images:
            raise InputError(f"{text}: no images match this pattern")
        return ImageSequenceSource(images, text, loop=loop)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSequenceSource([path], str(path), loop=loop)
    return VideoFileSource(path, loop=loop)
