"""Frame-level parallelism for files: per-thread torch thread counts, the forward
pool, and the pipeline with several forward threads (order, smoothing equal to
the single-worker path, errors, pause/step/seek, every thread joined)."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
import torch
from clips import make_clip

from camvideo.annotate import FrameAnnotator
from camvideo.runtime import workers
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.runtime.pipeline import SINK_QUEUE_SIZE, Pipeline
from camvideo.runtime.workers import (
    ForwardPool,
    HandOff,
    auto_workers,
    check_workers,
    file_opencv_threads,
    hold_opencv_threads,
    torch_threads,
)
from camvideo.settings import LocalizeSettings, SmoothingSettings
from camvideo.video.sources import IterableSource, open_source

pytestmark = pytest.mark.timeout(120)


def _in_thread(fn):
    out = {}

    def run():
        out["value"] = fn()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out["value"]


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("camvideo-")]


def test_set_num_threads_is_per_thread_and_torch_threads_restores_the_default():
    torch.set_num_threads(2)

    def worker():
        with torch_threads(1, restore=2):
            inside = torch.get_num_threads()
            main_meanwhile = {}
            # the main thread is blocked in join(): ask from a second thread started now,
            # which starts with the process-wide default that set_num_threads just set
            main_meanwhile["fresh"] = _in_thread(torch.get_num_threads)
        return inside, main_meanwhile["fresh"]

    inside, fresh_during = _in_thread(worker)
    assert inside == 1 and fresh_during == 1
    assert torch.get_num_threads() == 2  # the main thread's own team size is untouched
    assert _in_thread(torch.get_num_threads) == 2  # the default is restored for new threads


def test_forward_pool_runs_jobs_returns_errors_and_joins(lite0):
    pool = ForwardPool(2)
    try:
        futures = [pool.submit(lambda i: (i, torch.get_num_threads()), i) for i in range(6)]
        failing = pool.submit(lambda: 1 / 0)
        assert [f.result(10) for f in futures] == [(i, 1) for i in range(6)]
        with pytest.raises(ZeroDivisionError):
            failing.result(10)
    finally:
        pool.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("camvideo-forward")]
    with pytest.raises(RuntimeError):
        pool.submit(print)
    with ForwardPool(1) as single:  # one worker keeps the full intra-op threads
        assert single.submit(torch.get_num_threads).result(10) == torch.get_num_threads()
    assert auto_workers(lite0) == min(2, __import__("os").cpu_count() or 1)


def test_close_cancels_jobs_not_started():
    gate = threading.Event()
    pool = ForwardPool(1)
    first = pool.submit(gate.wait, 10)
    later = [pool.submit(time.sleep, 0) for _ in range(3)]
    time.sleep(0.05)
    closer = threading.Thread(target=pool.close)
    closer.start()
    time.sleep(0.1)  # close() has cancelled the queue and waits for the running job
    gate.set()
    closer.join(10)
    assert first.result() is True and all(f.cancelled() for f in later)


def test_workers_argument_is_checked():
    assert check_workers(None) is None and check_workers(3) == 3
    with pytest.raises(ValueError, match="workers"):
        check_workers(0)
    with pytest.raises(TypeError, match="workers"):
        check_workers(2.0)
    with pytest.raises(ValueError, match="workers"):
        Pipeline(IterableSource([]), object(), [FrameAnnotator()], workers=0)


def _video(photo, count: int = 24, size=(160, 120)):
    """A pan across one photo, then a cut to another (exercises the cut reset)."""
    import cv2

    frames = []
    for i in range(count):
        image = photo("chelsea" if i < count * 2 // 3 else "coffee")
        h, w = image.shape[:2]
        cw, ch = int(w * 0.7), int(h * 0.7)
        x0 = int((w - cw) * i / count)
        frames.append(np.ascontiguousarray(cv2.resize(image[(h - ch) // 2 : (h - ch) // 2 + ch, x0 : x0 + cw], size)))
    return frames


class Collect:
    def __init__(self):
        self.results = []
        self.annotated = []
        self.closed = False

    def write(self, item):
        assert item.frame.index == item.result.frame
        self.results.append(item.result)
        self.annotated.append(item.annotated)

    def close(self):
        self.closed = True


def _run(frames, localizer, workers, batch_size=1):
    collect = Collect()
    with Pipeline(IterableSource(frames), localizer, [FrameAnnotator()], [collect],
                  batch_size=batch_size, workers=workers) as pipe:
        pipe.start()
        assert pipe.wait(60) and pipe.error is None
        stats = pipe.stats
    assert collect.closed and not _pipeline_threads()
    assert {"read", "preprocess", "forward", "boxes", "annotate", "write"} <= set(stats.stage_ms)
    return collect.results


def test_many_workers_keep_frame_order_and_smoothing_equals_one_worker(lite0, photo):
    frames = _video(photo)
    settings = LocalizeSettings(topk=3, smoothing=SmoothingSettings())
    direct = FrameLocalizer(lite0, settings)(frames, list(range(len(frames))), [i / 30 for i in range(len(frames))])
    one = _run(frames, FrameLocalizer(lite0, settings), workers=1)
    three = _run(frames, FrameLocalizer(lite0, settings), workers=3, batch_size=2)
    assert [r.frame for r in three] == [r.frame for r in one] == list(range(len(frames)))
    for reference in (direct, one):
        for a, b in zip(reference, three):
            assert a.map_class_ids == b.map_class_ids
            assert np.allclose(a.heatmaps, b.heatmaps, atol=2e-3)
            assert [(d.rank, d.class_id) for d in a.detections] == [(d.rank, d.class_id) for d in b.detections]
            for da, db in zip(a.detections, b.detections):
                if da.box is not None:
                    assert np.allclose(list(da.box), list(db.box), atol=1.0)


def test_worker_error_surfaces_in_order_and_every_thread_joins(lite0):
    class FailsOnFrame(FrameLocalizer):
        def forward(self, frames):
            if int(frames[0][0, 0, 0]) == 5:
                raise RuntimeError("CUDA out of memory")
            return super().forward(frames)

    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(12)]
    collect, errors, finished = Collect(), [], []
    with Pipeline(IterableSource(frames), FailsOnFrame(lite0), [FrameAnnotator()], [collect], workers=2) as pipe:
        pipe.on_error = errors.append
        pipe.on_finished = lambda: finished.append(True)
        pipe.start()
        assert pipe.wait(30)
    assert isinstance(pipe.error, RuntimeError) and errors == [pipe.error] and finished == [True]
    assert [r.frame for r in collect.results] == [0, 1, 2, 3, 4]  # all before the error, in order
    assert collect.closed and not _pipeline_threads()


def test_stop_mid_file_joins_every_thread(lite0):
    def endless():
        i = 0
        while True:
            yield np.full((48, 64, 3), i % 256, np.uint8)
            i += 1

    collect = Collect()
    with Pipeline(IterableSource(endless()), FrameLocalizer(lite0), [FrameAnnotator()], [collect], workers=2) as pipe:
        pipe.start()
        deadline = time.monotonic() + 30
        while pipe.stats.frames < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert pipe.finished and not pipe.running and collect.closed and not _pipeline_threads()
    assert [r.frame for r in collect.results] == list(range(len(collect.results)))
    assert _in_thread(torch.get_num_threads) == torch.get_num_threads()  # default restored


def test_pause_step_seek_with_workers_resets_in_order(tmp_path, lite0):
    class Counting(FrameLocalizer):
        resets = 0

        def reset(self):
            Counting.resets += 1
            super().reset()

    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=30, size=(32, 32), fps=10, gop=5)
    collect = Collect()
    localizer = Counting(lite0, LocalizeSettings(smoothing=SmoothingSettings()))
    with open_source(clip) as src, Pipeline(src, localizer, [FrameAnnotator()], [collect], workers=2) as pipe:
        pipe.pause()
        pipe.start()
        time.sleep(0.3)
        assert collect.results == []
        pipe.step()
        _wait_for(lambda: len(collect.results) == 1)
        pipe.seek(2.0)
        _wait_for(lambda: len(collect.results) == 2)
        assert collect.results[1].time == pytest.approx(2.0, abs=1e-3) and Counting.resets == 1
        pipe.resume()
        assert pipe.wait(30)
    assert [r.frame for r in collect.results] == [0] + list(range(20, 30))


def test_hand_off_runs_items_in_order_on_its_thread_and_ends_once():
    seen, ended, errors = [], [], []
    hand = HandOff(lambda item: seen.append((item, threading.current_thread().name)), 2, name="camvideo-test",
                   on_error=errors.append, on_end=lambda: ended.append(hand.is_current()))
    assert all(hand.put(i) for i in range(20))
    hand.end()
    hand.join(10)
    assert seen == [(i, "camvideo-test") for i in range(20)] and ended == [True] and errors == []
    assert not hand.alive and hand.put(99) is False and not hand.is_current()
    with pytest.raises(ValueError, match="size"):
        HandOff(print, 0, name="camvideo-test", on_error=print, on_end=print)


def test_hand_off_error_ends_its_thread_and_refuses_more():
    """Cleanup after an error: ``fn`` raising reaches ``on_error``, ``on_end`` still
    runs, the thread ends and ``put`` says False (the feeder stops instead of waiting)."""
    ended, errors = [], []

    def fn(item):
        if item == 3:
            raise RuntimeError("encoder gone")

    hand = HandOff(fn, 1, name="camvideo-test", on_error=errors.append, on_end=lambda: ended.append(True))
    results = [hand.put(i) for i in range(4)]
    _wait_for(lambda: not hand.alive)
    assert results == [True] * 4 and hand.put(4) is False
    assert [str(e) for e in errors] == ["encoder gone"] and ended == [True]
    hand.end()  # no thread to take it: returns at once
    hand.join(1)
    assert not [t for t in threading.enumerate() if t.name == "camvideo-test"]


class _ThreadNames(Collect):
    def __init__(self, gate: threading.Event | None = None):
        super().__init__()
        self.threads = set()
        self.gate = gate

    def write(self, item):
        if self.gate is not None:
            self.gate.wait(30)
        self.threads.add(threading.current_thread().name)
        super().write(item)


def test_files_write_their_sinks_on_a_thread_of_their_own_behind_a_bounded_queue(lite0):
    """Files: the in-order half in the writer, the sinks in "camvideo-sinks" behind
    SINK_QUEUE_SIZE frames: a stuck output holds the run back (nothing lost, nothing
    piling up), and every frame arrives in order once it moves again."""

    class Counting(FrameLocalizer):
        finished = 0

        def finish(self, evidence, indices, times):
            Counting.finished += len(indices)
            return super().finish(evidence, indices, times)

    gate = threading.Event()
    sink = _ThreadNames(gate)
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(40)]
    with Pipeline(IterableSource(frames), Counting(lite0), [FrameAnnotator()], [sink], workers=2,
                  queue_size=2) as pipe:
        pipe.start()
        _wait_for(lambda: Counting.finished >= 2 + SINK_QUEUE_SIZE)
        time.sleep(0.3)  # room for more, were the queue unbounded
        # one frame in the stuck sink, SINK_QUEUE_SIZE waiting, one in the writer's hand
        assert Counting.finished == 2 + SINK_QUEUE_SIZE
        gate.set()
        assert pipe.wait(60) and pipe.error is None
    assert [r.frame for r in sink.results] == list(range(40)) and sink.threads == {"camvideo-sinks"}
    assert sink.closed and not _pipeline_threads()


def test_an_error_in_the_sinks_thread_stops_the_run_and_every_thread_joins(lite0):
    """Cleanup after an error: something other than a sink's own error (those detach
    the sink) failing in the sinks thread becomes ``error`` and ``on_error``; the
    writer, the worker and the pool stop, the sinks are closed, no thread is left."""

    class Fatal(BaseException):
        pass

    class Dies(Collect):
        def write(self, item):
            if item.frame.index == 6:
                raise Fatal("sinks thread killed")
            super().write(item)

    def endless():
        i = 0
        while True:
            yield np.full((48, 64, 3), i % 256, np.uint8)
            i += 1

    sink, errors, finished = Dies(), [], []
    with Pipeline(IterableSource(endless()), FrameLocalizer(lite0), [FrameAnnotator()], [sink], workers=2) as pipe:
        pipe.on_error = errors.append
        pipe.on_finished = lambda: finished.append(True)
        pipe.start()
        assert pipe.wait(60)
    assert isinstance(pipe.error, Fatal) and errors == [pipe.error] and finished == [True]
    assert [r.frame for r in sink.results] == list(range(6)) and sink.closed
    assert not _pipeline_threads()


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_live_worker_leaves_a_core_for_capture_and_overlay(monkeypatch):
    """On a CPU the live worker runs one intra-op thread fewer than the cores (at least 1)."""
    import torch

    from camvideo.runtime.workers import live_threads

    class CpuModel:
        device = torch.device("cpu")

    class GpuModel:
        device = torch.device("cuda")

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert live_threads(CpuModel()) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert live_threads(CpuModel()) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert live_threads(CpuModel()) == min(torch.get_num_threads(), 63)
    assert live_threads(CpuModel(), "openvino") == 1  # torch only makes the maps: no team beside OpenVINO's
    assert live_threads(GpuModel()) is None
    assert live_threads(GpuModel(), "openvino") is None


def test_opencv_threads_are_held_by_overlapping_runs_and_restored_by_the_last(monkeypatch):
    import cv2

    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(3)
        assert hold_opencv_threads(None)() is None and cv2.getNumThreads() == 3  # None: left alone
        first = hold_opencv_threads(1)
        second = hold_opencv_threads(1)
        assert cv2.getNumThreads() == 1
        first()
        first()  # a second call does nothing: the other run still holds it
        assert cv2.getNumThreads() == 1
        second()
        assert cv2.getNumThreads() == 3
        monkeypatch.setattr(workers.os, "cpu_count", lambda: workers.FEW_CORES)
        assert file_opencv_threads() == 1
        monkeypatch.setattr(workers.os, "cpu_count", lambda: workers.FEW_CORES + 1)
        assert file_opencv_threads() is None and hold_opencv_threads(file_run=True)() is None
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


class OpenCVThreadsSeen(Collect):
    def write(self, item):
        import cv2

        super().write(item)
        self.threads = cv2.getNumThreads()


class FailsAfter(FrameLocalizer):
    def __init__(self, model, passes: int):
        super().__init__(model)
        self.passes = itertools.count()
        self.limit = passes

    def forward(self, frames):
        if next(self.passes) >= self.limit:
            raise RuntimeError("a forward pass failed")
        return super().forward(frames)


@pytest.mark.parametrize("fails", [False, True])
def test_a_file_run_on_few_cores_runs_opencv_on_one_thread_and_gives_it_back(monkeypatch, lite0, photo, fails):
    import cv2

    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        sink = OpenCVThreadsSeen()
        localizer = FailsAfter(lite0, 3) if fails else FrameLocalizer(lite0)  # an error: given back all the same
        with Pipeline(IterableSource(_video(photo, count=6)), localizer, [FrameAnnotator()], [sink], workers=2) as pipe:
            pipe.start()
            assert pipe.wait(60)
        assert (pipe.error is not None) == fails
        assert sink.threads == 1 and cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)


class FailsToStart(IterableSource):
    def start(self) -> None:
        raise OSError("the camera is busy")


def test_a_file_run_whose_source_fails_to_start_gives_opencv_and_its_threads_back(monkeypatch, lite0, photo):
    import cv2

    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        finished = []
        pipe = Pipeline(FailsToStart(_video(photo, count=3)), FrameLocalizer(lite0), [FrameAnnotator()], [],
                        workers=2)
        pipe.on_finished = lambda: finished.append(True)
        with pytest.raises(OSError, match="camera is busy"):
            pipe.start()
        assert cv2.getNumThreads() == 2 and not finished
        assert not [t for t in threading.enumerate() if t.name == "camvideo-sinks"]
        pipe.stop()  # still idempotent after a failed start
    finally:
        cv2.setNumThreads(before)


def test_auto_batch_is_four_frames_for_files_on_openvinos_throughput_mode_only():
    class Forward:
        def __init__(self, mode):
            self.mode = mode

    assert workers.auto_batch(Forward("throughput"), live=False) == workers.FILE_BATCH == 4
    assert workers.auto_batch(Forward("throughput"), live=True) == 1  # a batch would wait for frames to come
    assert workers.auto_batch(Forward("latency"), live=False) == 1
    assert workers.auto_batch(None, live=False) == 1  # torch's own forward pass


def test_auto_batch_is_one_frame_on_an_openvino_device_other_than_the_cpu():
    """A batch of 4 runs the IR's free batch: measured on the CPU only, and an NPU
    takes static shapes only."""
    class Forward:
        mode = "throughput"

        def __init__(self, device):
            self.device = device

    assert workers.auto_batch(Forward("CPU"), live=False) == workers.auto_batch(Forward("CPU.0"), live=False) == 4
    for device in ("GPU", "GPU.1", "NPU", "AUTO:GPU,CPU", "HETERO:GPU,CPU"):
        assert workers.auto_batch(Forward(device), live=False) == 1, device


def test_localizer_batch_is_auto_batch_of_the_localizers_forward_pass():
    class Forward:
        mode, device = "throughput", "CPU"

    class Method:
        forward = Forward()

    class Localizer:
        method = Method()

    assert workers.localizer_batch(Localizer(), live=False) == workers.FILE_BATCH
    assert workers.localizer_batch(Localizer(), live=True) == 1
    assert workers.localizer_batch(object(), live=False) == 1  # no method: a plain localizer (NoLocalizer)
