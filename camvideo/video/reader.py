"""The base of every source: a reader thread that hands frames to a buffer policy.

``Source`` owns the thread (start, stop, seek, errors handed to the consumer) and
the ``Frame`` it makes; its ``policy`` (``camvideo.video.policies``) owns how the
frames reach the consumer, and the pause. ``policy_for`` is the one place a
source's kind picks that policy. ``IterableSource`` feeds any iterable of images
through the same machinery (tests, synthetic input, another library's frames).

Every source says what it is in a ``SourceInfo`` (``info``), and tells whoever
subscribes (``subscribe``) what it finds wrong while it reads: each lost stretch
as a ``Damage``, and warnings (a file cut short, a stream reopened) as a line.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from camvideo.errors import InputError
from camvideo.video.decoding import Damage
from camvideo.video.pacing import Paced
from camvideo.video.policies import END, BlockingQueue, BufferPolicy, LatestFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame as read: BGR uint8 HxWx3, C-contiguous, rotation metadata applied."""

    image: np.ndarray
    index: int  # 0-based, in source order
    time: float  # the frame's own presentation time, seconds
    captured: float = 0.0  # time.monotonic() when the reader handed it on (latency measurement)
    read_ms: float = 0.0  # time the reader spent decoding/grabbing it


@dataclass(frozen=True)
class SourceInfo:
    """What a source is, as far as known when asked (``Source.info``).

    ``kind``: "file" (a video file or an http(s) file), "images" (a folder or glob),
    "camera", "stream" or "frames" (an ``IterableSource``). ``rate``: a video
    file's own frame rate (None where the file does not say, and for every other
    kind); ``fps``: the time step of images and of an ``IterableSource``."""

    name: str
    kind: str
    live: bool
    location: str  # the path or URL as opened (a camera: its name)
    path: Path | None = None  # a local video file (its audio can be copied)
    paths: tuple[Path, ...] = ()  # the images of a folder or glob, in order
    rate: float | None = None
    fps: float | None = None
    size: tuple[int, int] | None = None  # (width, height) of the frames
    frame_count: int | None = None  # the header's word (a hint; None: unknown)
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the source reads from disk: a video file, or the images."""
        return (self.path,) if self.path is not None else self.paths


def policy_for(live: bool, *, realtime: bool = False) -> BufferPolicy:
    """The policy a source of this kind gets: the newest frame for live sources;
    for files and folders a blocking queue (nothing dropped), or, with ``realtime``
    (a person watching), ``Paced`` playback at the file's own speed."""
    if live:
        return LatestFrame()
    return Paced() if realtime else BlockingQueue()


