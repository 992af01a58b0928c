"""``camvideo process`` over many files on this machine: real worker processes,
real videos, a corrupt one, a worker killed mid-file, a run interrupted and resumed."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from batch_helpers import (
    CORRUPT,
    Running,
    camvideo,
    check_complete,
    decoded_frames,
    make_archive,
    summary,
    wait_lines,
)
from clips import make_clip

from camvideo.batch.lock import LOCK_NAME
from camvideo.cli import main

pytestmark = pytest.mark.timeout(420)


def partial(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def outputs(out: Path, rel: str) -> tuple[Path, Path]:
    stem = out / Path(rel).with_suffix("")
    return stem.with_name(stem.name + "_cam.mkv"), stem.with_name(stem.name + ".jsonl")


def test_a_folder_of_six_videos_one_corrupt_with_two_jobs(tmp_path):
    frames = make_archive(tmp_path / "in")
    out = tmp_path / "out"
    result = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "2")
    assert result.returncode == 1, result.stderr  # some files failed
    assert "Traceback" not in result.stderr
    for rel, count in frames.items():
        check_complete(tmp_path / "in" / rel, *outputs(out, rel), count)
    records = summary(out)
    assert len(records) == 6
    by_rel = {r["rel"]: r for r in records}
    assert set(by_rel) == {*frames, CORRUPT}
    bad = by_rel[CORRUPT]
    assert bad["status"] == "failed" and bad["frames"] == 0 and bad["outputs"] == []
    assert bad["reason"].startswith("not a video that can be decoded")
    for rel, count in frames.items():
        record = by_rel[rel]
        assert record["status"] == "done" and record["frames"] == count and record["reason"] is None
        assert record["outputs"] == [str(p) for p in outputs(out, rel)]
        assert record["size"] == (tmp_path / "in" / rel).stat().st_size and record["fps"] > 0
    assert len({r["worker"] for r in records}) <= 2  # two worker processes, each took files in turn
    assert not list(out.rglob("*.partial.*")) and not (out / Path(CORRUPT).with_suffix(".jsonl")).exists()
    table = result.stdout
    assert "done              5" in table and "failed            1" in table
    assert f"6 files, {sum(frames.values())} frames in" in table
    assert f"failed: {CORRUPT}: not a video that can be decoded" in table


def test_a_killed_worker_costs_its_file_and_a_missing_list_entry_fails_alone(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "long.mkv", frames=900, size=(64, 48))
    make_clip(folder / "short.mp4", frames=20, size=(96, 64), fps=25)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'long.mkv'}\n{folder / 'gone.mp4'}\n{folder / 'short.mp4'}\n")
    out = tmp_path / "out"
    run = Running("--from-list", listing, "--output-dir", out, "--jobs", "2")
    try:
        pid = int(run.wait_for(r"started long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "long.partial.jsonl", 3)  # mid-file
        os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer does
        code = run.finish()
    finally:
        run.kill()
    assert code == 1, run.stderr
    by_rel = {r["rel"]: r for r in summary(out)}
    assert len(by_rel) == 3
    assert by_rel["long.mkv"]["status"] == "failed"
    assert "killed (SIGKILL" in by_rel["long.mkv"]["reason"] and by_rel["long.mkv"]["worker"].endswith(f":{pid}")
    assert by_rel["gone.mp4"]["status"] == "failed" and by_rel["gone.mp4"]["reason"] == "no such file or folder"
    assert by_rel["short.mp4"]["status"] == "done"
    check_complete(folder / "short.mp4", *outputs(out, "short.mp4"), 20)
    assert not (out / "long_cam.mkv").exists()  # never finished: the crash-safe partial is all there is
    assert (out / "long_cam.partial.mkv").exists()
    assert not list(out.glob(".*.camvideo-lock"))  # the dead worker's locks: removed by the driver


def test_an_interrupted_batch_resumes_with_the_unfinished_files_only(tmp_path):
    clips = {"a.mp4": (6, (64, 48), 30), "b.mp4": (90, (64, 48), 30), "c.mkv": (90, (80, 60), 25),
             "d.mp4": (40, (64, 48), 15), "e.mkv": (40, (48, 48), 60), "f.mov": (40, (96, 64), 24)}
    frames = make_archive(tmp_path / "in", clips, corrupt=None)
    out = tmp_path / "out"
    run = Running(tmp_path / "in", "--output-dir", out, "--jobs", "2")
    try:
        run.wait_for(r"\[1/6\] done")
        run.proc.send_signal(signal.SIGINT)
        code = run.finish()
    finally:
        run.kill()
    assert code == 130, run.stderr
    assert "interrupted (SIGINT)" in run.stderr and "the same command again finishes the rest" in run.stderr
    first = summary(out)
    done_first = {r["rel"] for r in first if r["status"] == "done"}
    assert "a.mp4" in done_first and len(done_first) < 6
    kept = set()
    for record in first:  # closed where they stopped: playable, under their .partial names (not the whole file)
        if record["status"] == "interrupted" and record["frames"]:  # (0 frames: nothing is kept)
            recording, export = (partial(p) for p in outputs(out, record["rel"]))
            assert decoded_frames(recording) == export.read_text().count("\n") == record["frames"]
            assert record["frames"] < frames[record["rel"]] and record["outputs"] == []
            assert not any(p.exists() for p in outputs(out, record["rel"]))
            kept |= {recording, export}
    assert set(out.rglob("*.partial.*")) == kept
    assert not (out / LOCK_NAME).exists()  # the stopped run's lock file went with it
    written = {path: path.read_bytes() for path in kept}

    again = time.time()
    result = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    # what the stopped run wrote is kept beside, byte for byte, as a single `camvideo process` keeps it
    assert {p.with_name(p.name.replace(".partial.", ".partial-1.")): b for p, b in written.items()} == {
        p: p.read_bytes() for p in out.rglob("*.partial-1.*")}
    assert not kept or "left by an earlier run that was stopped part way" in result.stderr
    assert not (out / LOCK_NAME).exists()
    assert f"({len(done_first)} complete from an earlier run, skipped" in result.stderr
    records = summary(out)
    run_one = first[0]["run"]
    second = [r for r in records if r["run"] != run_one]
    assert len(second) == 6 and len({r["run"] for r in second}) == 1
    assert {r["rel"] for r in second if r["status"] == "skipped"} == done_first
    redone = [r for r in second if r["status"] == "done"]
    assert {r["rel"] for r in redone} == set(frames) - done_first
    for record in redone:  # processed by the second run, not before
        assert datetime.fromisoformat(record["started"]).timestamp() >= again - 1.0
    for rel in done_first:  # processed once, by the first run
        done_lines = [r for r in records if r["rel"] == rel and r["status"] == "done"]
        assert len(done_lines) == 1 and datetime.fromisoformat(done_lines[0]["finished"]).timestamp() < again
    for rel, count in frames.items():
        check_complete(tmp_path / "in" / rel, *outputs(out, rel), count)
    assert not list(out.rglob("*.partial.*"))  # the rerun redid the interrupted files whole


def test_an_output_folder_that_cannot_be_written_fails_at_once(tmp_path, capsys):
    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30)}, corrupt=None)
    (tmp_path / "file").write_text("not a folder")
    began = time.monotonic()
    code = main(["process", str(tmp_path / "in"), "--output-dir", str(tmp_path / "file/out")])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - began < 10  # before any worker starts
    assert "--output-dir" in err and "cannot write there" in err


def test_outputs_of_one_file_are_refused_with_several(tmp_path, capsys):
    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30)}, corrupt=None)
    assert main(["process", str(tmp_path / "in"), "-o", str(tmp_path / "x.mkv")]) == 2
    assert "use --output-dir" in capsys.readouterr().err


def test_a_model_that_cannot_load_stops_the_run_rather_than_failing_every_file(tmp_path):
    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30), "b.mp4": (4, (64, 48), 30)}, corrupt=None)
    out = tmp_path / "out"
    result = camvideo(tmp_path / "in", "--output-dir", out, "--jobs", "1", "--checkpoint", tmp_path / "gone.pt",
                      timeout=120)
    assert result.returncode == 2, result.stderr
    assert "checkpoint" in result.stderr and "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()  # no file was tried: the run that could not start leaves no folder behind


def test_a_sigterm_to_a_worker_alone_fails_its_file_the_next_runs_and_a_rerun_counts_attempts(tmp_path):
    """Issue 27 case 8 (was: exit 0 with the file interrupted, the next file "failed:
    the worker process exited (status 0)" without starting) and case 13 (one attempt
    per run, the attempts in the summary line)."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a_long.mkv", frames=300, size=(64, 48))
    make_clip(folder / "b_short.mp4", frames=20, size=(96, 64), fps=25)
    out = tmp_path / "out"
    run = Running(folder, "--output-dir", out, "--jobs", "1")
    try:
        pid = int(run.wait_for(r"started a_long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "a_long.partial.jsonl", 3)  # mid-file
        os.kill(pid, signal.SIGTERM)  # to the worker alone, not the driver
        code = run.finish()
    finally:
        run.kill()
    assert code == 1, run.stderr  # a failed file
    by_rel = {r["rel"]: r for r in summary(out)}
    long, short = by_rel["a_long.mkv"], by_rel["b_short.mp4"]
    assert long["status"] == "failed" and long["worker"].endswith(f":{pid}") and long["attempts"] == 1
    assert long["reason"] == "the worker process was stopped by SIGTERM (sent to it alone) while processing this file"
    assert short["status"] == "done" and short["attempts"] == 1 and not short["worker"].endswith(f":{pid}")
    check_complete(folder / "b_short.mp4", *outputs(out, "b_short.mp4"), 20)
    assert "failed: a_long.mkv: the worker process was stopped by SIGTERM" in run.stdout
    again = camvideo(folder, "--output-dir", out, "--jobs", "1")
    assert again.returncode == 0, again.stderr
    last = summary(out)[-2:]
    assert {r["rel"]: (r["status"], r.get("attempts")) for r in last} == {
        "a_long.mkv": ("done", 2), "b_short.mp4": ("skipped", None)}


def test_a_sigterm_to_the_driver_and_its_worker_together_interrupts_and_the_rerun_finishes(tmp_path):
    """A service stopped (systemd signals every process of the unit): the file in flight
    ends ``interrupted``, its outputs closed where it stopped (.partial); exit 143; the same
    command again finishes it and the file that had not started."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a_long.mkv", frames=300, size=(64, 48))
    make_clip(folder / "b_short.mp4", frames=20, size=(96, 64), fps=25)
    out = tmp_path / "out"
    run = Running(folder, "--output-dir", out, "--jobs", "1")
    try:
        pid = int(run.wait_for(r"started a_long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "a_long.partial.jsonl", 3)  # mid-file
        os.kill(pid, signal.SIGTERM)  # the worker first, the driver at once after: the harder order
        os.kill(run.proc.pid, signal.SIGTERM)
        code = run.finish()
    finally:
        run.kill()
    assert code == 143, run.stderr
    assert "Traceback" not in run.stderr and "interrupted (SIGTERM)" in run.stderr
    by_rel = {r["rel"]: r for r in summary(out)}
    long = by_rel["a_long.mkv"]
    assert long["status"] == "interrupted" and 0 < long["frames"] < 300, long
    recording, export = (partial(p) for p in outputs(out, "a_long.mkv"))  # closed where it stopped, .partial
    assert decoded_frames(recording) == export.read_text().count("\n") == long["frames"]
    assert by_rel.get("b_short.mp4", {}).get("status") in (None, "interrupted")  # never started
    assert set(out.rglob("*.partial.*")) == {recording, export}
    assert "the files in flight are kept as playable .partial files" in run.stderr
    again = camvideo(folder, "--output-dir", out, "--jobs", "1")
    assert again.returncode == 0, again.stderr
    last = {r["rel"]: r["status"] for r in summary(out)[-2:]}
    assert last == {"a_long.mkv": "done", "b_short.mp4": "done"}, last
    check_complete(folder / "a_long.mkv", *outputs(out, "a_long.mkv"), 300)
    check_complete(folder / "b_short.mp4", *outputs(out, "b_short.mp4"), 20)
    assert not list(out.rglob("*.partial.*"))


@pytest.mark.slow
def test_an_aborted_batch_leaves_no_lock_file_of_its_own(tmp_path):
    """A second signal aborts the driver while its worker is mid-file: the worker removes
    the per-file lock files it holds (as the driver removes the folder's) before it ends;
    its outputs stay as their .partial files. Exit 128 + the signal handled second."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a_long.mkv", frames=300, size=(64, 48))
    out = tmp_path / "out"
    run = Running(folder, "--output-dir", out, "--jobs", "1")
    try:
        pid = int(run.wait_for(r"started a_long\.mkv \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "a_long.partial.jsonl", 3)  # mid-file: the worker holds the file's locks
        assert list(out.glob(".*.camvideo-lock"))
        run.proc.send_signal(signal.SIGTERM)  # two signals at once: the worker has no time to finish
        run.proc.send_signal(signal.SIGHUP)
        code = run.finish()
    finally:
        run.kill()
    assert code in (128 + signal.SIGHUP, 128 + signal.SIGTERM), run.stderr  # the one handled second
    assert "again: aborting" in run.stderr and "Traceback" not in run.stderr
    for _ in range(600):  # the worker ends with its driver (bounded: it is killed then)
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    assert not list(out.rglob("*camvideo-lock")) and not (out / LOCK_NAME).exists()
    assert {p.name for p in out.rglob("*.partial.*")} == {"a_long_cam.partial.mkv", "a_long.partial.jsonl"}


def test_after_a_model_that_cannot_load_the_workers_end_by_themselves():
    """One worker's model fails to load (``fatal``): the pool asks the others to end, as
    they would by themselves, rather than killing them mid-load (a killed worker left
    its semaphores, tqdm's lock, and the resource tracker warned after the error line)."""
    from camvideo.batch.job import JobOptions
    from camvideo.batch.local import LocalPool, _Worker
    from camvideo.errors import CamvideoError

    class Process:
        pid, killed, alive = 0, False, True

        def kill(self):
            self.killed = True

        def join(self, _timeout=None):
            self.alive = False

        def is_alive(self):
            return self.alive

    class Conn:
        def __init__(self, messages):
            self.messages, self.sent = list(messages), []

        def poll(self):
            return bool(self.messages)

        def recv(self):
            return self.messages.pop(0)

        def send(self, message):
            self.sent.append(message)

        def close(self):
            pass

    failing, loading = _Worker(Process(), Conn([("fatal", "layer 'x' is not in the model")])), _Worker(Process(), Conn([]))
    with pytest.raises(CamvideoError, match="layer 'x'"), LocalPool(JobOptions(), 2) as pool:
        pool._workers += [failing, loading]
        pool._drain(failing, reporter=None)
    assert not failing.process.killed and not loading.process.killed
    assert loading.conn.sent == [None]  # asked to end once its load is over


def test_a_pool_closed_on_an_error_removes_the_free_lock_files_of_the_workers_it_killed(tmp_path):
    """An error in the driver kills the workers mid-file (``close(abort=True)``): the lock
    files of their files in hand are removed once free (they stayed, stale); one that a
    live run holds stays."""
    from camvideo.batch.job import JobOptions
    from camvideo.batch.local import LocalPool, _Worker
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import make_plan, prepare_output_dir

    class Process:
        pid, alive = 0, True

        def kill(self):
            self.alive = False

        def join(self, _timeout=None):
            pass

        def is_alive(self):
            return self.alive

    class Conn:
        def close(self):
            pass

    make_archive(tmp_path / "in", {"a.mp4": (2, (32, 24), 10), "b.mp4": (2, (32, 24), 10)}, corrupt=None)
    plan = make_plan([str(tmp_path / "in")], tmp_path / "out")
    prepare_output_dir(plan)
    a, b = plan.jobs
    stale = [OutputLock.for_file(path).path for path in a.outputs]
    for path in stale:
        path.write_text("host:1 since now: a killed worker\n")
    with OutputLock.for_file(b.recording, "a live run") as held:
        with pytest.raises(RuntimeError), LocalPool(JobOptions(), 2) as pool:
            pool._workers += [_Worker(Process(), Conn(), job=a, taken=True), _Worker(Process(), Conn(), job=b)]
            raise RuntimeError("the driver failed")
        assert not any(path.exists() for path in stale) and held.path.exists()


def test_a_dead_worker_s_locks_go_even_when_its_failed_line_cannot_be_reported(tmp_path):
    """``_bury`` removes a dead worker's lock files before it reports the file failed: a
    reporter that fails (the summary on a full disk) leaves none behind."""
    from camvideo.batch.job import JobOptions
    from camvideo.batch.local import LocalPool, _Worker
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import make_plan, prepare_output_dir

    class Process:
        pid, exitcode = 0, -9

        def join(self, _timeout=None):
            pass

    class Conn:
        def close(self):
            pass

    class FullDisk:
        def finished(self, _result):
            raise OSError(28, "No space left on device")

    make_archive(tmp_path / "in", {"a.mp4": (2, (32, 24), 10)}, corrupt=None)
    plan = make_plan([str(tmp_path / "in")], tmp_path / "out")
    prepare_output_dir(plan)
    (a,) = plan.jobs
    stale = [OutputLock.for_file(path).path for path in a.outputs]
    for path in stale:
        path.write_text("host:1 since now: a killed worker\n")
    pool = LocalPool(JobOptions(), 1)
    worker = _Worker(Process(), Conn(), job=a, taken=True)
    pool._workers.append(worker)
    with pytest.raises(OSError, match="No space"):
        pool._bury(worker, FullDisk())
    assert not any(path.exists() for path in stale) and worker.job is None
