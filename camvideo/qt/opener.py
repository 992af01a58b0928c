"""Opening sources off the GUI thread: the window never waits for FFmpeg or a camera.

Opening a stream that does not answer blocks in FFmpeg until its timeout (5 s for
``StreamSource``), a camera may take seconds, a network share as long as it likes.
``SourceOpener`` runs each open in its own thread and hands the result to the GUI
thread through a queued signal, as ``Session`` does for model loads.

One request counts at a time: a newer request supersedes the one in flight, and
``cancel`` drops it. An open cannot be interrupted (FFmpeg and OpenCV give no
handle for that), so a dropped request's thread runs on until the open returns;
whatever it opened then is closed in that thread, never shown. Those threads are
daemon threads: closing the window does not wait for them (an open that never
returns would hold the app), and each closes its own result when it returns.

A camera may not open twice: a camera request waits (in its thread) until the
threads of earlier camera requests have returned and closed what they opened.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass

from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.errors import CamvideoError, describe
from camvideo.video.spec import SourceSpec

log = logging.getLogger(__name__)

CAMERA_WAIT_S = 30.0  # a camera request waits this long for earlier opens to return


@dataclass(frozen=True)
class OpenRequest:
    """One call to ``SourceOpener.start``."""

    id: int
    spec: str
    loop: bool = False
    report: bool = True  # a failure goes to the window's error banner (else only the log)

    @property
    def camera(self) -> bool:
        return SourceSpec.parse(self.spec, probe=False).kind == "camera"


def _open_source(spec: str, *, loop: bool):
    from camvideo.video.sources import open_source

    return open_source(spec, loop=loop, realtime=True)  # a file plays at its own speed, as a camera would


class SourceOpener(QObject):
    """Opens one source at a time in a background thread; the newest request wins.

    ``done(request, source, message)`` comes on the GUI thread for the request in
    flight only: ``source`` is the opened Source (the receiver owns it) or None
    with a one-line ``message``. Superseded and cancelled requests never signal;
    their late results are closed (``discarded`` counts them).
    """

    done = pyqtSignal(object, object, str)
    _returned = pyqtSignal(int)  # worker thread -> GUI thread (queued)

    def __init__(self, open_fn=_open_source, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_fn = open_fn
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._current: OpenRequest | None = None
        self._results: dict[int, tuple[OpenRequest, object, str]] = {}
        self._threads: list[tuple[OpenRequest, threading.Thread]] = []
        self._closed = False
        self.discarded = 0  # late results of superseded or cancelled requests, closed unseen
        self._returned.connect(self._on_returned)

    @property
    def current(self) -> OpenRequest | None:
        """The request in flight (None when none)."""
        return self._current

    @property
    def threads(self) -> list[threading.Thread]:
        """Open threads still running (a dropped request's thread included)."""
        self._prune()
        return [t for _r, t in self._threads]

    def _prune(self) -> None:
        self._threads = [(r, t) for r, t in self._threads if t.is_alive()]

    def start(self, spec, *, loop: bool = False, report: bool = True) -> OpenRequest:
        """Open ``spec`` in a new thread, superseding the request in flight."""
        if self._closed:
            raise RuntimeError("the opener is closed")
        request = OpenRequest(next(self._ids), SourceSpec.parse(spec, probe=False).text, loop, report)
        self._prune()
        # a camera may not open twice: a camera request waits for earlier camera opens
        earlier = [t for r, t in self._threads if r.camera] if request.camera else []
        with self._lock:
            self._current = request
            stale = self._take_results()
        self._close_all(stale)
        thread = threading.Thread(target=self._run, args=(request, earlier),
                                  name=f"camvideo-open:{request.spec}", daemon=True)
        self._threads.append((request, thread))
        thread.start()
        return request

    def cancel(self) -> OpenRequest | None:
        """Drop the request in flight (its late result is closed unseen); it, or None."""
        with self._lock:
            request, self._current = self._current, None
            stale = self._take_results()
        self._close_all(stale)
        return request

    def close(self) -> None:
        """Cancel; no request after this. Does not wait: see the module doc."""
        with self._lock:
            self._closed = True
        self.cancel()

    def wait(self, timeout: float) -> bool:
        """Join the open threads for up to ``timeout`` seconds; True when none is left."""
        import time

        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.threads

    # -- internals ------------------------------------------------------------------
    def _take_results(self) -> list:
        """Under the lock: results that arrived for requests no longer current."""
        stale = [item for item in self._results.values() if item[0] is not self._current]
        self._results = {k: v for k, v in self._results.items() if v[0] is self._current}
        return stale

    def _close_all(self, stale) -> None:
        for _request, source, _message in stale:
            self._discard(source)

    def _discard(self, source) -> None:
        if source is None:
            return
        self.discarded += 1
        try:
            source.close()
        except Exception:  # noqa: BLE001 - a late result that fails to close is only logged
            log.warning("closing the superseded source %s failed", getattr(source, "name", "?"), exc_info=True)

    def _run(self, request: OpenRequest, earlier: list[threading.Thread]) -> None:
        for thread in earlier:  # a camera may not open twice: let earlier opens close theirs
            thread.join(CAMERA_WAIT_S)
        source, message = None, ""
        if self._current is request:  # not dropped while waiting
            try:
                source = self._open_fn(request.spec, loop=request.loop)
            except Exception as exc:  # noqa: BLE001 - a failure to open is a message
                if not isinstance(exc, CamvideoError):
                    log.warning("opening %s failed", request.spec, exc_info=True)
                message = describe(exc)
        with self._lock:
            current = self._current is request and not self._closed
            if current:
                self._results[request.id] = (request, source, message)
        if not current:
            self._discard(source)  # the late result of a dropped request
            return
        self._returned.emit(request.id)

    def _on_returned(self, request_id: int) -> None:
        with self._lock:
            item = self._results.pop(request_id, None)
            if item is None or item[0] is not self._current:
                return  # dropped meanwhile (its result was closed then)
            self._current = None
        request, source, message = item
        self.done.emit(request, source, message)
