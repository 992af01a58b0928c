"""Real-time playback of files for the window: a thin adapter over a core Source.

The core reads files as fast as the consumer takes them and drops nothing (right
for ``camvideo process``). A person watching wants the file at its own speed with
the latency of a camera: ``PacedSource`` wraps a file source, releases each frame
when it is due (its presentation time on a wall clock) and keeps only the newest
due frame, like a live source. When the model is slower than the file, late
frames are skipped (counted in ``dropped``) instead of piling up; every frame
that reaches the window is also the one recorded.

A frame is stamped ``captured`` when it becomes due, as a camera would stamp it,
so the capture -> paint latency means the same for files and cameras.

``hold()`` stops the clock (pause); ``release_one()`` lets one frame through
while held (step); after a seek while held, the frame there comes through once. The clock re-anchors after a hold, a seek,
a jump in stream time, or when the reader itself fell behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from camvideo.video.sources import Source, _LatestSlot

MAX_LAG_S = 0.25  # later than this and the clock restarts at the current frame
MAX_JUMP_S = 1.0  # a forward jump in stream time larger than this restarts the clock


class PacedSource(Source):
    """A file or folder source played in real time; cameras need no pacing."""

    def __init__(self, inner: Source, speed: float = 1.0) -> None:
        if inner.live:
            raise ValueError(f"PacedSource needs a file or folder source; {inner.name} is live")
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        super().__init__(inner.name, live=False, size=inner.size, frame_count_hint=inner.frame_count_hint)
        # Not live (seek works) but with the latest-frame policy: see the module doc.
        # (Adapter over sources.py internals; a `policy=` argument there would replace it.)
        self.policy = "latest"
        self._buffer = _LatestSlot()
        self.inner = inner
        self.speed = speed
        self.rate = getattr(inner, "rate", None)
        self._hold = threading.Condition()
        self._held = False
        self._steps_left = 0

    def hold(self, held: bool = True) -> None:
        with self._hold:
            self._held = held
            if not held:
                self._steps_left = 0
            self._hold.notify_all()

    def release_one(self) -> None:
        with self._hold:
            self._steps_left += 1
            self._hold.notify_all()

    def _gate(self, first: bool) -> bool | None:
        """None when stopping; True for a frame released while held (no pacing).
        The first frame after a (re)start passes a hold: a seek while paused shows it."""
        with self._hold:
            if first and self._held:
                return True
            while self._held and self._steps_left == 0:
                if self._stop.is_set():
                    return None
                self._hold.wait(0.05)
            if self._held:
                self._steps_left -= 1
                return True
            return False

    def _frames(self, start: float) -> Iterator[tuple[np.ndarray, float, int]]:
        self.inner.seek(start)  # also from 0: a replay or a seek back to the start rewinds
        anchor: float | None = None  # wall-clock time of stream time 0
        last: float | None = None
        first = True
        while not self._stop.is_set():
            stepped, first = self._gate(first), False
            if stepped is None:
                return
            frame = None
            while frame is None and not self._stop.is_set():
                try:
                    frame = self.inner.read(timeout=0.1)
                except TimeoutError:
                    continue
                if frame is None:
                    return  # the end of the file
            if frame is None:
                return
            if stepped:
                anchor = None  # the clock restarts on resume
                yield frame.image, frame.time, frame.index
                continue
            now = time.monotonic()
            t = frame.time / self.speed
            if anchor is None or last is None or t < last or t - last > MAX_JUMP_S or now - (anchor + t) > MAX_LAG_S:
                anchor = now - t
            last = t
            delay = anchor + t - now
            if delay > 0 and self._stop.wait(delay):
                return
            yield frame.image, frame.time, frame.index

    @property
    def dropped(self) -> int:
        return super().dropped + self.inner.dropped

    def _release(self) -> None:  # Source's hook: free the wrapped source
        self.inner.close()
