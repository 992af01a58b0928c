"""What a running pipeline says about itself: frames through, fps, latency and
each stage's mean time over the recent frames.

``RunningStats`` is fed by the pipeline's threads (the worker, the writer and the
sinks thread add each frame's stage timings, the one calling the sinks each frame's
latency) and read from any thread (a window's status bar, ``camvideo process``'s
progress line) as a frozen ``PipelineStats`` snapshot. Means are over the last ``window`` frames and fps over
the last 2 s, so a status bar follows what happens now, not the whole run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

FPS_WINDOW_S = 2.0  # fps is counted over the frames written in the last 2 s


@dataclass(frozen=True)
class PipelineStats:
    frames: int = 0  # frames through every sink
    dropped: int = 0  # frames the live source dropped (latest-frame policy)
    fps: float = 0.0  # frames written per second, over the last ~2 s
    latency_ms: float = 0.0  # capture -> written to the sinks, last frame
    latency_avg_ms: float = 0.0  # same, mean over the recent frames
    stage_ms: dict[str, float] = field(default_factory=dict)  # stage -> mean ms per frame, recent frames


class RunningStats:
    """Thread-safe running means over the last ``window`` frames."""

    STAGES = ("read", "preprocess", "forward", "boxes", "annotate", "write")

    def __init__(self, window: int = 120) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, deque] = {}
        self._latency: deque = deque(maxlen=window)
        self._writes: deque = deque(maxlen=window)
        self._window = window
        self.frames = 0
        self.last_latency = 0.0

    def add(self, timings: dict[str, float]) -> None:
        with self._lock:
            for key, value in timings.items():
                self._stages.setdefault(key, deque(maxlen=self._window)).append(float(value))

    def written(self, latency_ms: float, write_ms: float | None = None) -> None:
        """A frame through the sinks, ``latency_ms`` after it was read; ``write_ms``:
        the sinks' time, the "write" stage (one lock for both)."""
        with self._lock:
            if write_ms is not None:
                self._stages.setdefault("write", deque(maxlen=self._window)).append(float(write_ms))
            self.frames += 1
            self.last_latency = latency_ms
            self._latency.append(latency_ms)
            self._writes.append(time.monotonic())

    def snapshot(self, dropped: int) -> PipelineStats:
        with self._lock:
            now = time.monotonic()
            recent = [t for t in self._writes if now - t <= FPS_WINDOW_S]
            fps = 0.0
            if len(recent) >= 2 and recent[-1] > recent[0]:
                fps = (len(recent) - 1) / (recent[-1] - recent[0])
            # Plain sums: a run's progress asks ten times a second (np.mean of a deque: ~10x the cost).
            stages = {k: sum(v) / len(v) for k, v in self._stages.items() if v}
            avg = sum(self._latency) / len(self._latency) if self._latency else 0.0
            return PipelineStats(self.frames, dropped, fps, self.last_latency, avg, stages)
