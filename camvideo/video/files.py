"""Sources read from disk: video files (PyAV) and sequences of images (OpenCV).

``VideoFileSource`` gives the container's own timestamps (variable frame rate is
real) and applies rotation metadata; it reads local files and http(s) URLs whose
container has a duration (``open_source`` tells those from live streams).
``ImageSequenceSource`` gives the images of a folder or a glob, ``1 / fps``
seconds apart. Both can seek and loop; both take their buffer policy from
``camvideo.video.reader.policy_for`` unless given one (a blocking queue: nothing
dropped; ``Paced`` for the window). Both keep what is damaged to itself: frame
indices are the file's own (a frame that cannot be decoded leaves a gap), and
``damage`` lists the stretches lost. Each image is read by
``camvideo.video.images.read_image``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from camvideo.errors import InputError, not_a_file, reason
from camvideo.video.decoding import Damage, PacketDecoder, av_image, bgr_reformatter
from camvideo.video.images import read_image
from camvideo.video.policies import BufferPolicy
from camvideo.video.reader import Frame, Source
from camvideo.video.spec import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

IMAGE_FPS = 30.0  # time step given to images of a folder or glob (they have no timestamps)
ONE_THREAD_PIXELS = 1920 * 1088  # frames up to 1080p decode on the reader thread alone


def decoder_threads(stream) -> None:
    """Set the decoder's threads before the first packet: frames up to 1080p decode on
    the reader's own thread (less CPU than FFmpeg's frame threads and no hand-off
    between threads each frame: docs/measuring.md); larger frames let FFmpeg choose
    (``AUTO``: frame and slice threads), so that one core's decode does not bound a
    4K file. The frames are the same either way."""
    context = stream.codec_context
    if 0 < (context.width or 0) * (context.height or 0) <= ONE_THREAD_PIXELS:
        stream.thread_count = 1
    else:
        stream.thread_type = "AUTO"


class ImageSequenceSource(Source):
    """Images of a folder (sorted by name) or of a glob pattern, one frame each,
    ``1 / fps`` seconds apart."""

    kind = "images"

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

    def _facts(self) -> dict:
        return {"location": self.name, "paths": tuple(self.paths), "fps": self.fps}

    def _frames(self, start: float) -> Iterator[Frame]:
        first = min(int(round(start * self.fps)), len(self.paths) - 1)
        cycle = 0
        while True:
            for i in range(first, len(self.paths)):
                try:
                    image = read_image(self.paths[i])
                except InputError as exc:  # the subscribers hear of the Damage, and say it their way
                    log.debug("skipping %s", exc)
                    self._damaged(Damage(i, i, i / self.fps, (i + 1) / self.fps, file=str(self.paths[i])))
                    continue
                index = cycle * len(self.paths) + i
                yield Frame(image, index, index / self.fps)
            if not self.loop:
                return
            first, cycle = 0, cycle + 1
class VideoFileSource(Source):
    """A video file (a path, or an http(s) URL of a file) decoded with PyAV,
    packet by packet; times are the container's timestamps.

    Damage costs only what is damaged: a packet that does not decode is skipped
    (``skipped``), the frames after it are read. Frames are numbered by the file:
    where the decoder shows damage and the timestamps jump, the lost frames keep
    their numbers (a gap) and are listed in ``damage``; a file that ends before
    its header says (truncated) adds its missing tail there.
    """

    kind = "file"

    def __init__(self, path: Path | str, loop: bool = False, *, policy: BufferPolicy | None = None,
                 container=None, stall_s: float = 5.0) -> None:
        """``path`` is a local file, or an http(s) URL (then ``container``, when
        given, is the one ``open_source`` already opened on it, and ``stall_s``
        bounds each network wait)."""
        import av

        self.url = str(path) if container is not None or "://" in str(path) else None
        self.path = None if self.url else Path(path)  # None for a URL (nothing on disk: no audio copy)
        self.location = self.url or str(self.path)
        self.name = self.location  # Source.__init__ sets it again; damage found at the first frame needs it
        self.stall_s = stall_s if self.url else 0.0
        self.loop = loop
        self.start_time = 0.0  # the first frame's time, known once it is decoded below
        self._opened = None  # (container, frames, first) of the first pass, decoded up to its first frame
        self._skipped_at: set = set()  # where packets did not decode (a set: a second pass counts them once)
        if self.path is not None:
            _check_file(self.path)
        try:
            container = container or self._open()
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: not a video that can be decoded ({reason(exc)})") from None
        try:
            self._expected = count = self._read_header(container, path)
            # Decode the first frame now: a file that cannot give one fails here. The
            # first pass goes on from it (an http file is not downloaded twice).
            frames = self._decode(container, 0.0)
            first = next(frames, None)
            if first is None:
                raise InputError(f"{path}: contains no decodable video frame")
        except InputError:
            container.close()
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            container.close()
            raise InputError(f"{path}: not a video that can be decoded ({reason(exc)})") from None
        self.start_time = first.time - first.index * self.interval  # frame 0's (index > 0: frames lost at the start)
        self._opened = (container, frames, first)
        super().__init__(self.location, live=False, size=(first.image.shape[1], first.image.shape[0]),
                         frame_count_hint=count, policy=policy)

    def _read_header(self, container, path) -> int | None:
        """The video stream's time base, rate and duration and the container's tags, as
        its header gives them; returns the frame count they imply (None: unknown).
        InputError when the file has no video stream."""
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        self.time_base = stream.time_base
        self.metadata = dict(container.metadata)  # the container's tags (a camvideo recording says so)
        self.rate = float(stream.average_rate or stream.guessed_rate or 0.0) or None
        # the header's idea of the length: a file that ends well before it is truncated
        self.duration = video_duration(container, stream)
        count = stream.frames or None
        if not count and stream.duration and self.rate:
            count = int(round(float(stream.duration * stream.time_base) * self.rate))
        if not count and self.duration and self.rate:
            count = int(round(self.duration * self.rate))
        return count

    def _facts(self) -> dict:
        return {"location": self.location, "path": self.path, "rate": self.rate,
                "metadata": MappingProxyType(dict(self.metadata))}

    def _open(self):
        import av

        if self.url is None:
            return av.open(self.location)
        return av.open(self.location, timeout=(self.stall_s, self.stall_s))

    @property
    def interval(self) -> float:
        """Seconds from one frame to the next at the file's rate (30 fps when unknown)."""
        return 1.0 / (self.rate or 30.0)

    def _decode(self, container, start: float) -> Iterator[Frame]:
        stream = container.streams.video[0]
        decoder_threads(stream)
        index = 0
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
            index = -1  # unknown until the first frame: estimated from its time
        decoder = PacketDecoder(container, stream, self.location, skipped=self._skipped_at, on_warning=self._warn)
        step = self.interval
        # where the file's timeline starts: a first frame well after it, with damage
        # seen on the way, follows frames lost at the start
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else None
        last_time = None
        reformatter = bgr_reformatter()  # one swscale context for the pass (av_image)
        for frame in decoder:
            stamp = frame.time  # pts * time_base, as a float (None without a pts)
            if stamp is None:
                stamp = last_time + step if last_time is not None else 0.0
            marks = decoder.take_marks(stamp)
            if stamp < start - 1e-6:
                continue  # before a seek's target
            if index < 0:
                index = int(round((stamp - self.start_time) / step))
            elif last_time is None and marks and origin is not None and stamp - origin > 1.5 * step:
                index = int(round((stamp - origin) / step))
                self._damaged(Damage(0, index - 1, origin, stamp))
            elif last_time is not None and any(t > last_time + 1e-6 for t in marks):
                # damage inside the jump: frames were lost (not a variable frame rate),
                # and they keep their numbers
                lost = int(round((stamp - last_time) / step)) - 1
                if lost > 0:
                    self._damaged(Damage(index, index + lost - 1, last_time + step, stamp))
                    index += lost
            last_time = stamp
            yield Frame(av_image(frame, reformatter), index, stamp)
            index += 1
        if self.duration and last_time is not None and last_time - self.start_time + 2.5 * step < self.duration:
            self._cut_short(index, last_time)

    def _cut_short(self, index: int, last_time: float) -> None:
        """The file ended (after frame ``index - 1``, at ``last_time``) well before its
        header says: its missing tail is one ``Damage`` (``truncated``), which the
        front ends say in one line; a warning only where no frames can be named."""
        step = self.interval
        expected = self._expected or int(round(self.duration / step))
        if expected > index:
            self._damaged(Damage(index, expected - 1, last_time + step, self.start_time + self.duration,
                                 truncated=True))
        else:
            self._warn(f"{self.location}: the video ends at {last_time:.2f} s but its header says "
                       f"{self.duration:.2f} s; it may be truncated (every frame that could be decoded was kept)",
                       log)

    def _frames(self, start: float) -> Iterator[Frame]:
        offset_time, offset_index = 0.0, 0
        while True:
            last = None
            opened, self._opened = self._opened, None
            if opened is not None and start == 0.0:
                container, frames, first = opened
                frames = itertools.chain([first], frames)
            else:
                if opened is not None:
                    opened[0].close()
                container = self._open()
                frames = self._decode(container, start)
            with container:
                for decoded in frames:
                    last = decoded
                    yield replace(decoded, time=decoded.time + offset_time, index=decoded.index + offset_index) \
                        if offset_index else decoded
            if not self.loop or last is None:
                return
            offset_time += last.time - self.start_time + self.interval
            offset_index += last.index + 1
            start = 0.0

    @property
    def skipped(self) -> int:
        """Packets that could not be decoded (skipped; the frames after them were read)."""
        return len(self._skipped_at)

    def _release(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            opened[0].close()


def video_duration(container, stream) -> float | None:
    """The video stream's own length in seconds from the file's header: its duration
    (MP4, MOV), else its ``DURATION`` tag (Matroska, as FFmpeg writes it), else the
    container's when no other stream can outlast the video; None when unknown.

    Never the container's alone beside an audio or subtitle stream: a recording
    whose sound runs on after the last picture is not a truncated video."""
    if stream.duration and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = next((v for k, v in stream.metadata.items() if k.upper() == "DURATION"), None)
    if tag:
        try:
            hours, minutes, seconds = str(tag).strip().split(":")
            value = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            value = 0.0
        if value > 0:
            return value
    if len(container.streams) == len(container.streams.video) and container.duration and container.duration > 0:
        return container.duration / 1e6
    return None


def _check_file(path: Path) -> None:
    """A video path names a regular file with something in it: a named pipe would
    block the open, a device (``/dev/urandom``) never ends."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({reason(exc)})") from None
    kind = not_a_file(info.st_mode)
    if kind:
        camera = " (a camera is opened by its number: 0, 1, ...)" if kind == "a character device" else ""
        raise InputError(f"{path}: is {kind}, not a video file{camera}")
    if info.st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
