"""Pipeline: frames in == frames out, live drops with bounded latency, errors,
sinks attached and detached while running, pause/step/seek, clean shutdown."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from clips import decode_times, make_clip

from camvideo import results as results_module
from camvideo.annotate import FrameAnnotator
from camvideo.errors import OutputError
from camvideo.results import FrameResult
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.runtime.pipeline import Pipeline
from camvideo.settings import LocalizeSettings
from camvideo.video.recorder import Recorder
from camvideo.video.sources import IterableSource, open_source

pytestmark = pytest.mark.timeout(120)


class SlowLocalizer:
    """A stand-in inference stage of known cost (the pipeline is under test here)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.resets = 0

    def __call__(self, frames, indices, times):
        time.sleep(self.seconds)
        return [FrameResult(i, t, f.shape[1], f.shape[0], (), timings={"forward": self.seconds * 1000})
                for f, i, t in zip(frames, indices, times)]

    def reset(self):
        self.resets += 1


class Collect:
    def __init__(self):
        self.items = []
        self.closed = False

    def write(self, item):
        frame = item.frame
        self.items.append((frame.index, frame.time, item.result.frame, time.monotonic() - frame.captured))

    def close(self):
        self.closed = True


class Broken(Collect):
    def write(self, item):
        if len(self.items) == 2:
            raise OSError(28, "No space left on device")
        super().write(item)


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("camvideo-")]


def test_file_frames_in_equal_frames_out_with_times(tmp_path, lite0):
    clip = tmp_path / "in.mp4"
    times = make_clip(clip, size=(96, 72), times=list(np.cumsum([0.04, 0.01, 0.07] * 4)))
    collect = Collect()
    with open_source(clip) as src:
        with Pipeline(src, FrameLocalizer(lite0), [FrameAnnotator()],
                      [collect, Recorder(tmp_path / "out.mkv")], batch_size=4) as pipe:
            pipe.start()
            assert pipe.wait(60) and pipe.error is None
            stats = pipe.stats
    assert [i for i, *_ in collect.items] == list(range(12))
    assert [r for _, _, r, _ in collect.items] == list(range(12))
    assert [t for _, t, *_ in collect.items] == pytest.approx(times, abs=1e-3)
    assert decode_times(tmp_path / "out.mkv") == pytest.approx(times, abs=1e-3)
    assert stats.frames == 12 and stats.dropped == 0
    assert {"read", "preprocess", "forward", "boxes", "annotate", "write"} <= set(stats.stage_ms)
    assert collect.closed and not _pipeline_threads()


def test_live_source_faster_than_inference_drops_and_keeps_latency_bounded():
    inference = 0.05

    def camera():  # 500 fps, 10x faster than the 20 fps inference
        for i in range(400):
            time.sleep(0.002)
            yield np.full((16, 16, 3), i % 256, np.uint8)

    collect = Collect()
    with Pipeline(IterableSource(camera(), live=True), SlowLocalizer(inference), [FrameAnnotator()], [collect]) as pipe:
        pipe.start()
        assert pipe.wait(60)
        stats = pipe.stats
    indices = [i for i, *_ in collect.items]
    assert indices == sorted(indices)
    assert stats.dropped > 200 and len(indices) + stats.dropped == 400
    latencies = [lat for *_, lat in collect.items]
    # newest frame at each step: about one inference plus a hand-off, never a backlog
    assert max(latencies[2:]) < 4 * inference + 0.1
    assert stats.latency_avg_ms < 1000 * (4 * inference + 0.1)


def test_live_frames_do_not_queue_behind_a_stuck_output():
    """A live source's output that stalls (an encoder, say) holds the worker back
    after one annotated frame waits for it; the frames that come meanwhile are
    dropped at the source's newest-frame slot, not queued behind the output."""
    stop, release = threading.Event(), threading.Event()

    def camera():
        i = 0
        while not stop.is_set():
            time.sleep(0.002)
            yield np.full((16, 16, 3), i % 256, np.uint8)
            i += 1

    class Stuck(Collect):
        def write(self, item):
            release.wait(30)  # the first frame holds the writer until released
            super().write(item)

    localizer, stuck = Counting(), Stuck()
    with Pipeline(IterableSource(camera(), live=True), localizer, [FrameAnnotator()], [stuck]) as pipe:
        pipe.start()
        deadline = time.monotonic() + 30
        while localizer.calls < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # room for more, were there a queue
        # one frame in the output, one waiting for it, one in the worker's hand
        assert localizer.calls == 3
        release.set()
        while len(stuck.items) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
    indices = [i for i, *_ in stuck.items]
    assert indices[:3] == sorted(indices[:3]) and len(indices) >= 6
    assert indices[3] > indices[2] + 10  # what came while it was stuck was dropped, not queued


