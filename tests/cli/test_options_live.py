"""``localizer_from_args``: the forward pass a front end's source gets. A live
source (a camera, a stream, a single image) compiles OpenVINO for latency, one
stream over every core, its threads not pinned; a file compiles for throughput, the streams of one
thread each that files run side by side (issue 24, live latency)."""

from __future__ import annotations

import pytest

from camvideo.cli.parser import build_parser
from camvideo.settings import LocalizeSettings

pytestmark = pytest.mark.timeout(300)


def _compiled(args, live: bool):
    from camvideo.cli.options import localizer_from_args
    from camvideo.runtime.openvino import OpenVINOForward

    localizer = localizer_from_args(args, LocalizeSettings(topk=3), live=live, frame_size=(640, 480))
    forward = localizer.method.forward
    assert isinstance(forward, OpenVINOForward)
    assert forward.sizes == [(224, 288)]  # the balanced preset's input for 4:3 frames, nothing else
    compiled = forward._shapes[(224, 288)].compiled
    return forward, {key: str(compiled.get_property(key))
                     for key in ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING")}


def test_a_live_source_compiles_for_latency_on_every_core_a_file_for_throughput(openvino_lite0):
    args = build_parser().parse_args(["process", "in.mp4", "--runtime", "openvino", "--device", "cpu"])
    live, live_props = _compiled(args, live=True)
    file, file_props = _compiled(args, live=False)
    assert live.mode == "latency" and live_props["PERFORMANCE_HINT"] == "LATENCY"
    assert live_props["NUM_STREAMS"] == "1" and live.jobs == 1  # one frame in flight, one request
    assert live_props["ENABLE_CPU_PINNING"] == "False"  # its threads may leave a core another process holds
    assert file.mode == "throughput" and file_props["PERFORMANCE_HINT"] == "THROUGHPUT"
    # The live stream's threads are every core the file's streams share between them.
    assert int(live_props["INFERENCE_NUM_THREADS"]) == int(file_props["INFERENCE_NUM_THREADS"]) >= 1
    assert int(file_props["NUM_STREAMS"]) >= 1 and file.jobs >= int(file_props["NUM_STREAMS"])
