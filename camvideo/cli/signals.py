"""The command line's guard around a run's outputs, for an abort by a second signal.

The stop signals themselves (``StopSignals``, ``Aborted``, ``say``) are in
``camvideo.runtime.signals``, which the window uses too.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class GuardedSinks:
    """The outputs of a run behind one lock, so that an abort can close them
    between two frames: ``guard(sink)`` gives the sink to hand to the pipeline."""

    ABORT_WAIT_S = 1.0  # a sink stuck longer (a full disk, a hung NFS) is left as it is

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._sinks: list = []

    def guard(self, sink):
        self._sinks.append(sink)
        return _Guarded(sink, self)

    def keep_partial(self) -> None:
        """Mark every output incomplete (a stop before a file source's end): closing,
        also by an abort, keeps them as playable ``.partial`` files, so a part of the
        source never takes an output's name (nor replaces a whole earlier output)."""
        for sink in self._sinks:
            sink.abandon()

    def __enter__(self) -> GuardedSinks:
        """The lock held by this thread (``with guard:``; no generator: it runs once a
        sink a frame)."""
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *exc) -> None:
        self._owner = None
        self._lock.release()

    def held(self) -> GuardedSinks:
        """The lock as a context manager (``with guard.held():``)."""
        return self

    def write(self, sink, item) -> None:
        """``sink.write(item)`` with the lock held."""
        with self:
            sink.write(item)

    def close_now(self) -> bool:
        """Close every sink (a recording's encoder flushed, its container closed and
        renamed): False when they could not be had within ``ABORT_WAIT_S``, or when
        this very thread was inside one of them (the signal interrupted it). The
        lock stays held: no frame is written after."""
        if self._owner == threading.get_ident():
            return False
        if not self._lock.acquire(timeout=self.ABORT_WAIT_S):
            return False
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - close the others; the process ends anyway
                log.error("%s", exc)
        return True


class _Guarded:
    """A sink whose ``write`` and ``close`` take the ``GuardedSinks`` lock; every
    other attribute (``path``, ``frames_written``) is the sink's own."""

    def __init__(self, sink, guard: GuardedSinks) -> None:
        self._sink = sink
        self._guard = guard

    def write(self, item) -> None:
        self._guard.write(self._sink, item)

    def close(self) -> None:
        with self._guard.held():
            self._sink.close()

    def __getattr__(self, name: str):
        return getattr(self._sink, name)