class Counting(SlowLocalizer):
    def __init__(self):
        super().__init__(0.0)
        self.calls = 0

    def __call__(self, frames, indices, times):
        self.calls += 1
        return super().__call__(frames, indices, times)


def test_worker_exception_becomes_error_callback():
    class Failing(SlowLocalizer):
        def __call__(self, frames, indices, times):
            if indices[0] == 3:
                raise RuntimeError("CUDA out of memory")
            return super().__call__(frames, indices, times)

    errors, finished = [], []
    frames = [np.zeros((8, 8, 3), np.uint8)] * 10
    with Pipeline(IterableSource(frames), Failing(), [FrameAnnotator()]) as pipe:
        pipe.on_error = errors.append
        pipe.on_finished = lambda: finished.append(True)
        pipe.start()
        assert pipe.wait(30)
    assert isinstance(pipe.error, RuntimeError) and errors == [pipe.error] and finished == [True]
    assert not _pipeline_threads()


def test_failing_sink_is_detached_and_the_others_get_every_frame():
    good, bad, errors = Collect(), Broken(), []
    frames = [np.zeros((8, 8, 3), np.uint8)] * 8
    with Pipeline(IterableSource(frames), SlowLocalizer(), [FrameAnnotator()], [bad, good]) as pipe:
        pipe.on_error = errors.append
        pipe.start()
        assert pipe.wait(30)
    assert len(errors) == 1 and isinstance(errors[0], OutputError) and "No space" in str(errors[0])
    assert bad.closed and len(bad.items) == 2
    assert [i for i, *_ in good.items] == list(range(8))
    assert pipe.error is None


def test_sinks_added_and_removed_while_running_and_settings_swapped(tmp_path, lite0):
    gate = threading.Event()

    def frames():
        for i in range(6):
            if i == 3:
                gate.wait(10)
            yield np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)

    late, early = Collect(), Collect()
    localizer = FrameLocalizer(lite0, LocalizeSettings(topk=1))
    with Pipeline(IterableSource(frames()), localizer, [FrameAnnotator()], [early]) as pipe:
        pipe.start()
        deadline = time.monotonic() + 30
        while pipe.stats.frames < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        pipe.remove_sink(early)
        pipe.add_sink(late)
        localizer.settings = LocalizeSettings(topk=3)
        seen = []
        pipe.add_sink(type("Ranks", (Collect,), {"write": lambda s, item: seen.append(max(d.rank for d in item.result.detections))})())
        gate.set()
        assert pipe.wait(30)
    assert early.closed and [i for i, *_ in early.items] == [0, 1, 2]
    assert [i for i, *_ in late.items] == [3, 4, 5]
    assert seen == [3, 3, 3]


def test_pause_step_seek_resume(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=30, size=(32, 32), fps=10, gop=5)
    collect, localizer = Collect(), SlowLocalizer()
    with open_source(clip) as src, Pipeline(src, localizer, [FrameAnnotator()], [collect]) as pipe:
        pipe.pause()
        pipe.start()
        time.sleep(0.3)
        assert collect.items == []
        pipe.step()
        _wait_for(lambda: len(collect.items) == 1)
        pipe.seek(2.0)  # while paused: the frame there is shown once
        _wait_for(lambda: len(collect.items) == 2)
        assert collect.items[1][1] == pytest.approx(2.0, abs=1e-3) and localizer.resets == 1
        pipe.resume()
        assert pipe.wait(30)
    assert [i for i, *_ in collect.items] == [0] + list(range(20, 30))


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0])
def test_a_seek_to_no_time_is_refused_where_it_is_asked_and_the_run_goes_on(seconds):
    sink = Collect()
    with Pipeline(IterableSource(np.zeros((8, 8, 8, 3), np.uint8), fps=10.0), SlowLocalizer(), [FrameAnnotator()],
                  [sink]) as pipe:
        pipe.pause()
        pipe.start()
        with pytest.raises(ValueError, match=">= 0"):
            pipe.seek(seconds)
        pipe.resume()
        assert pipe.wait(30)
    assert pipe.error is None and len(sink.items) == 8


