"""The one way the window runs work off the GUI thread: ``Tasks``.

A model load, the model list and a source open each run as a ``Task``: a Python
thread that calls one function and hands the outcome to the GUI thread through
one queued signal (``done(value)``, or ``failed(message)`` with a one-line
description of the exception in the window's words, ``camvideo.app.wording.window_text``). The guarantees the window needs
live here once:

- **The newest request wins.** Tasks started in the same ``lane`` supersede each
  other: an older one is *dropped*, and a dropped task never delivers. Its result
  goes to ``discard`` instead (in its own thread when it returns late; on the GUI
  thread when it had returned but was not delivered yet), so an opened source that
  nobody wants is closed, never shown. ``drop(lane)`` cancels the same way.
- **Order where it matters.** ``after=`` names threads a task waits for (bounded)
  before it calls its function; a task dropped while it waited does not call it
  (a camera is opened only once earlier opens have closed theirs); one started
  with ``always=True`` (a stop: what it stops must stop) calls it all the same.
- **Nothing runs on after close.** ``close()`` drops every task; ``join(timeout)``
  waits, bounded, for the threads that are not daemon threads. A daemon task (an
  open, which FFmpeg cannot interrupt) is not waited for and closes its own late
  result. An ``always`` task (a stop, a save) runs to its end after close, but
  reaches the GUI thread no more, and the process's exit waits for it; the exit
  does not wait for another task past close's bounded wait (``camvideo.exiting``).
- ``post(fn, *args)``: any thread -> ``fn(*args)`` on the GUI thread, in order
  per posting thread (the pipeline's callbacks and the frame slot use it); after
  ``close()`` nothing is posted, and a call posted before it that has not run yet
  is not run (the window is closing: nobody to tell).

Why not superqt's ``create_worker``/``thread_worker``: its workers run on
``QThreadPool.globalInstance()``, measured here with 2 threads on a 2-core
machine, so two opens that cannot be interrupted (a silent RTSP server, a hung
share) make the next open or a model load wait behind them; its threads are not
daemon threads, so an open that never returns holds the app at exit (a sleeping
worker delayed exit by its whole 8 s, then Qt aborted); and pool threads are not
in ``threading.enumerate()``, so the tests' no-thread-left check could not see
them (idle ones live on for 30 s).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from PyQt6.QtCore import QObject, pyqtSignal

from camvideo import exiting
from camvideo.app.wording import window_text
from camvideo.errors import CamvideoError, describe

log = logging.getLogger(__name__)

AFTER_WAIT_S = 30.0  # a task waits at most this long for each thread named in ``after``


class Task:
    """One background call; ``thread`` runs it. ``dropped``: superseded,
    cancelled or closed: it never delivers."""

    def __init__(self, task_id: int, name: str, lane: str | None, done: Callable | None = None,
                 failed: Callable | None = None, discard: Callable | None = None) -> None:
        self.id = task_id
        self.name = name
        self.lane = lane
        self.thread: threading.Thread | None = None  # set by Tasks.start
        self.dropped = False
        self.always = False  # its function is called even when dropped (only its outcome is not delivered)
        self.done, self.failed, self.discard = done, failed, discard

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def __repr__(self) -> str:
        return f"Task({self.name!r}, lane={self.lane!r}, dropped={self.dropped}, alive={self.alive})"


class Tasks(QObject):
    """Runs functions in threads; their outcomes come on this object's (GUI) thread."""

    _call = pyqtSignal(object)  # a callable, run on the GUI thread (queued)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._tasks: list[Task] = []
        self._lanes: dict[str, Task] = {}
        self._pending: dict[int, tuple[object, BaseException | None]] = {}  # returned, not yet delivered
        self._closed = False
        self._call.connect(self._run_posted)

    # -- GUI thread ---------------------------------------------------------------------
    def start(self, fn: Callable[[], object], *, name: str, done: Callable[[object], None] | None = None,
              failed: Callable[[str], None] | None = None, discard: Callable[[object], None] | None = None,
              lane: str | None = None, daemon: bool = False, after: Sequence[threading.Thread] = (),
              always: bool = False) -> Task:
        """Run ``fn()`` in a new thread named ``name``. Its value goes to ``done``,
        a failure to ``failed`` (a one-line message), on the GUI thread; a value
        that is not delivered (the task was dropped) to ``discard``. A task in
        ``lane`` drops the one that was current there. ``always``: ``fn`` is called
        even when the task is dropped before its thread gets to it (``close``)."""
        if self._closed:
            raise RuntimeError("the tasks are closed: no new task")
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        task = Task(next(self._ids), name, lane, done, failed, discard)
        task.always = always
        task.thread = threading.Thread(target=self._run, args=(task, fn, tuple(after)), name=name, daemon=daemon)
        exiting.mark(task.thread, always)  # a save or stop: the process's exit waits for it; another: bounded
        if lane is not None:
            self.drop(lane)
            self._lanes[lane] = task
        self._tasks = [t for t in self._tasks if t.alive]
        self._tasks.append(task)
        task.thread.start()
        return task

    def current(self, lane: str) -> Task | None:
        """The task of ``lane`` whose outcome is still to come (None when none)."""
        return self._lanes.get(lane)

    def drop(self, lane: str) -> Task | None:
        """Drop the current task of ``lane`` (its outcome is discarded); it, or None."""
        task = self._lanes.pop(lane, None)
        if task is not None:
            self._drop(task)
        return task

    def running(self) -> list[Task]:
        """Tasks whose thread is still alive (dropped ones included)."""
        self._tasks = [t for t in self._tasks if t.alive]
        return list(self._tasks)

    def close(self) -> None:
        """Drop every task; no new task after this."""
        self._closed = True
        for task in list(self._tasks):
            self._drop(task)
        self._lanes.clear()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds in all for the threads that are not
        daemon threads; True when none of them is left."""
        deadline = time.monotonic() + timeout
        for task in self.running():
            if not task.thread.daemon:
                task.thread.join(max(0.0, deadline - time.monotonic()))
        late = [t for t in self.running() if not t.thread.daemon]
        for task in late:
            log.error("%s did not finish within %.0f s", task.name, timeout)
        return not late

    def _drop(self, task: Task) -> None:
        with self._lock:
            task.dropped = True
            item = self._pending.pop(task.id, None)
        if item is not None:  # it had returned, its delivery was on the way: discard it here
            self._discard(task, item[0])

    def _deliver(self, task: Task) -> None:
        with self._lock:
            item = self._pending.pop(task.id, None)
        if item is None:
            return  # dropped meanwhile: discarded then
        if task.lane is not None and self._lanes.get(task.lane) is task:
            del self._lanes[task.lane]
        value, error = item
        if error is None:
            if task.done is not None:
                task.done(value)
        elif task.failed is not None:
            task.failed(window_text(error))

    # -- any thread --------------------------------------------------------------------
    def post(self, fn: Callable, *args) -> bool:
        """``fn(*args)`` on the GUI thread, soon (in order for one posting thread);
        False, and nothing posted, once closed or when this object is gone (the
        window was deleted)."""
        if self._closed:
            log.debug("%s posted after close: not run", getattr(fn, "__name__", fn))
            return False
        try:
            self._call.emit(partial(fn, *args) if args else fn)
        except RuntimeError:  # the window and its objects are gone: nobody to tell
            log.debug("%s posted after its receiver was deleted", getattr(fn, "__name__", fn))
            return False
        return True

    def _run_posted(self, fn) -> None:
        if not self._closed:  # posted before close, run after it: the window is closing
            fn()

    def _run(self, task: Task, fn: Callable[[], object], after: tuple[threading.Thread, ...]) -> None:
        for thread in after:
            thread.join(AFTER_WAIT_S)
        value, error = None, None
        if task.always or not task.dropped:  # dropped while it waited: the call is not made
            try:
                value = fn()
            except Exception as exc:  # noqa: BLE001 - any failure becomes a message
                error = exc
                if isinstance(exc, CamvideoError):
                    log.debug("%s failed: %s", task.name, describe(exc))
                else:
                    log.warning("%s failed", task.name, exc_info=True)
        with self._lock:
            deliver = not task.dropped
            if deliver:
                self._pending[task.id] = (value, error)
        if deliver and self.post(self._deliver, task):
            return
        if deliver:  # not posted (closed meanwhile, or the window is gone)
            with self._lock:
                if self._pending.pop(task.id, None) is None:
                    return  # close's drop took it and discarded it
        self._discard(task, value)  # the late result of a dropped task

    def _discard(self, task: Task, value) -> None:
        if value is None or task.discard is None:
            return
        try:
            task.discard(value)
        except Exception:  # noqa: BLE001 - a late result that fails to close is only logged
            log.warning("discarding the result of %s failed", task.name, exc_info=True)
