"""run_source: one run of a source, every output closed whatever happens."""

from __future__ import annotations

import json
import time

import av
import numpy as np
import pytest
from clips import make_clip, make_truncated_clip

from camvideo.errors import OutputError
from camvideo.results import FrameResult
from camvideo.runtime.run import RunRequest, run_source
from camvideo.video.sources import IterableSource

pytestmark = pytest.mark.timeout(120)


class Fake:
    """A localizer of ``delay`` seconds a batch; raises at frame ``fail_at``."""

    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.fail_at, self.delay = fail_at, delay

    def __call__(self, frames, indices, times):
        time.sleep(self.delay)
        if self.fail_at is not None and self.fail_at in indices:
            raise RuntimeError(f"the model failed at frame {self.fail_at}")
        return [FrameResult(i, t, f.shape[1], f.shape[0], (), timings={"forward": 1.0})
                for f, i, t in zip(frames, indices, times)]

    def reset(self):
        pass


class Keep:
    def __init__(self, fail_at: int | None = None) -> None:
        self.frames, self.fail_at, self.closed = [], fail_at, False

    def write(self, item):
        if item.frame.index == self.fail_at:
            raise OSError(28, "No space left on device")
        self.frames.append(item.frame.index)

    def close(self):
        self.closed = True


def _images(count: int):
    return [np.full((48, 64, 3), i * 4 % 256, np.uint8) for i in range(count)]


def _recorded(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_file_runs_to_its_end_into_a_recording_and_an_export(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=12, size=(64, 48))
    seen = []
    report = run_source(RunRequest(clip, lambda info: Fake(), recording=tmp_path / "out.mkv",
                                   export=tmp_path / "out.jsonl", hud=True),
                        on_progress=lambda frames, total: seen.append((frames, total)),
                        on_ready=lambda info: seen.append(info))
    assert report.stop == "end" and report.frames == 12 and report.recorded == 12 and report.exported == 12
    assert report.error is None and report.sink_errors == () and report.damage == ()
    assert report.source.kind == "file" and report.source.path == clip and report.source.frame_count == 12
    assert seen[0] is report.source or seen[0].name == str(clip)  # on_ready first, with the source's info
    assert seen[-1] == (12, 12)  # the last progress: every frame
    assert _recorded(tmp_path / "out.mkv") == 12
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 12
    assert dict(report.stages)["annotate"] > 0


class Counted:
    """The overlay (``FrameAnnotator``), counting the pictures it drew."""

    def __init__(self) -> None:
        from camvideo.annotate import FrameAnnotator

        self.overlay, self.drawn = FrameAnnotator(), 0

    def annotate(self, image, result):
        self.drawn += 1
        return self.overlay.annotate(image, result)


def test_an_export_alone_draws_no_picture(tmp_path):
    """No recording and no sink of the caller's: the overlay and the HUD are skipped
    (no sink takes a picture); the export is the same as a recorded run's."""
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=10, size=(64, 48))
    runs = {}
    for name, recording in (("export", None), ("both", tmp_path / "out.mkv")):
        overlay = Counted()
        report = run_source(RunRequest(clip, lambda info: Fake(), (overlay,), recording=recording,
                                       export=tmp_path / f"{name}.jsonl", hud=True))
        assert report.stop == "end" and report.exported == 10
        runs[name] = (overlay.drawn, (tmp_path / f"{name}.jsonl").read_text())
    assert runs["export"][0] == 0 and runs["both"][0] == 10
    assert runs["export"][1] == runs["both"][1] and len(runs["export"][1].splitlines()) == 10


def test_a_run_that_fails_half_way_closes_every_output(tmp_path):
    """The localizer raises at frame 5: the recording is closed and playable, the
    export complete up to the failure, the source closed; both stay as their
    .partial files (incomplete), the earlier files of their final names untouched."""
    (tmp_path / "out.mkv").write_bytes(b"an earlier recording")
    (tmp_path / "out.jsonl").write_text("an earlier export\n")
    source = IterableSource(_images(20), fps=10.0)
    keep = Keep()
    report = run_source(RunRequest(source, lambda info: Fake(fail_at=5), recording=tmp_path / "out.mkv",
                                   export=tmp_path / "out.jsonl", sinks=(keep,)))
    assert report.stop == "error" and "frame 5" in str(report.error)
    assert report.frames == 5 and report.recorded == 5 and report.exported == 5
    assert _recorded(tmp_path / "out.partial.mkv") == 5
    lines = (tmp_path / "out.partial.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1, 2, 3, 4]
    assert report.outputs == () and set(report.kept) == {tmp_path / "out.partial.mkv", tmp_path / "out.partial.jsonl"}
    assert (tmp_path / "out.mkv").read_bytes() == b"an earlier recording"
    assert (tmp_path / "out.jsonl").read_text() == "an earlier export\n"
    assert keep.closed and keep.frames == [0, 1, 2, 3, 4]
    assert source.read() is None  # closed: nothing more comes


def test_an_output_that_fails_ends_the_run_and_the_others_stay_partial(tmp_path):
    source = IterableSource(_images(20), fps=10.0)
    report = run_source(RunRequest(source, lambda info: Fake(), export=tmp_path / "out.jsonl",
                                   sinks=(Keep(fail_at=7),)))
    assert report.stop == "output" and len(report.sink_errors) == 1
    assert isinstance(report.sink_errors[0], OutputError) and "No space left" in str(report.sink_errors[0])
    assert not (tmp_path / "out.jsonl").exists() and report.kept == (tmp_path / "out.partial.jsonl",)
    lines = (tmp_path / "out.partial.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines][:8] == list(range(8))  # complete up to the failure


class FailsToClose(Keep):
    def close(self):
        super().close()
        raise OSError(28, "No space left on device")


def test_an_output_that_cannot_be_closed_is_reported_with_the_files_kept(tmp_path):
    """A write error, then a close that fails too (a full disk): the report comes back
    with both and every .partial kept (was: the close error raised out of run_source,
    the report lost, and the command named only the recording's .partial)."""
    (tmp_path / "out.jsonl").write_text("an earlier export\n")
    source = IterableSource(_images(20), fps=10.0)
    last = FailsToClose()
    report = run_source(RunRequest(source, lambda info: Fake(), export=tmp_path / "out.jsonl",
                                   sinks=(Keep(fail_at=7), last)))
    assert report.stop == "output" and [str(e) for e in report.sink_errors] == [
        "cannot write Keep: No space left on device", "cannot write FailsToClose: No space left on device"]
    assert report.kept == (tmp_path / "out.partial.jsonl",) and report.outputs == () and last.closed
    assert (tmp_path / "out.jsonl").read_text() == "an earlier export\n"
    ended = run_source(RunRequest(IterableSource(_images(3), fps=10.0), lambda info: Fake(),
                                  export=tmp_path / "two.jsonl", sinks=(FailsToClose(),)))
    assert ended.stop == "output" and [str(e) for e in ended.sink_errors] == [
        "cannot write FailsToClose: No space left on device"]


def test_a_stop_request_finalizes_the_outputs_at_the_last_frame_written(tmp_path):
    source = IterableSource(_images(200), fps=10.0)
    stop_at = time.monotonic() + 0.5
    report = run_source(RunRequest(source, lambda info: Fake(delay=0.02), recording=tmp_path / "out.mkv"),
                        lambda: time.monotonic() > stop_at)
    assert report.stop == "requested" and 0 < report.frames < 200 and report.error is None
    assert _recorded(tmp_path / "out.mkv") == report.recorded == report.frames


def test_an_output_that_is_the_input_is_refused_before_anything_is_written(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=5, size=(64, 48))
    before = clip.read_bytes()
    made = []
    with pytest.raises(OutputError, match="is the input"):
        run_source(RunRequest(clip, lambda info: made.append(info), recording=clip, protect_inputs=True))
    assert made == [] and clip.read_bytes() == before  # no model made, the input untouched


def test_damage_comes_back_in_the_report_and_as_events(tmp_path):
    from camvideo.video.sources import open_source

    cut = make_truncated_clip(tmp_path, frames=60, size=(96, 64))
    source = open_source(cut)
    damaged, warned = [], []
    source.subscribe(on_damage=damaged.append, on_warning=warned.append)
    report = run_source(RunRequest(source, lambda info: Fake()))
    assert report.stop == "end" and report.damage and report.damage == tuple(damaged)
    assert warned == [] and damaged[-1].truncated  # the missing tail is its damage, not a second warning


def test_a_localizer_that_cannot_be_made_leaves_nothing_behind(tmp_path):
    """The model fails to load after the outputs were opened: the error comes out, no
    file is left (neither a partial one nor a final name), the source is closed."""
    source = IterableSource(_images(5), fps=10.0)

    def fail(info):
        raise RuntimeError("out of memory while loading the model")

    with pytest.raises(RuntimeError, match="out of memory"):
        run_source(RunRequest(source, fail, recording=tmp_path / "out.mkv", export=tmp_path / "out.jsonl"))
    assert list(tmp_path.iterdir()) == []
    assert source.read() is None


class Batches(Fake):
    """A localizer whose forward pass says it runs in OpenVINO's throughput mode; it
    keeps the size of every batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.method = type("Method", (), {"forward": type("Forward", (), {"mode": "throughput"})()})()
        self.sizes: list[int] = []

    def __call__(self, frames, indices, times):
        self.sizes.append(len(frames))
        return super().__call__(frames, indices, times)


def test_a_file_on_openvinos_throughput_mode_runs_four_frames_a_pass_unless_told(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=10, size=(64, 48))
    auto, told = Batches(), Batches()
    report = run_source(RunRequest(clip, lambda info: auto, export=tmp_path / "auto.jsonl"))
    assert report.frames == 10 and auto.sizes == [4, 4, 2]  # the last batch: what the file has left
    run_source(RunRequest(clip, lambda info: told, export=tmp_path / "told.jsonl", batch_size=1))
    assert told.sizes == [1] * 10
    assert (tmp_path / "auto.jsonl").read_text() == (tmp_path / "told.jsonl").read_text()


class CornerMark:
    """A user's annotator (docs/architecture.md, "Where things plug in"): a white
    square in the top-left corner, drawn in place after the overlay."""

    def annotate(self, image, result):
        image[:8, :8] = 255
        return image


class TopLabels:
    """A user's file sink, as the recipe says: written under a temporary name, which
    takes its final name in ``close``."""

    def __init__(self, path) -> None:
        self.path, self.partial = path, path.with_suffix(".partial.txt")
        self._file = open(self.partial, "w")
        self.corners = []

    def write(self, item):
        self.corners.append(int(item.annotated[:8, :8].min()))
        top = item.result.detections[0].label if item.result.detections else "-"
        self._file.write(f"{item.index} {top}\n")

    def close(self):
        self._file.close()
        self.partial.replace(self.path)


def test_a_users_annotator_and_sink_plug_into_a_run(tmp_path, lite0):
    """The architecture's recipes followed as a library user would: an annotator after
    the overlay draws into every recorded picture, and a sink of one's own gets every
    frame in order with the picture drawn and the result the export wrote."""
    from camvideo.annotate import FrameAnnotator
    from camvideo.runtime.localizer import FrameLocalizer

    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=6, size=(64, 48))
    labels = TopLabels(tmp_path / "top.txt")
    report = run_source(RunRequest(clip, lambda info: FrameLocalizer(lite0), (FrameAnnotator(), CornerMark()),
                                   recording=tmp_path / "out.mkv", export=tmp_path / "out.jsonl", sinks=(labels,),
                                   workers=1))
    assert report.stop == "end" and report.frames == 6
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    written = (tmp_path / "top.txt").read_text().splitlines()
    assert written == [f"{row['frame']} {row['detections'][0]['label']}" for row in exported]
    assert labels.corners == [255] * 6 and not labels.partial.exists()
    with av.open(str(tmp_path / "out.mkv")) as container:
        corners = [frame.to_ndarray(format="rgb24")[1:7, 1:7].min() for frame in container.decode(video=0)]
    assert len(corners) == 6 and min(corners) > 200  # the mark survives the encoding
