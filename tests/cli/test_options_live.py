"""``localizer_from_args``: the forward pass a front end's source gets. A live
source (a camera, a stream, a single image) compiles OpenVINO for latency, one
stream over every core, its threads not pinned; a file compiles for throughput, the streams of one
thread each that files run side by side (issue 24, live latency).

The compiles run in a child process: in a pytest process that had made and released
a latency and a throughput compile, a later in-process SIGTERM (tests/cli/
test_process_signals.py) crashed the process with SIGSEGV (OpenVINO 2026.x; not
seen outside pytest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
KEYS = ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING")
CODE = f"""
import json
from camvideo.cli.options import localizer_from_args
from camvideo.cli.parser import build_parser
from camvideo.settings import LocalizeSettings
args = build_parser().parse_args(["process", "in.mp4", "--runtime", "openvino", "--device", "cpu"])
out = {{}}
for live in (True, False):
    forward = localizer_from_args(args, LocalizeSettings(topk=3), live=live, frame_size=(640, 480)).method.forward
    compiled = forward._shapes[(224, 288)].compiled
    out["live" if live else "file"] = {{"kind": type(forward).__name__, "sizes": forward.sizes, "mode": forward.mode,
        "jobs": forward.jobs, **{{k: str(compiled.get_property(k)) for k in {KEYS!r}}}}}
print(json.dumps(out))
"""


def test_a_live_source_compiles_for_latency_on_every_core_a_file_for_throughput():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    props = json.loads(proc.stdout.strip().splitlines()[-1])
    live, file = props["live"], props["file"]
    assert live["kind"] == file["kind"] == "OpenVINOForward"
    assert live["sizes"] == file["sizes"] == [[224, 288]]  # the balanced preset's input for 4:3 frames, nothing else
    assert live["mode"] == "latency" and live["PERFORMANCE_HINT"] == "LATENCY"
    assert live["NUM_STREAMS"] == "1" and live["jobs"] == 1  # one frame in flight, one request
    assert live["ENABLE_CPU_PINNING"] == "False"  # its threads may leave a core another process holds
    assert file["mode"] == "throughput" and file["PERFORMANCE_HINT"] == "THROUGHPUT"
    # The live stream's threads are every core the file's streams share between them.
    assert int(live["INFERENCE_NUM_THREADS"]) == int(file["INFERENCE_NUM_THREADS"]) >= 1
    assert int(file["NUM_STREAMS"]) >= 1 and file["jobs"] >= int(file["NUM_STREAMS"])