class Source:
    """A reader thread feeding ``policy`` (None: ``policy_for(live)``).

    Subclasses implement ``_frames(start)`` -> iterator of ``Frame`` (image, index, time)
    starting at ``start`` seconds; it runs in the reader thread. ``live`` says the
    kind (a camera or a stream: no seek; the engine runs one frame in flight).
    """

    stall_s = 0.0  # a read of the subclass may block this long before it sees a stop
    kind = "frames"
    _damage: tuple[Damage, ...] = ()  # replaced (never mutated) by _damaged, in the reader thread
    _listeners: tuple[tuple[Callable | None, Callable | None], ...] = ()  # (on_damage, on_warning), replaced

    def __init__(self, name: str, *, live: bool, size: tuple[int, int] | None = None,
                 frame_count_hint: int | None = None, policy: BufferPolicy | None = None) -> None:
        if policy is None:
            policy = policy_for(live)
        elif not isinstance(policy, BufferPolicy):
            raise TypeError(f"policy must be a camvideo.video.policies.BufferPolicy, got {type(policy).__name__}")
        if live and isinstance(policy, Paced):
            raise ValueError(f"Paced playback needs a file or folder source; {name} is live")
        self.name = name
        self.live = live
        self.policy = policy
        self.size = size
        self.frame_count_hint = frame_count_hint
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._ended = False
        self._closed = False
        self._start_at = 0.0
        self._lock = threading.Lock()

    # -- subclass hooks -------------------------------------------------------
    def _frames(self, start: float) -> Iterator[Frame]:
        raise NotImplementedError

    def _release(self) -> None:
        """Free the underlying device or file (called once, by close)."""

    # -- public API -------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Frames the policy dropped (the newest-frame ones only; 0 for ``BlockingQueue``)."""
        return self.policy.dropped

    @property
    def damage(self) -> tuple[Damage, ...]:
        """The stretches of frames that could not be decoded so far, in the order
        found (``camvideo.video.decoding.describe_damage`` says them in a line)."""
        return self._damage

    @property
    def skipped(self) -> int:
        """Packets that could not be decoded and were skipped (0 where not known)."""
        return 0

    @property
    def info(self) -> SourceInfo:
        """What this source is (its size as of the last frame read)."""
        return SourceInfo(name=self.name, kind=self.kind, live=self.live, size=self.size,
                          frame_count=self.frame_count_hint, **self._facts())

    def _facts(self) -> dict:
        """The ``SourceInfo`` fields this kind of source knows (subclasses)."""
        return {"location": self.name}

    def subscribe(self, on_damage: Callable[[Damage], None] | None = None,
                  on_warning: Callable[[str], None] | None = None) -> Callable[[], None]:
        """Call ``on_damage(damage)`` for each lost stretch found from now on (once
        each), ``on_warning(line)`` for each other warning (the line as logged, the
        source's name first). Both come from the reader thread: keep them quick.
        Returns the call that unsubscribes."""
        pair = (on_damage, on_warning)
        self._listeners = (*self._listeners, pair)

        def unsubscribe() -> None:
            self._listeners = tuple(p for p in self._listeners if p is not pair)
        return unsubscribe

    def _damaged(self, damage: Damage) -> None:
        """Reader thread: note a lost stretch (once, however often it is read). Logged
        at INFO only: the front ends say it, once (``process``'s closing warning line,
        the window's timeline), from ``damage`` or ``subscribe``."""
        if damage not in self._damage:
            self._damage = (*self._damage, damage)
            log.info("%s: %s could not be decoded", self.name, damage)
            self._tell(0, damage)

    def _warn(self, line: str, logger: logging.Logger = log) -> None:
        """Reader thread: log ``line`` (it names the source) and tell the subscribers."""
        logger.warning("%s", line)
        self._tell(1, line)

    def _tell(self, which: int, what) -> None:
        for pair in self._listeners:
            if pair[which] is not None:
                try:
                    pair[which](what)
                except Exception:  # noqa: BLE001 - a bad listener must not end the reading
                    log.exception("%s: a listener failed", self.name)

    @property
    def ended(self) -> bool:
        """True once ``read`` has returned the end of the stream (until a seek)."""
        return self._ended

    @property
    def paused(self) -> bool:
        return self.policy.paused

    def pause(self) -> None:
        """Hold frames back (see ``camvideo.video.policies``: the one pause)."""
        self.policy.pause()

    def resume(self) -> None:
        self.policy.resume()

    def step(self) -> None:
        """One more frame while paused."""
        self.policy.step()

    def start(self) -> None:
        """Start the reader thread (idempotent: a reader that reached the end stays
        there; only ``seek`` reads again)."""
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.name}: the source is closed")
            if self._thread is not None:
                return
            self._stop.clear()
            self._ended = False
            self._error = None
            self._thread = threading.Thread(target=self._run, name=f"camvideo-reader:{self.name}")
            self._thread.start()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None at the end of the stream.

        Starts the reader if needed. Raises ``TimeoutError`` when ``timeout``
        seconds pass with no frame (or while paused), and ``InputError`` when the
        reader failed.
        """
        if self._ended or self._closed:
            return None
        if self._thread is None:
            self.start()
        try:
            item = self.policy.get(timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.name}: no frame within {timeout} s") from None
        if item is END:
            self._ended = True
            if self._error is not None:
                error = self._error
                if isinstance(error, InputError):
                    raise error
                raise InputError(f"{self.name}: reading failed: {error}") from error
            return None
        return item

    def seek(self, seconds: float) -> None:
        """Restart reading at ``seconds`` (files and folders only). While paused,
        the frame there comes through once, so a view can show it."""
        if self.live:
            raise ValueError(f"seek needs a file or folder source; {self.name} is live")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
        self._halt()
        self._start_at = float(seconds)
        if self.policy.paused:
            self.policy.step()
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
        self.policy.wake()  # a reader waiting in the policy sees the stop now
        thread = self._thread
        if thread is not None:
            # a stream's read may block for its whole stall time before it sees the stop
            wait = 5.0 + self.stall_s
            thread.join(wait)
            if thread.is_alive():
                self._warn(f"{self.name}: reader thread did not stop within {wait:.0f} s")
        self._thread = None
        self.policy.reset()
        self._ended = False

    def _run(self) -> None:
        try:
            frames = self._frames(self._start_at)
            while not self._stop.is_set():
                start = time.perf_counter()
                decoded = next(frames, None)
                if decoded is None:
                    break
                frame = self._stamped(decoded, (time.perf_counter() - start) * 1000.0)
                if not self.policy.put(frame, self._stop):
                    break
        except BaseException as exc:  # handed to the consumer through read()
            log.debug("%s: reader failed", self.name, exc_info=True)
            self._error = exc
        finally:
            if not self._stop.is_set() or self._error is not None:
                self.policy.end(self._stop)


    def _stamped(self, decoded: Frame, read_ms: float) -> Frame:
        """``decoded`` as handed on: BGR, C-contiguous, its time a float, stamped with
        when it was handed on and how long its read took."""
        image = decoded.image
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        image = np.ascontiguousarray(image)
        size = (image.shape[1], image.shape[0])
        if size != self.size:  # the first frame, or a stream that came back at another size
            self.size = size
        return Frame(image, decoded.index, float(decoded.time), time.monotonic(), read_ms)


class IterableSource(Source):
    """Frames from any iterable of BGR images (or ``(image, time)`` pairs): for
    tests, synthetic input and frames another library produced. ``live=True``
    gives the newest-frame policy."""

    def __init__(self, images, *, live: bool = False, name: str = "frames", fps: float = 30.0,
                 policy: BufferPolicy | None = None) -> None:
        super().__init__(name, live=live, policy=policy)
        self._images = images
        self.fps = fps

    def _facts(self) -> dict:
        return {"location": self.name, "fps": self.fps}

    def _frames(self, start: float) -> Iterator[Frame]:
        for index, item in enumerate(self._images):
            image, stamp = item if isinstance(item, tuple) else (item, index / self.fps)
            if stamp >= start - 1e-9:
                yield Frame(image, index, stamp)
