"""The process's one OpenVINO Core: every compile goes through it, and compiles
released in the order they were made leave the thread's signals working.

Each Core loaded its own CPU plugin instance, which put an alternate signal stack
of its own on the loading thread and, released, put back the one it replaced only
if its own was still current, unmapping its own either way. Two released in the
order made left the thread's alternate stack on unmapped memory, and the next
signal with a Python handler ended the process with SIGSEGV (a pytest process
that had made the command line's live and file compiles, then sent itself
SIGTERM). The checks run in a child process: the failure is a crash."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import camvideo.runtime  # noqa: F401 - first: OpenVINO imported without its usage telemetry

pytest.importorskip("openvino")

from camvideo.models.ovcore import core  # noqa: E402

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "camvideo"

# The calling thread's alternate signal stack, and whether it lies in mapped memory.
ALTSTACK = """
import ctypes, signal, os

class Stack(ctypes.Structure):
    _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]

def altstack_ok():
    stack = Stack()
    assert ctypes.CDLL(None).sigaltstack(None, ctypes.byref(stack)) == 0
    if stack.flags & 2 or not stack.sp:  # SS_DISABLE: none, signals run on the thread's stack
        return True
    with open("/proc/self/maps") as maps:
        spans = [[int(v, 16) for v in line.split()[0].split("-")] for line in maps]
    return any(lo <= stack.sp and stack.sp + stack.size <= hi for lo, hi in spans)
"""

# The command line's live and file compiles of lite0 (cli/options.py), released in the order made.
FORWARDS = """
from camvideo.models import load_model
from camvideo.runtime.openvino import OpenVINOForward
model = load_model("lite0", device="cpu")
live = OpenVINOForward(model, mode="latency", sizes=[(224, 288)])
file = OpenVINOForward(model, mode="throughput", sizes=[(224, 288)])
del live
del file
"""

# An exported graph run straight (GraphFeatures: one compile per input size), then dropped.
GRAPH = """
import sys, torch
from camvideo.models.exported import load_exported
model = load_exported(sys.argv[1])
for size in (64, 96):
    model.features(torch.zeros(1, 3, size, size))
del model
"""

SIGNAL = """
import gc
gc.collect()
print("altstack ok" if altstack_ok() else "altstack on unmapped memory", flush=True)
got = []
signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
os.kill(os.getpid(), signal.SIGTERM)
print("handled", got, flush=True)
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    sys.path.insert(0, str(ROOT / "tests"))
    import exported_graphs

    return exported_graphs.export_onnx(exported_graphs.GapNet(), tmp_path_factory.mktemp("graph") / "gap.onnx")


def test_one_core_for_the_process_and_its_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(core())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all(made is core() for made in seen)


def test_no_module_makes_a_core_of_its_own():
    """Read from the source: ``Core(...)`` is called in models/ovcore.py only."""
    makers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "Core":
                    makers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(makers) == 1 and makers[0].startswith("camvideo/models/ovcore.py:"), makers


def test_a_forward_compiles_with_the_one_core(openvino_lite0):
    from camvideo.runtime.openvino import OpenVINOForward

    model, _ = openvino_lite0
    forward = OpenVINOForward(model, mode="latency")
    assert forward._core is core()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenVINO's CPU plugin sets the stack on Linux")
@pytest.mark.parametrize("made", ["forwards", "graph"])
def test_compiles_released_in_the_order_made_leave_signals_working(made, openvino_lite0, request):
    code = ALTSTACK + (FORWARDS if made == "forwards" else GRAPH) + SIGNAL
    args = [str(request.getfixturevalue("graph"))] if made == "graph" else []
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    ended = f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else proc.returncode
    assert proc.returncode == 0, f"ended by {ended}\n{proc.stdout}{proc.stderr[-2000:]}"
    assert "altstack ok" in proc.stdout
    assert f"handled [{int(signal.SIGTERM)}]" in proc.stdout  # the Python handler ran
