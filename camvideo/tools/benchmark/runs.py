"""Runs through ``Pipeline`` and the memory soak: a file end to end (decode ->
inference -> H.264, the run every front end makes: ``run_source``; the whole run
and its steady rate), the inference stage as a stream (the same run over frames in
memory, no decode, no encode) and a forward pass alone as one, a live source faster than inference (capture-to-annotated
latency: a ``Pipeline`` of its own, read while it runs), and resident memory over
many frames of the inference stage."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

STEADY_SKIP = 0.1  # the first tenth of a run's frames: the pipeline filling up, left out of the steady rate
MIN_STEADY = 10  # fewer frames written after the skipped ones: no steady rate


class _WriteClock:
    """A sink noting when each frame reached the sinks (their thread, in frame order)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def write(self, item) -> None:
        self.times.append(time.perf_counter())

    def close(self) -> None:
        pass


def steady_ms(times: list[float], skip: float = STEADY_SKIP) -> float | None:
    """Mean milliseconds from one written frame to the next, after the first ``skip``
    of them (the pipeline filling); None when fewer than ``MIN_STEADY`` are left."""
    first = int(len(times) * skip)
    if len(times) - first < MIN_STEADY:
        return None
    return 1000.0 * (times[-1] - times[first]) / (len(times) - 1 - first)


def run_end_to_end(localizer, annotator, clip: Path, out_dir: Path, batch: int | None = None,
                   workers: int | None = None) -> dict:
    """Decode ``clip`` -> inference stage -> H.264 recording through ``Pipeline``, with
    ``batch`` frames a forward pass (None: the file run's own, ``workers.localizer_batch``).

    ``ms_per_frame``: the whole run (``run_source`` from the source's open to the
    recording closed) over its frames; ``steady_ms_per_frame``: from frame to frame
    once the pipeline is full (``steady_ms``: what the limit's per-frame parts are
    comparable with; None on a clip too short); ``fixed_ms``: what the run costs
    beyond its frames at the steady rate (start-up, filling, teardown: the recording's
    close and sync)."""
    from camvideo.runtime.run import RunRequest, run_source
    from camvideo.runtime.workers import localizer_batch

    batch = batch or localizer_batch(localizer, live=False)
    clock = _WriteClock()
    t0 = time.perf_counter()
    report = run_source(RunRequest(clip, lambda info: localizer, (annotator,), recording=out_dir / "bench_out.mkv",
                                   sinks=(clock,), batch_size=batch, workers=workers, audio=False))
    if report.error is not None:
        raise report.error
    elapsed = time.perf_counter() - t0
    frames = report.frames
    steady = steady_ms(clock.times)
    return {"frames": frames, "batch": batch, "seconds": elapsed, "ms_per_frame": 1000.0 * elapsed / max(1, frames),
            "steady_ms_per_frame": steady, "fixed_ms": 1000.0 * elapsed - frames * steady if steady else None,
            "stages": dict(report.stages)}


def run_stream(localizer, annotator, frames: list[np.ndarray], count: int, workers: int | None = None) -> dict:
    """The inference stage as a file run uses it, with no decode and no encode:
    ``count`` in-memory frames (``frames`` in turn) through ``run_source`` as a file
    (``IterableSource``, not live): the forward half on the ``ForwardPool`` (on
    OpenVINO's throughput mode, its async queue), the in-order half and ``annotator``
    on the writer thread, each frame handed to a sink that only notes the time.

    ``ms_per_frame``: wall time from frame to frame once the pipeline is full
    (``steady_ms``; a run too short for it: the whole run over its frames);
    ``cpu_ms_per_frame``: the process's CPU time over the run (every thread: the
    pool's, OpenVINO's, the writer's) over its frames, which other jobs on a shared
    machine change far less than wall time; ``stages``: the pipeline's mean ms of
    each stage."""
    from camvideo.runtime.run import RunRequest, run_source
    from camvideo.video.sources import IterableSource

    clock = _WriteClock()
    source = IterableSource((frames[i % len(frames)] for i in range(count)), name="bench-stream")
    t0, cpu0 = time.perf_counter(), time.process_time()
    report = run_source(RunRequest(source, lambda info: localizer, (annotator,), sinks=(clock,), workers=workers))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if report.error is not None:
        raise report.error
    steady = steady_ms(clock.times)
    whole = 1000.0 * elapsed / max(1, report.frames)
    return {"frames": report.frames, "ms_per_frame": steady or whole, "whole_ms_per_frame": whole,
            "cpu_ms_per_frame": 1000.0 * cpu / max(1, report.frames), "steady": steady is not None,
            "stages": dict(report.stages)}


