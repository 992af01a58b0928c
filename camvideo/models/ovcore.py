"""The process's one ``openvino.Core``: every compile in camvideo goes through it.

One Core, made on first use and never released, because each Core loads its own
instance of OpenVINO's CPU plugin, and that instance (``SigAltStackSetup`` in
OpenVINO's intel_cpu plugin, 2026.4) puts an alternate signal stack of its own
on the thread that loads it, keeping the one it replaced. Released, it puts the
replaced one back only if its own is still the thread's, and unmaps its own
either way. Two Cores made on one thread and released in the order they were
made (the second's "replaced" stack is the first's, already unmapped) left the
thread's alternate stack pointing at unmapped memory; the next signal with a
Python handler (Python installs every handler with ``SA_ONSTACK``) then ended
the process with SIGSEGV inside ``kill``, no handler run, faulthandler silent
(the kernel could not write the signal frame). With one Core there is one plugin
instance, whose stack stays mapped as long as the process runs. (OpenVINO's own
advice, ``ov::Core``'s reference: one Core per application; each Core creates
its plugins again.)
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_core: list = []  # the Core, once made


def core():
    """The process's ``openvino.Core``, made on the first call (thread-safe).
    Compile with it; never make another (see the module). Configurations go with
    each ``compile_model`` call, never on the Core, so the users do not meet."""
    with _lock:
        if not _core:
            sys.modules.setdefault("openvino_telemetry", None)  # no usage events (see camvideo/__init__.py)
            import openvino as ov

            _core.append(ov.Core())
        return _core[0]
