"""The limit a machine sets a file's end-to-end run: the parts nobody can skip, each alone.

A file run must decode every frame, run the forward pass on it and encode it again.
``measure_limit`` times each of these alone, on one thread, in CPU milliseconds a
frame: decoding the bench clip to BGR (PyAV), the forward pass of the run's own
localizer at the run's preset input size (its runtime, at one thread), and x264 at
the recorder's preset, with the recorder's yuv420p conversion. Spread perfectly over
the machine's cores they bound the run
at ``cores * 1000 / (decode + forward + encode)`` frames a second: the limit. The
end-to-end figure is then reported as a fraction of it (what the code around the
unavoidable parts costs: maps, boxes, overlay, colour conversions, queues, Python).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _cpu_ms(work: Callable[[], int]) -> float:
    """CPU milliseconds per item of ``work()`` (which returns how many items it did)."""
    t0 = time.process_time()
    count = work()
    return (time.process_time() - t0) * 1000.0 / max(1, count)


def decode_ms(clip: Path) -> float:
    """Per frame: the clip decoded to BGR arrays on one thread (PyAV, as the file source does)."""
    import av

    from camvideo.video.decoding import av_image, bgr_reformatter

    def work() -> int:
        reformatter = bgr_reformatter()
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1
            return sum(1 for frame in container.decode(stream) if av_image(frame, reformatter) is not None)

    return _cpu_ms(work)


def encode_ms(frames: list[np.ndarray], preset: str, out: Path) -> float:
    """Per frame: ``frames`` encoded with x264 at ``preset`` on one thread, as the
    recorder does it (its yuv420p conversion, ``Recorder.yuv420p_frame``, included)."""
    import av

    from camvideo.video.recorder import crf_for, yuv420p_frame

    height, width = frames[0].shape[:2]

    def work() -> int:
        with av.open(str(out), "w") as container:
            stream = container.add_stream("libx264", rate=30, options={"preset": preset, "tune": "zerolatency",
                                                                        "crf": str(crf_for(preset))})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.thread_count = 1
            for image in frames:
                container.mux(stream.encode(yuv420p_frame(image)))
            container.mux(stream.encode())
        return len(frames)

    return _cpu_ms(work)


def forward_ms(localizer, frames: list[np.ndarray], rounds: int = 2, batch: int = 1) -> float:
    """Per frame: the forward half of ``localizer`` (preprocessing and the forward
    passes of its preset), ``batch`` frames at a time as the file run passes them,
    after one warm-up batch."""
    batch = max(1, min(batch, len(frames)))  # a clip shorter than the batch: one batch of it all
    localizer.forward(frames[:batch])
    batches = [frames[i:i + batch] for i in range(0, len(frames) - batch + 1, batch)]

    def work() -> int:
        for _ in range(rounds):
            for group in batches:
                localizer.forward(group)
        return rounds * batch * len(batches)

    return _cpu_ms(work)


def limit_fps(parts_ms: dict[str, float], cores: int) -> float:
    """Frames a second the unavoidable parts allow on ``cores`` cores, perfectly shared."""
    total = sum(parts_ms.values())
    return cores * 1000.0 / total if total > 0 else 0.0


def measure_limit(clip: Path, frames: list[np.ndarray], localizer, tmp: Path, *, preset: str = "superfast",
                  cores: int | None = None, batch: int = 1, rounds: int = 2) -> dict:
    """The limit table's row for ``localizer`` (its runtime and preset): each part's
    CPU ms a frame, measured alone on one thread, and the limit on ``cores`` (default:
    this machine's). The forward half counts at its cheaper of one frame a pass and
    ``batch`` frames a pass (the run's): each batch size runs on a compiled model of its
    own, and the limit is what the parts cost at their cheapest. ``rounds``: passes over
    ``frames`` the forward half is timed on."""
    import torch

    cores = cores or os.cpu_count() or 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        forward = {b: forward_ms(localizer, frames, rounds=rounds, batch=b) for b in sorted({1, batch})}
        parts = {"decode": decode_ms(clip), "forward": min(forward.values()),
                 "encode": encode_ms(frames, preset, tmp / "limit.mkv")}
    finally:
        torch.set_num_threads(threads)
    return {"parts_ms": {k: round(v, 3) for k, v in parts.items()}, "cores": cores, "runtime": localizer.runtime,
            "batch": batch, "forward_ms_by_batch": {str(b): round(v, 3) for b, v in forward.items()},
            "limit_fps": round(limit_fps(parts, cores), 2)}
