"""Opening sources off the GUI thread: the window never waits for FFmpeg or a camera.

Opening a stream that does not answer blocks in FFmpeg until its timeout (5 s for
``StreamSource``), a camera may take seconds, a network share as long as it likes.
``SourceOpener`` runs each open as a background task (``camvideo.qt.tasks``, as
the model loader does) and hands the result to the GUI thread.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass

from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.qt.tasks import Tasks
from camvideo.video.spec import SourceSpec

log = logging.getLogger(__name__)

LANE = "open"  # one request counts at a time: the newest


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

    # a file plays at its own speed, as a camera would; a stream that drops is reopened while the window shows it
    return open_source(spec, loop=loop, realtime=True, stream_retries=None)


class SourceOpener(QObject):
    """Opens one source at a time in a background thread; the newest request wins.

    ``done(request, source, message)`` comes on the GUI thread for the request in
    flight only: ``source`` is the opened Source (the receiver owns it) or None
    with a one-line ``message``. Superseded and cancelled requests never signal;
    their late results are closed (``discarded`` counts them).
    """

    done = pyqtSignal(object, object, str)

    def __init__(self, open_fn=_open_source, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_fn = open_fn
        self._ids = itertools.count(1)
        self._tasks = Tasks(parent=self)
        self._requests: dict[int, OpenRequest] = {}  # task id -> its request, while its thread runs
        self._lock = threading.Lock()  # ``discarded`` is counted in the open threads too
        self.discarded = 0  # late results of superseded or cancelled requests, closed unseen

    @property
    def current(self) -> OpenRequest | None:
        """The request in flight (None when none)."""
        task = self._tasks.current(LANE)
        return self._requests.get(task.id) if task is not None else None

    @property
    def threads(self) -> list[threading.Thread]:
        """Open threads still running (a dropped request's thread included)."""
        return [task.thread for task in self._running()]

    def _running(self):
        """The open tasks still running; forgets the requests of the others."""
        running = self._tasks.running()
        current = self._tasks.current(LANE)
        keep = {task.id for task in running} | ({current.id} if current is not None else set())
        self._requests = {k: r for k, r in self._requests.items() if k in keep}
        return running

    def start(self, spec, *, loop: bool = False, report: bool = True,
              after: Sequence[threading.Thread] = ()) -> OpenRequest:
        """Open ``spec`` in a new thread, superseding the request in flight; the
        open waits (bounded) for the threads in ``after`` first (the session's
        stop of the old camera)."""
        request = OpenRequest(next(self._ids), SourceSpec.parse(spec, probe=False).text, loop, report)
        # a camera may not open twice: a camera request waits for earlier camera opens
        earlier = [t.thread for t in self._running() if t.id in self._requests and self._requests[t.id].camera] \
            if request.camera else []
        task = self._tasks.start(lambda: self._open_fn(request.spec, loop=request.loop),
                                 name=f"camvideo-open:{request.spec}", lane=LANE, daemon=True,
                                 after=[*earlier, *after],
                                 done=lambda source: self.done.emit(request, source, ""),
                                 failed=lambda message: self.done.emit(request, None, message),
                                 discard=self._discard)
        self._requests[task.id] = request
        return request

    def cancel(self) -> OpenRequest | None:
        """Drop the request in flight (its late result is closed unseen); it, or None."""
        task = self._tasks.drop(LANE)
        return self._requests.get(task.id) if task is not None else None

    def close(self) -> None:
        """Cancel; no request after this. Does not wait: see the module doc."""
        self._tasks.close()

    def wait(self, timeout: float) -> bool:
        """Join the open threads for up to ``timeout`` seconds; True when none is left."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.threads

    def _discard(self, source) -> None:
        """A late result (its request was dropped): closed, never shown (any thread)."""
        with self._lock:
            self.discarded += 1
        try:
            source.close()
        except Exception:  # noqa: BLE001 - a late result that fails to close is only logged
            log.warning("closing the superseded source %s failed", getattr(source, "name", "?"), exc_info=True)
