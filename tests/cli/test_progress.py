"""The progress bar of `camvideo process`: on a terminal only, never a total the run contradicts;
`camvideo eval`'s count: a bar on a terminal, a line every 30 s elsewhere."""

from __future__ import annotations

import io

import pytest

from camvideo.cli.progress import Counting, Progress


def _last_draw(stream: io.StringIO) -> str:
    return stream.getvalue().rstrip("\n").split("\r")[-1]


def test_off_when_stderr_is_not_a_terminal_unless_asked():
    quiet = io.StringIO()
    with Progress(10, stream=quiet) as progress:
        progress.update(5)
        progress.close(10, finished=True)
    assert quiet.getvalue() == "" and not progress.enabled
    asked = io.StringIO()
    with Progress(10, enabled=True, stream=asked) as progress:
        progress.update(5)
        progress.close(10, finished=True)
    assert "10/10" in _last_draw(asked) and "frames/s" in _last_draw(asked)


def test_a_count_hint_the_run_contradicts_is_not_shown():
    short = io.StringIO()
    with Progress(611, enabled=True, stream=short) as progress:
        progress.update(60)
        progress.close(60, finished=True)  # a 60-frame file whose container said 611
    assert "60/60" in _last_draw(short) and "611" not in _last_draw(short)
    long = io.StringIO()
    with Progress(10, enabled=True, stream=long) as progress:
        progress.update(25)  # more frames than the hint: no total rather than 25/10
        assert progress.bar.total is None
        progress.close(25, finished=False)
    assert "25 frames" in _last_draw(long) and "/10" not in _last_draw(long)


def test_a_stopped_run_keeps_its_total_and_max_frames_caps_it():
    stopped = io.StringIO()
    with Progress(900, enabled=True, stream=stopped) as progress:
        progress.close(45, finished=False)  # a signal stopped it: 45 of 900 is the truth
    assert "45/900" in _last_draw(stopped)
    with Progress(900, limit=7, enabled=True, stream=io.StringIO()) as progress:
        assert progress.bar.total == 7
    with Progress(None, limit=7, enabled=True, stream=io.StringIO()) as progress:
        assert progress.bar.total == 7
    with Progress(0, enabled=True, stream=io.StringIO()) as progress:
        assert progress.bar.total is None  # 0: the container did not say


class _HungUp(io.StringIO):
    def write(self, text):
        raise OSError(5, "Input/output error")  # what a terminal gives after SIGHUP


class _Closed(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("stream", [_HungUp, _Closed])
def test_a_terminal_that_went_away_is_no_error(stream):
    with Progress(100, enabled=True, stream=stream()) as progress:
        for frames in range(0, 100, 10):
            progress.update(frames)
        progress.close(100, finished=True)


def test_the_bar_is_closed_after_an_error():
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(100, enabled=True, stream=stream) as progress:
        progress.update(3)
        raise RuntimeError("the pipeline failed")
    assert progress.bar.disable  # tqdm's mark of a closed bar
    assert stream.getvalue().endswith("\n")  # the cursor left the bar's line


def test_eval_counts_with_a_bar_on_a_terminal_and_a_line_now_and_then_elsewhere(monkeypatch):
    bar = io.StringIO()
    with Counting("photos", 28, "images", stream=bar, tty=True) as count:
        count.update(16)
        count.update(28)
    assert _last_draw(bar).startswith("photos: 100%") and "28/28" in _last_draw(bar)  # left as it ended
    quiet = io.StringIO()
    with Counting("clips", 400, "frames", stream=quiet, tty=False) as count:
        count.update(40)  # within 30 s of the start: nothing
    assert quiet.getvalue() == ""
    clock = iter([0.0, 31.0, 40.0, 62.5])  # the start, then each update's look at the time
    monkeypatch.setattr("camvideo.cli.progress.time.monotonic", lambda: next(clock))
    lines = io.StringIO()
    with Counting("clips", 400, "frames", stream=lines, tty=False) as count:
        for done in (120, 150, 260):
            count.update(done)
    assert lines.getvalue().splitlines() == ["camvideo: clips: 120/400 frames, 31 s",
                                             "camvideo: clips: 260/400 frames, 62 s"]