def test_context_manager_stops_everything_after_an_error_in_the_block():
    def endless():
        while True:
            yield np.zeros((8, 8, 3), np.uint8)

    sink = Collect()
    with pytest.raises(KeyError):
        with Pipeline(IterableSource(endless()), SlowLocalizer(0.001), [FrameAnnotator()], [sink]) as pipe:
            pipe.start()
            time.sleep(0.2)
            raise KeyError("boom")
    assert sink.closed and not _pipeline_threads() and pipe.finished and not pipe.running


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Pooled(Collect):
    """A recording sink's stand-in: it has an ``i420_pool`` and keeps each frame's ``i420``."""

    def __init__(self):
        super().__init__()
        from camvideo.video.yuv import I420Pool

        self.i420_pool = I420Pool()
        self.pictures = []

    def write(self, item):
        super().write(item)
        picture = item.i420
        self.pictures.append(None if picture is None else (picture.pool, picture.buffer.copy()))
        if picture is not None:
            self.i420_pool.give(picture)


@pytest.mark.parametrize("sinks", [1, 2])
def test_a_file_run_converts_the_recording_s_pictures_on_the_writer(tmp_path, lite0, sinks):
    """With one sink that has an ``i420_pool`` (a ``Recorder``), each frame comes with
    its annotated picture converted to I420 from that pool; with two, with none."""
    import cv2

    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(96, 72), times=[i / 30 for i in range(6)])
    pooled = [Pooled() for _ in range(sinks)]
    seen = []

    class Annotated(Collect):
        def write(self, item):
            seen.append(cv2.cvtColor(item.annotated, cv2.COLOR_BGR2YUV_I420))

    with open_source(clip) as src:
        with Pipeline(src, FrameLocalizer(lite0), [FrameAnnotator()], [*pooled, Annotated()], batch_size=4) as pipe:
            pipe.start()
            assert pipe.wait(60) and pipe.error is None
    assert len(seen) == 6
    for sink in pooled:
        if sinks == 1:
            assert all(pool is sink.i420_pool for pool, _ in sink.pictures)
            assert all(np.array_equal(buffer, want) for (_, buffer), want in zip(sink.pictures, seen))
        else:
            assert sink.pictures == [None] * 6


def test_a_recording_after_a_sink_that_draws_into_the_picture_records_the_drawing(tmp_path, lite0):
    """A sink may draw into ``ProcessedFrame.annotated`` (``frames.ProcessedFrame``);
    a recorder after it records the picture as drawn, not as the writer left it."""
    import av

    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(96, 72), times=[i / 30 for i in range(4)])

    class White(Collect):
        def write(self, item):
            item.annotated[:] = 255

    with open_source(clip) as src:
        with Pipeline(src, FrameLocalizer(lite0), [FrameAnnotator()],
                      [White(), Recorder(tmp_path / "out.mkv")], batch_size=4) as pipe:
            pipe.start()
            assert pipe.wait(60) and pipe.error is None
    with av.open(str(tmp_path / "out.mkv")) as container:
        means = [frame.to_ndarray(format="bgr24").mean() for frame in container.decode(video=0)]
    assert len(means) == 4 and min(means) > 250


def test_a_seek_while_the_run_writes_its_last_frames_runs_again_from_there(tmp_path):
    """A seek that comes after the source's end was read but before the run finished
    (its last frames still being written) is not lost: the file plays again from there."""
    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(64, 48), times=[i / 30 for i in range(4)])
    gate = threading.Event()

    class Held(Collect):
        def write(self, item):
            if item.index == 3:
                gate.wait(20)  # the last frame's write is slow
            super().write(item)

    sink = Held()
    with open_source(clip) as src, Pipeline(src, SlowLocalizer(), [], [sink], batch_size=3) as pipe:
        pipe.start()
        _wait_for(lambda: not pipe._worker.is_alive())  # the end read, the last frame still in the sink
        seeker = threading.Thread(target=pipe.seek, args=(0.0,))
        seeker.start()
        _wait_for(lambda: pipe._seek_to is not None)
        gate.set()
        seeker.join(20)
        _wait_for(lambda: len(sink.items) == 8 and pipe.finished)
    assert [item[0] for item in sink.items] == [0, 1, 2, 3] * 2


def test_a_file_run_makes_the_json_lines_on_the_writer(tmp_path, lite0, monkeypatch):
    """A sink that ``takes_lines`` (the JSONL exporter, here behind the command's guard)
    gets each result with its JSON line made already, on the writer thread."""
    from camvideo.cli.signals import GuardedSinks
    from camvideo.video.export import JsonlExporter

    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(96, 72), times=[i / 30 for i in range(6)])
    made, to_json = [], results_module._to_json

    def recorded(obj):
        made.append(threading.current_thread().name)
        return to_json(obj)

    monkeypatch.setattr(results_module, "_to_json", recorded)
    exporter = GuardedSinks().guard(JsonlExporter(tmp_path / "out.jsonl"))
    with open_source(clip) as src:
        with Pipeline(src, FrameLocalizer(lite0), [FrameAnnotator()], [Collect(), exporter], batch_size=4) as pipe:
            pipe.start()
            assert pipe.wait(60) and pipe.error is None
    assert made == ["camvideo-writer"] * 6
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == list(range(6))


def test_a_result_s_json_line_is_json_dumps_of_its_dict_made_once():
    from camvideo.results import Detection

    result = FrameResult(3, 0.1, 64, 48, (Detection(1, 7, "caf\u00e9", 0.123456, (0, 1, 2, 3)),))
    line = result.json_line
    assert line == json.dumps(result.to_dict()) and result.json_line is line
    assert result.__dict__["json_line"] is line  # kept in the instance (functools.cached_property)


def test_a_result_s_json_line_follows_a_replace():
    """The line kept in a result is its own: a result made from it (``dataclasses.replace``:
    a recording's frame and time placed anew) makes its own."""
    import dataclasses

    from camvideo.results import Detection

    result = FrameResult(3, 0.1, 64, 48, (Detection(1, 7, "cat", 0.5, (0, 1, 2, 3)),))
    assert json.loads(result.json_line)["frame"] == 3
    placed = dataclasses.replace(result, frame=9, time=0.3)
    assert json.loads(placed.json_line)["frame"] == 9 and json.loads(result.json_line)["frame"] == 3


def test_a_result_s_kept_json_line_leaves_its_identity_alone():
    """Results compare and hash by identity (``eq=False``), before and after their line is kept."""
    from camvideo.results import Detection

    result = FrameResult(3, 0.1, 64, 48, (Detection(1, 7, "cat", 0.5, (0, 1, 2, 3)),))
    twin = FrameResult(3, 0.1, 64, 48, result.detections)
    before = hash(result)
    assert result.json_line == twin.json_line
    assert hash(result) == before and result != twin and {result: 1}[result] == 1


class FailsToClose(Collect):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def close(self):
        super().close()
        raise OSError(28, "No space left on device")


def test_a_sink_that_fails_to_close_is_raised_once_and_not_logged_too(caplog):
    """The first close error is the caller's to say (one line on the command line):
    logged as well, a full disk printed two lines, one naming a wrapper class."""
    first, second = FailsToClose("/out/a_cam.partial.mkv"), FailsToClose("/out/a.partial.jsonl")
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    pipe = Pipeline(IterableSource(frames), SlowLocalizer(), [FrameAnnotator()], [first, second])
    pipe.start()
    assert pipe.wait(30)
    with caplog.at_level("ERROR", logger="camvideo.runtime.pipeline"), pytest.raises(OutputError) as raised:
        pipe.stop()
    assert str(raised.value) == "cannot write /out/a_cam.partial.mkv: No space left on device"
    assert first.closed and second.closed
    assert [r.getMessage() for r in caplog.records] == ["cannot write /out/a.partial.jsonl: No space left on device"]
