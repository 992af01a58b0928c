"""Which threads the process's exit waits for: one mark a thread carries, front-end neutral.

``must_finish(thread)`` is the one question ``camvideo.cli.exit`` asks of every
thread still alive when a quick exit ends the process (below). By default the answer is Python's own: a
thread that is not a daemon thread must finish (a normal exit joins it, without a
bound). A front end changes it for the threads it knows (``mark``):

- a thread whose work must not be cut (the window's save of a recording, the stop
  of what played: ``qt.tasks``' ``always`` tasks) is marked True, a daemon thread too;
- a thread that was given its bounded wait and may be cut past it is marked False:
  the window's other tasks (``qt.tasks``), and, once the window has closed, every
  thread alive that carries no mark yet (``waited_for``: its pipelines' threads,
  joined with a timeout by their stop).

The marks decide on ``camvideo.cli.exit``'s quick exit (a command that allowed it,
as the window does): it waits for every thread marked True and ends without the
rest. A command that did not allow it ends through Python's own exit, which knows
no marks: it joins every non-daemon thread and no daemon one.

Imports nothing of camvideo: the command line and the window both use it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

MUST_FINISH = "camvideo_must_finish"  # the attribute a marked thread carries (True or False)


def mark(thread: threading.Thread, must: bool) -> None:
    """Say whether the process's exit must wait for ``thread`` (see the module)."""
    setattr(thread, MUST_FINISH, bool(must))


def marked(thread: threading.Thread) -> bool | None:
    """``thread``'s mark; None when it has none."""
    value = getattr(thread, MUST_FINISH, None)
    return None if value is None else bool(value)


def must_finish(thread: threading.Thread) -> bool:
    """Must the process's exit wait for ``thread``? Its mark, or, without one, whether
    it is a non-daemon thread (as Python's own exit decides)."""
    value = marked(thread)
    return not thread.daemon if value is None else value


def waited_for(threads: Iterable[threading.Thread] | None = None) -> None:
    """``threads`` (default: every thread alive) had their bounded wait: those without a
    mark are marked False. A thread marked True keeps its mark."""
    for thread in threading.enumerate() if threads is None else threads:
        if marked(thread) is None:
            mark(thread, False)


def holding_exit() -> list[threading.Thread]:
    """The live threads, other than the main thread and the caller's, that the exit
    must wait for (``must_finish``)."""
    here = threading.current_thread()
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and t is not here and t.is_alive() and must_finish(t)]
