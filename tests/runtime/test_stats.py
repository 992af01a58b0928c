"""RunningStats: the pipeline's own figures, as its status readers see them."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from camvideo.runtime.stats import FPS_WINDOW_S, PipelineStats, RunningStats


def test_stage_means_follow_the_last_frames_only():
    stats = RunningStats(window=3)
    for ms in (100.0, 1.0, 2.0, 3.0):  # the first frame falls out of the window
        stats.add({"forward": ms, "boxes": ms / 10})
    snap = stats.snapshot(dropped=4)
    assert snap.stage_ms == pytest.approx({"forward": 2.0, "boxes": 0.2})
    assert snap.dropped == 4 and snap.frames == 0


def test_latency_and_fps_from_the_frames_written():
    stats = RunningStats(window=10)
    assert stats.snapshot(0).fps == 0.0  # nothing written: no rate, not a division by zero
    for latency in (10.0, 20.0, 30.0):
        stats.written(latency)
        time.sleep(0.02)
    snap = stats.snapshot(0)
    assert snap.frames == 3 and snap.latency_ms == 30.0 and snap.latency_avg_ms == pytest.approx(20.0)
    assert 10.0 < snap.fps < 60.0  # 3 frames ~20 ms apart
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.fps = 1.0  # type: ignore[misc]


def test_a_frame_written_with_its_sinks_time_is_the_write_stage():
    stats = RunningStats(window=2)
    stats.written(10.0)  # no time given: no write stage
    assert "write" not in stats.snapshot(0).stage_ms
    for write_ms in (9.0, 1.0, 3.0):
        stats.written(10.0, write_ms)
    snap = stats.snapshot(0)
    assert snap.stage_ms == pytest.approx({"write": 2.0}) and snap.frames == 4


def test_fps_counts_only_the_recent_window(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    stats = RunningStats()
    for _ in range(5):
        stats.written(1.0)
        clock[0] += 0.1  # 10 fps
    clock[0] += FPS_WINDOW_S + 1  # then a long pause: no frame in the window
    assert stats.snapshot(0).fps == 0.0 and stats.snapshot(0).frames == 5


def test_threads_can_feed_it_while_another_reads():
    stats = RunningStats(window=50)

    def feed():
        for _ in range(500):
            stats.add({"forward": 1.0})
            stats.written(1.0)

    threads = [threading.Thread(target=feed) for _ in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert isinstance(stats.snapshot(0), PipelineStats)
    for t in threads:
        t.join(timeout=10)
    assert stats.snapshot(0).frames == 1500 and stats.snapshot(0).stage_ms == {"forward": 1.0}
