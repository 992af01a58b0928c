"""Buffer policies: how frames pass from a source's reader thread to its consumer,
and the one pause.

A ``Source`` decodes in its own thread and hands each ``Frame`` to its policy
(``put``); the consumer takes them (``get``). Three policies share this interface:

- ``LatestFrame`` (cameras, streams): one slot; a frame the consumer has not taken
  yet is replaced by the newer one and counted in ``dropped``. Latency stays at
  about one consumer step however slow the consumer is.
- ``BlockingQueue`` (files, folders, ``camvideo process``): a bounded queue; a fast
  reader waits for a slow consumer. Nothing is dropped, frames come in order.
- ``Paced`` (``camvideo.video.pacing``, files in the window): each frame is handed
  over when it is due on a wall clock, into a one-frame slot like ``LatestFrame``.

``policy_for`` in ``camvideo.video.reader`` is the one place a source's kind picks
its policy.

Pause lives here, in the policy, and nowhere else (``Pipeline.pause``, the
window's Space key and a ``Source`` all use it): only the policy can stop both
ends of the hand-over. A pause at the consumer alone cannot stop a producer's
clock: a paced file would play on unseen and jump ahead on resume, which is why
the window once needed a second pause in the paced source. Here ``LatestFrame``
and ``BlockingQueue`` hold frames back at ``get`` (a camera's reader keeps
reading, so its driver never queues stale pictures), and ``Paced`` holds them
back at ``put``, so its clock stops. ``step`` lets one frame (or the end) through
while paused; ``resume`` forgets steps not taken.
"""

from __future__ import annotations

import collections
import threading
from typing import ClassVar

_WAIT_S = 0.1  # a blocked wait re-checks the stop event this often (a missed wake costs no more)


class _End:
    """Sentinel: the reader has nothing more to give."""

    def __repr__(self) -> str:
        return "END"


END = _End()


class BufferPolicy:
    """The interface every policy implements; the pause is shared by all.

    Reader thread: ``put(frame, stop)`` (False when ``stop`` was set meanwhile) and
    ``end(stop)``. Consumer: ``get(timeout)`` -> the next frame or ``END``; raises
    ``TimeoutError`` when nothing passes within ``timeout`` seconds. ``reset()``
    forgets buffered frames and pending steps (the reader has stopped: a seek, a
    restart); the pause itself and ``dropped`` stay. ``wake()`` makes a blocked
    ``put`` look at its stop event now.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._steps = 0
        self.dropped = 0  # frames this policy threw away (only the newest-frame ones drop)

    # -- the pause ------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def step(self) -> None:
        """One more frame (or the end) through while paused."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def _open(self) -> bool:
        """Under the lock: may an item pass the pause now?"""
        return not self._paused or self._steps > 0

    def _passed(self) -> bool:
        """Under the lock, once an item has passed: True when it took a step."""
        if self._paused:
            self._steps -= 1
            return True
        return False

    # -- the hand-over ---------------------------------------------------------------
    def put(self, frame, stop: threading.Event) -> bool:
        raise NotImplementedError

    def end(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def get(self, timeout: float | None):
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _wait_for(self, predicate, timeout: float | None) -> None:
        """Under the lock: wait until ``predicate()``, or raise TimeoutError."""
        if not self._cond.wait_for(predicate, timeout):
            raise TimeoutError("no frame yet")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(paused={self._paused}, dropped={self.dropped})"


class LatestFrame(BufferPolicy):
    """One slot: ``put`` replaces a frame not taken yet (counted in ``dropped``)."""

    name = "latest"

    def __init__(self) -> None:
        super().__init__()
        self._item = None
        self._ended = False

    def _place(self, frame) -> None:
        """Under the lock: into the slot, replacing (dropping) an untaken frame."""
        if self._item is not None:
            self.dropped += 1
        self._item = frame
        self._cond.notify_all()

    def put(self, frame, stop: threading.Event) -> bool:
        with self._cond:
            self._place(frame)
        return not stop.is_set()

    def end(self, stop: threading.Event) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _ready(self) -> bool:
        return self._item is not None or self._ended

    def _take(self):
        """Under the lock, once ready: the frame, or END."""
        if self._item is not None:
            item, self._item = self._item, None
            return item
        return END

    def get(self, timeout: float | None):
        with self._cond:
            self._wait_for(lambda: self._ready() and self._open(), timeout)
            self._passed()
            return self._take()

    def reset(self) -> None:
        with self._cond:
            self._item, self._ended, self._steps = None, False, 0
            self._cond.notify_all()


class BlockingQueue(BufferPolicy):
    """A bounded queue of ``size`` frames: ``put`` waits while it is full."""

    name = "block"

    def __init__(self, size: int = 8) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"size must be an int, got {type(size).__name__}")
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        super().__init__()
        self.size = size
        self._items: collections.deque = collections.deque()

    def _offer(self, item, stop: threading.Event) -> bool:
        with self._cond:
            while len(self._items) >= self.size:
                if stop.is_set():
                    return False
                self._cond.wait(_WAIT_S)
            self._items.append(item)
            self._cond.notify_all()
        return True

    def put(self, frame, stop: threading.Event) -> bool:
        return self._offer(frame, stop)

    def end(self, stop: threading.Event) -> None:
        self._offer(END, stop)

    def get(self, timeout: float | None):
        with self._cond:
            self._wait_for(lambda: bool(self._items) and self._open(), timeout)
            self._passed()
            item = self._items.popleft()
            self._cond.notify_all()  # room for a waiting put
            return item

    def reset(self) -> None:
        with self._cond:
            self._items.clear()
            self._steps = 0
            self._cond.notify_all()
