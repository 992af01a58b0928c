"""The sinks a pipeline writes each finished frame to (``SinkSet``).

Each frame goes to every sink in turn, behind one lock (a sink is added or removed
between two frames). A sink that fails is detached, its file kept as far as
written, closed, and reported once as an ``OutputError`` (``on_failed``); the
other sinks carry on. ``close`` closes them all and gives the first error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from camvideo.errors import CamvideoError, OutputError
from camvideo.frames import ProcessedFrame, Sink

log = logging.getLogger(__name__)


class SinkSet:
    """``sinks`` written in order; ``on_failed(error)`` hears of each one that fails
    (called with the lock held, from the thread that writes: keep it quick)."""

    def __init__(self, sinks: Iterable[Sink], on_failed: Callable[[CamvideoError], None]) -> None:
        self._sinks: list = list(sinks)
        self._lock = threading.Lock()
        self._on_failed = on_failed

    @property
    def sinks(self) -> tuple:
        with self._lock:
            return tuple(self._sinks)

    def add(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove(self, sink: Sink) -> None:
        """Detach ``sink`` (after the frame being written) and close it."""
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
        sink.close()

    def write(self, item: ProcessedFrame) -> None:
        """``item`` to every sink; one that fails is detached, closed and reported."""
        with self._lock:
            for sink in tuple(self._sinks):
                try:
                    sink.write(item)
                except Exception as exc:  # noqa: BLE001 - one sink failing keeps the others
                    self._failed(sink, exc)

    def _failed(self, sink, exc: Exception) -> None:
        """With the lock held: detach the sink, keep its file, report the error."""
        error = as_output_error(sink, exc)
        log.debug("%s", error)
        self._sinks.remove(sink)
        try:
            sink.close()
        except Exception as close_exc:  # noqa: BLE001
            log.debug("closing the failed sink: %s", close_exc)
        self._on_failed(error)

    def close(self) -> CamvideoError | None:
        """Detach and close every sink (each one, whatever the others do): the first
        close error, as an ``OutputError``; None when all closed well."""
        with self._lock:
            sinks, self._sinks = self._sinks, []
        first_error = None
        for sink in sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - keep closing the others
                log.error("closing %s failed: %s", type(sink).__name__, exc)
                first_error = first_error or as_output_error(sink, exc)
        return first_error


def as_output_error(sink, exc: BaseException) -> CamvideoError:
    """``exc`` from ``sink`` as the error a front end words: a camvideo error as it is,
    else an ``OutputError`` naming the sink's file."""
    if isinstance(exc, CamvideoError):
        return exc
    where = getattr(sink, "path", None) or type(sink).__name__
    if isinstance(exc, OSError):
        return OutputError(f"cannot write {where}: {exc.strerror or exc}")
    return OutputError(f"writing {where} failed: {exc}")
