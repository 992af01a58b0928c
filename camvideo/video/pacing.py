"""Real-time playback of files for the window: the ``Paced`` buffer policy.

The core reads files as fast as the consumer takes them and drops nothing (right
for ``camvideo process``). A person watching wants the file at its own speed with
the latency of a camera: a file source opened with ``Paced`` (``open_source(spec,
realtime=True)``) hands each frame over when it is due (its presentation time on a
wall clock) and keeps only the newest due frame, like a live source. When the
model is slower than the file, late frames are skipped (counted in ``dropped``)
instead of piling up; every frame that reaches the window is also the one recorded.

A frame is stamped ``captured`` when it becomes due, as a camera would stamp it,
so the capture -> paint latency means the same for files and cameras.

The pause (``BufferPolicy.pause``) holds frames back in the reader, so the clock
stops; ``step`` lets one frame through at once. The clock re-anchors after a
pause or a step, a seek (``reset``), a jump in stream time, or when the reader
itself fell behind.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

from camvideo.video.policies import LatestFrame

MAX_LAG_S = 0.25  # later than this and the clock restarts at the current frame
MAX_JUMP_S = 1.0  # a forward jump in stream time larger than this restarts the clock


class Paced(LatestFrame):
    """A file played at ``speed`` times its own pace; late frames are dropped.

    The pause is applied in the reader between frames, as a frame is handed over
    (and before the first one after a start or a seek): a frame already decoded
    and waiting for its time still comes, as the one in flight would.
    """

    name = "paced"

    def __init__(self, speed: float = 1.0) -> None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise TypeError(f"speed must be a number, got {type(speed).__name__}")
        if not math.isfinite(speed) or not speed > 0:
            raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
        super().__init__()
        self.speed = float(speed)
        self._anchor: float | None = None  # wall-clock time of stream time 0
        self._last: float | None = None
        self._first = True  # the pause is looked at before the next frame (a start, a seek)
        self._released = False  # the pause let the next frame go at once (a step, or a resume)

    def _gate(self, stop: threading.Event) -> bool | None:
        """Under the lock: wait while paused. None when stopping, True when the
        next item goes at once (a step; or it waited: the clock restarts)."""
        waited = False
        while not self._open():
            if stop.is_set():
                return None
            waited = True
            self._cond.wait(0.05)
        return self._passed() or waited

    def put(self, frame, stop: threading.Event) -> bool:
        if self._first:
            with self._cond:
                released = self._gate(stop)
            if released is None:
                return False
            self._first, self._released = False, released
        now = time.monotonic()
        t = frame.time / self.speed
        anchor, last = self._anchor, self._last
        if (self._released or anchor is None or last is None or t < last or t - last > MAX_JUMP_S
                or now - (anchor + t) > MAX_LAG_S):
            anchor = self._anchor = now - t  # the clock (re)starts at this frame: it goes now
        self._last = t
        delay = anchor + t - now
        if delay > 0 and stop.wait(delay):
            return False
        with self._cond:
            self._place(dataclasses.replace(frame, captured=time.monotonic()))
            released = self._gate(stop)  # in the same hold of the lock: a pause after this frame holds the next
        if released is None:
            return False
        self._released = released
        return not stop.is_set()

    def end(self, stop: threading.Event) -> None:
        with self._cond:
            if self._first and self._gate(stop) is None:  # the end waits for a step, as a frame would
                return
            self._ended = True
            self._cond.notify_all()

    def get(self, timeout: float | None):
        # the pause was applied by the reader (``_gate``): what is in the slot may go
        with self._cond:
            self._wait_for(self._ready, timeout)
            return self._take()

    def reset(self) -> None:
        super().reset()
        self._anchor = self._last = None
        self._first, self._released = True, False
