"""Cases 3, 4 and 6 of the reliability issue, for real: two runs into one folder,
a driver killed with SIGKILL then a rerun, a summary ending in a half line, an
output that is not what the summary says it is, another source at the same place,
a disk that fills while the summary is written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batch_helpers import Running, camvideo, check_complete, decoded_frames, env, summary, wait_lines
from clips import make_clip, make_truncated_clip
from faults import limited


def _archive(folder: Path, long: int = 600) -> dict[str, int]:
    clips = {"long.mkv": long, "a.mp4": 8, "b.mkv": 10}
    folder.mkdir(parents=True, exist_ok=True)
    for name, frames in clips.items():
        make_clip(folder / name, frames=frames, size=(64, 48))
    return clips


def _outputs(out: Path, rel: str) -> tuple[Path, Path]:
    stem = rel.rsplit(".", 1)[0]
    return out / f"{stem}_cam.mkv", out / f"{stem}.jsonl"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as file:  # a zombie is gone for our purpose
        return file.read().split(")")[-1].split()[0] != "Z"



def _wait_gone(pid: int, seconds: float = 10) -> None:
    """Wait (at most ``seconds``) for process ``pid`` to end."""
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)

def test_a_second_run_into_the_same_folder_refuses_and_says_who_holds_it(tmp_path):
    clips = _archive(tmp_path / "in")
    out = tmp_path / "out"
    first = Running(tmp_path / "in", "--output-dir", out, "--jobs", "1")
    try:
        first.wait_for(r"started long\.mkv")
        second = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1")
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert "is in use by another camvideo run" in second.stderr and f":{first.proc.pid} since" in second.stderr
        assert first.finish() == 0, first.stderr
    finally:
        first.kill()
    for rel, frames in clips.items():  # the first run's outputs, whole
        check_complete(tmp_path / "in" / rel, *_outputs(out, rel), frames)
    assert [r["status"] for r in summary(out)].count("done") == 3


def test_a_driver_killed_then_a_rerun_leaves_every_file_complete_exactly_once(tmp_path):
    clips = _archive(tmp_path / "in", long=300)  # killed 3 frames in: long.mkv mid-file (it runs twice whole)
    out = tmp_path / "out"
    assert camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1").returncode == 0
    earlier = {rel: [p.read_bytes() for p in _outputs(out, rel)] for rel in clips}
    run = Running(tmp_path / "in", "--output-dir", out, "--jobs", "1", "--overwrite")
    try:
        worker = int(run.wait_for(r"started long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "long.partial.jsonl", 3)
        os.kill(run.proc.pid, signal.SIGKILL)  # the driver alone
        run.finish()
    finally:
        run.kill()
    _wait_gone(worker)
    assert not _alive(worker)  # the worker died with its driver: no orphan renames a partial
    # the workers' stop is a pipe, not a multiprocessing Event: no named semaphore for the tracker to report
    assert "leaked semaphore" not in run.stderr and "resource_tracker" not in run.stderr, run.stderr
    assert [p.read_bytes() for p in _outputs(out, "long.mkv")] == earlier["long.mkv"]  # untouched
    # an output that is not what its done line says (an orphan of an older version renamed it)
    recording, export = _outputs(out, "a.mp4")
    recording.write_bytes(recording.read_bytes()[: recording.stat().st_size // 2])
    rerun = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1")
    assert rerun.returncode == 0, rerun.stderr
    # b.mkv complete; a.mp4 (not the bytes its line says) and long.mkv (a .partial beside it) redone
    assert "(1 complete from an earlier run" in rerun.stderr and "done a.mp4" in rerun.stderr, rerun.stderr
    for rel, frames in clips.items():
        check_complete(tmp_path / "in" / rel, *_outputs(out, rel), frames)
    assert not list(out.glob("*.partial.*"))
    # what the killed run wrote of long.mkv kept beside (playable), the lock files gone with the rerun
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [n for rel in clips for n in (p.name for p in _outputs(out, rel))] + ["camvideo-run.jsonl"]
        + ["long_cam.partial-1.mkv", "long.partial-1.jsonl"])
    assert "long.partial.jsonl, left by an earlier run that was stopped part way, are kept as" in rerun.stderr


def test_a_summary_ending_in_a_half_line_loses_no_record(tmp_path):
    clips = _archive(tmp_path / "in", long=20)
    out = tmp_path / "out"
    out.mkdir()
    (out / "camvideo-run.jsonl").write_bytes(b'{"run": "x", "rel": "a.mp4", "sta\xff')  # a full disk mid-line
    result = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("1 line that is not a summary record skipped") == 1  # one warning, no traceback
    rerun = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1")
    assert rerun.returncode == 0 and "3 complete from an earlier run" in rerun.stderr, rerun.stderr
    assert rerun.stderr.count("1 line that is not a summary record skipped") == 1
    for rel, frames in clips.items():
        check_complete(tmp_path / "in" / rel, *_outputs(out, rel), frames)


def test_another_folders_file_at_the_same_place_is_not_replaced_silently(tmp_path):
    for day, frames in (("day1", 6), ("day2", 9)):
        (tmp_path / day).mkdir()
        make_clip(tmp_path / day / "a.mp4", frames=frames, size=(64, 48))
    out = tmp_path / "out"
    assert camvideo(tmp_path / "day1", "--output-dir", out, "--jobs", "1").returncode == 0
    clash = camvideo(tmp_path / "day2", "--output-dir", out, "--jobs", "1")
    assert clash.returncode == 2 and "Traceback" not in clash.stderr
    assert f"holds the results of {tmp_path / 'day1' / 'a.mp4'}" in clash.stderr and "--overwrite" in clash.stderr
    check_complete(tmp_path / "day1" / "a.mp4", *_outputs(out, "a.mp4"), 6)  # day 1's, untouched
    assert camvideo(tmp_path / "day2", "--output-dir", out, "--jobs", "1", "--overwrite").returncode == 0
    check_complete(tmp_path / "day2" / "a.mp4", *_outputs(out, "a.mp4"), 9)


def test_a_full_disk_while_the_summary_is_written_is_one_line_and_exit_2(tmp_path):
    """The summary's own write fails (its file at the size limit: EFBIG, the path of
    ENOSPC) while the outputs, smaller, are written: one error line, exit 2."""
    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "a.mp4", frames=3, size=(64, 48))
    out = tmp_path / "out"
    out.mkdir()
    (out / "camvideo-run.jsonl").write_bytes(b"\n" * 100_000)  # blank lines: read as nothing
    argv = [sys.executable, "-m", "camvideo", "process", str(tmp_path / "in"), "--output-dir", str(out),
            "--jobs", "1", "--no-recording"]
    result = subprocess.run(limited(argv, 100_050), capture_output=True, text=True, env=env(), timeout=240)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert "Traceback" not in result.stderr and len(errors) == 1, result.stderr
    assert errors[0].startswith("camvideo: error: cannot write") and "camvideo-run.jsonl" in errors[0]


def test_a_rerun_without_a_recording_names_the_killed_run_s_recording_and_keeps_it(tmp_path):
    """The killed run's ``long_cam.partial.mkv`` is the user's (it plays): a rerun that
    records nothing leaves it byte for byte and says, on one line, what it is and
    what to do; the data files are made complete."""
    clips = _archive(tmp_path / "in", long=600)
    out = tmp_path / "out"
    run = Running(tmp_path / "in", "--output-dir", out, "--jobs", "1")
    try:
        worker = int(run.wait_for(r"started long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "long.partial.jsonl", 60)
        recording = out / "long_cam.partial.mkv"
        deadline = time.monotonic() + 60
        while recording.stat().st_size < 4096 and time.monotonic() < deadline:  # past the header: frames in it
            time.sleep(0.05)
        os.kill(run.proc.pid, signal.SIGKILL)  # the driver (its worker dies with it)
        run.finish()
    finally:
        run.kill()
    _wait_gone(worker)
    partial = out / "long_cam.partial.mkv"
    kept = partial.read_bytes()
    rerun = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1", "--no-recording")
    assert rerun.returncode == 0, rerun.stderr
    (line,) = [n for n in rerun.stderr.splitlines() if "long_cam.partial.mkv" in n]
    assert line.startswith(f"camvideo: note: {partial} is the recording of an earlier run that was stopped part way")
    frames = decoded_frames(partial)
    assert f"(it plays {frames} frames)" in line and "delete it, or run again with a recording" in line
    assert partial.read_bytes() == kept and 0 < frames < clips["long.mkv"]  # kept, playable
    for rel, frames in clips.items():
        check_complete(tmp_path / "in" / rel, None, _outputs(out, rel)[1], frames)


def test_a_truncated_file_in_an_archive_is_done_with_its_loss_named_and_not_redone(tmp_path):
    """As ``camvideo process cut.mkv`` alone: every frame that decodes kept, the loss
    named, exit 0; the summary's line says done with ``damaged``; a rerun skips it."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_truncated_clip(folder)
    (folder / "whole.mkv").unlink()
    make_clip(folder / "b.mkv", frames=10, size=(64, 48))
    out = tmp_path / "out"
    first = camvideo(folder, "--output-dir", out, "--jobs", "1")
    assert first.returncode == 0, first.stderr
    line = next(r for r in summary(out) if r["rel"] == "cut.mkv")
    assert line["status"] == "done" and line["damaged"].startswith("frames ") and line["reason"] is None
    assert 0 < line["frames"] < 60 and all(Path(p).is_file() for p in line["outputs"])
    assert "(of which damaged: 1)" in first.stdout and f"damaged: cut.mkv: {line['damaged']}" in first.stdout
    assert "failed: " not in first.stdout and "; damaged: frames " in first.stderr
    again = camvideo(folder, "--output-dir", out, "--jobs", "1")
    assert again.returncode == 0, again.stderr
    assert "2 complete from an earlier run, skipped" in again.stderr
    assert [r["status"] for r in summary(out)[-2:]] == ["skipped", "skipped"]
