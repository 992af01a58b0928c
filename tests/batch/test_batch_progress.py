"""The batch's progress: tqdm bars on a terminal (one overall, one per file in
flight), plain lines elsewhere."""

from __future__ import annotations

import io
import time

from camvideo.batch.job import JobResult
from camvideo.batch.plan import Job
from camvideo.batch.progress import BatchProgress


def job(index: int, rel: str) -> Job:
    return Job(index=index, source=f"/in/{rel}", rel=rel, kind="video", recording=None, export=f"/out/{rel}.jsonl")


def test_plain_lines_when_not_on_a_terminal():
    stream = io.StringIO()
    a, b = job(0, "a.mp4"), job(1, "bad.mp4")
    with BatchProgress(2, stream=stream, every_s=0.0) as progress:
        progress.started(a, "node:1")
        progress.started(b, "node:2")
        progress.progress(a, 10, 30)
        progress.finished(JobResult(b, "failed", reason="not a video"))
        progress.finished(JobResult(a, "done", frames=30, seconds=2.0))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "camvideo: started a.mp4 (worker node:1)"
    assert lines[2].startswith("camvideo: 0/2 files, 10 frames")  # the periodic status line
    assert lines[3] == "camvideo: [1/2] failed bad.mp4: not a video"
    assert lines[4] == "camvideo: [2/2] done a.mp4: 30 frames in 2.0 s (15.0 fps)"
    assert progress.frames == 30 and progress.done == 2


def test_a_damaged_file_is_done_with_its_loss_on_its_line():
    stream = io.StringIO()
    cut = job(0, "cut.mp4")
    with BatchProgress(1, stream=stream, every_s=60.0) as progress:
        progress.finished(JobResult(cut, "done", frames=20, seconds=2.0, damage="frames 20-59 (0.7-2.0 s) are missing"))
    assert "camvideo: [1/1] done cut.mp4: 20 frames in 2.0 s (10.0 fps); damaged: frames 20-59 (0.7-2.0 s) are missing" \
        in stream.getvalue().splitlines()


def test_bars_on_a_terminal_one_overall_and_one_per_file_in_flight():
    stream = io.StringIO()
    a, b = job(0, "a.mp4"), job(1, "sub/b.mkv")
    progress = BatchProgress(3, stream=stream, tty=True)
    progress.started(a, "node:1")
    progress.started(b, "node:2")
    assert sorted(progress._positions.values()) == [1, 2]  # a line each under the overall bar
    progress.progress(a, 12, 40)
    progress.progress(b, 5, None)
    text = stream.getvalue()
    assert "a.mp4:  30%" in text and "12/40" in text and "sub/b.mkv: 5frame" in text
    assert "0/3 files, 17 frames" in text
    progress.finished(JobResult(a, "done", frames=40, seconds=1.0))
    assert "camvideo: [1/3] done a.mp4: 40 frames in 1.0 s" in stream.getvalue()
    c = job(2, "c.mp4")
    progress.started(c, "node:1")
    assert progress._positions[2] == 1  # the finished file's line is reused
    time.sleep(0.01)
    progress.close()
    assert "1/3 files" in stream.getvalue()