def run_forward_stream(forward, inputs: list, count: int, workers: int, depth: int = 4, per_call: int = 1) -> dict:
    """A forward pass alone as a stream: ``count`` calls ``forward(x)`` (``inputs`` in
    turn, each a batch of ``per_call`` frames) on a ``ForwardPool`` of ``workers``
    threads, as the file pipeline submits them, with ``depth`` in flight (the
    pipeline's queue to its writer); the results taken in order. ``ms_per_frame`` and
    ``cpu_ms_per_frame`` as ``run_stream``'s, per frame (a call's over ``per_call``)."""
    from collections import deque

    from camvideo.runtime.workers import ForwardPool

    done: list[float] = []
    flight: deque = deque()
    t0, cpu0 = time.perf_counter(), time.process_time()
    with ForwardPool(workers) as pool:
        for i in range(count):
            if len(flight) >= max(depth, workers):
                flight.popleft().result()
                done.append(time.perf_counter())
            flight.append(pool.submit(forward, inputs[i % len(inputs)]))
        while flight:
            flight.popleft().result()
            done.append(time.perf_counter())
    frames = count * per_call
    whole = 1000.0 * (time.perf_counter() - t0) / max(1, frames)
    steady = steady_ms(done)
    return {"frames": frames, "ms_per_frame": steady / per_call if steady else whole, "whole_ms_per_frame": whole,
            "cpu_ms_per_frame": 1000.0 * (time.process_time() - cpu0) / max(1, frames), "steady": steady is not None}


class _LatencySink:
    def __init__(self) -> None:
        self.latencies: list[float] = []

    def write(self, item) -> None:
        self.latencies.append((time.monotonic() - item.frame.captured) * 1000.0)

    def close(self) -> None:
        pass


def run_live(localizer, annotator, frames: list[np.ndarray], count: int, fps: float) -> dict:
    """A live source producing ``fps`` frames a second with the latest-frame policy;
    capture-to-annotated latency of ``count`` frames (taken where the sinks get
    them, in the writer thread) and the mean ms of each stage (``stages``)."""
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.video.sources import IterableSource

    stop = threading.Event()

    def camera():
        period, nxt, i = 1.0 / fps, time.perf_counter(), 0
        while not stop.is_set():
            nxt += period
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            yield frames[i % len(frames)]
            i += 1

    sink = _LatencySink()
    source = IterableSource(camera(), live=True, name="bench-camera", fps=fps)
    with Pipeline(source, localizer, [annotator], [sink]) as pipe:
        pipe.start()
        deadline = time.monotonic() + 120.0
        while len(sink.latencies) < count and pipe.error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        stop.set()
        dropped, stages = source.dropped, dict(pipe.stats.stage_ms)
        pipe.stop()
        if pipe.error is not None:
            raise pipe.error
    return {"latencies_ms": sink.latencies[:count], "dropped": dropped, "stages": stages}


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; else peak RSS)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_soak(localizer, annotator, frames: list[np.ndarray], count: int, warmup: int | None = None) -> dict:
    """``count`` frames through the inference stage; resident memory after the
    warm-up (the allocators' pools filled) and at the end, sampled on the way."""
    warmup = warmup if warmup is not None else min(200, max(1, count // 10))
    for i in range(warmup):
        frame = frames[i % len(frames)]
        annotator.annotate(frame, localizer([frame], [i], [0.0])[0])
    start = rss_mb()
    samples = [start]
    t0 = time.perf_counter()
    for i in range(count):
        frame = frames[i % len(frames)]
        annotator.annotate(frame, localizer([frame], [i], [0.0])[0])
        if (i + 1) % max(1, count // 20) == 0:
            samples.append(rss_mb())
    end = rss_mb()
    return {
        "frames": count,
        "warmup_frames": warmup,
        "rss_start_mb": round(start, 1),
        "rss_end_mb": round(end, 1),
        "rss_max_mb": round(max(samples + [end]), 1),
        "growth_pct": round(100.0 * (end - start) / start, 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }
