"""The end of the ``camvideo`` process: ``entry`` runs ``main`` and exits with its status.

The interpreter's own teardown after a run (freeing torch's, OpenVINO's and
OpenCV's modules one by one, C++ destructors of thread pools) costs ~0.6 s of a
quiet 2-core machine and ~1.2 s at load 6, measured from the last output closed
to the process gone: a sizeable share of a short file's run. A command whose
work is all finished and closed says so with ``allow_quick_exit()`` (``process`` on
one source, once its run has ended and its outputs were renamed or kept, also
when an output failed; the lines it prints after that go out before the exit);
``entry`` then ends the process with ``os._exit`` after doing
what a normal exit would still do:

- the ``atexit`` functions run (``logging.shutdown`` flushes the log handlers,
  ``weakref.finalize`` removes temporary folders, a coverage run saves its data);
- stdout and stderr are flushed (a failing flush, a reader gone, falls back to
  the normal exit, which reports it as Python does);
- the exit status is ``main``'s.

It does not when a normal exit has more to do (``teardown_needed``): a thread
still running that the exit must wait for (``camvideo.exiting.must_finish``: by
default a non-daemon thread, as for Python's own exit), a child process of
``multiprocessing`` still alive, or Ray imported (its driver disconnects at exit).
A thread *marked* as one that must finish (the window's save of a recording, its
stop of what played) is waited for here first, without a bound as a normal exit
would, and the quick exit then goes on.
``process`` on one source allows it, and the window (``gui``) once it has closed
(its recording finalized, its settings synced, its threads joined, all bounded
waits: every thread alive then is marked ``waited_for``, except the saves and
stops, marked to finish). There the teardown did harm: a Python thread still
inside torch's, OpenVINO's or OpenCV's native code (which release the GIL in a C++
object) calls ``pthread_exit`` when it takes the GIL back during finalization,
the unwinding meets that object's ``noexcept`` destructor, and the process ends in
``std::terminate`` ("terminate called without an active exception", status 134).
The outputs need nothing from the teardown: each is closed, synced and renamed
before ``main`` returns, and a recording is playable even after a SIGKILL.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading

from camvideo import exiting
from camvideo.runtime.signals import STOP_SIGNALS, abort_now, say_line

_ALLOWED = [False]


def allow_quick_exit() -> None:
    """The command's work is finished and every output closed: ``entry`` may skip
    the interpreter's teardown (``teardown_needed`` says when it may not)."""
    _ALLOWED[0] = True


def teardown_needed() -> str | None:
    """Why the normal exit must run (a few words), or None when skipping the teardown
    leaves nothing undone."""
    if not _ALLOWED[0]:
        return "the command did not allow it"
    if exiting.holding_exit():
        return "a thread is still running"
    if "ray" in sys.modules:
        return "Ray was used"
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.active_children():
        return "a child process is alive"
    return None


def finish_marked() -> int | None:
    """Wait, without a bound as a normal exit would, for the threads marked as ones
    that must finish (``camvideo.exiting.mark``: a recording's save, a stop). On the
    main thread a stop signal meanwhile (Ctrl-C) is answered with one line and the
    wait goes on; a second one ends the process at once (128+N, the recording stays
    playable as its ``.partial``). Returns 128+N of the first signal, else None."""
    marked = [thread for thread in exiting.holding_exit() if exiting.marked(thread)]
    if not marked or threading.current_thread() is not threading.main_thread():
        for thread in marked:
            thread.join()
        return None
    got: list[int] = []
    previous = {signum: signal.signal(signum, _waiting_handler(got)) for signum in STOP_SIGNALS}
    try:
        for thread in marked:
            thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 + got[0] if got else None


def _waiting_handler(got: list[int]):
    def handler(signum, frame) -> None:
        if got:
            abort_now(128 + signum)
        got.append(signum)
        say_line("camvideo: finishing a recording's save before the end (again to stop at once)")
    return handler


def quick_exit(code: int) -> None:
    """End the process with ``code``: at once when ``teardown_needed`` says nothing is
    left to do (after the atexit functions and a flush of stdout and stderr), else
    through ``sys.exit``. A quick exit first waits for the threads marked to finish
    (``finish_marked``)."""
    if _ALLOWED[0]:
        code = finish_marked() or code
    if teardown_needed() is not None:
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)  # a stream that cannot be flushed: Python's own exit says so
    os._exit(code)


def entry() -> None:
    """The ``camvideo`` command: ``main`` and its exit status (``quick_exit``)."""
    from camvideo.cli.parser import main

    quick_exit(main())
