"""The end of the process (``camvideo.cli.exit``): ``process`` skips the interpreter's
teardown only when nothing is left for it to do; the exit status, stdout and stderr,
the atexit functions, temporary folders and the outputs are as a normal exit leaves them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import av
import pytest
from clips import make_clip

from camvideo import exiting
from camvideo.cli import exit as cli_exit

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120, **kwargs)


# A program ending through quick_exit: buffered output without a newline, an atexit
# function, a temporary folder left to its finalizer, and what teardown_needed says.
PROGRAM = """
import atexit, sys, tempfile, threading, time
from camvideo.cli import exit as cli_exit
marker, how = sys.argv[1], sys.argv[2]
atexit.register(lambda: open(marker, "w").write("atexit ran"))
folder = tempfile.TemporaryDirectory()
open(marker + ".tmp", "w").write(folder.name)
if how != "refused":
    cli_exit.allow_quick_exit()
if how == "thread":
    threading.Thread(target=time.sleep, args=(0.5,)).start()
sys.stdout.write("out without newline")
sys.stderr.write("err without newline " + str(cli_exit.teardown_needed()))
cli_exit.quick_exit(7)
"""


@pytest.mark.parametrize("how, reason", [("quick", "None"), ("refused", "the command did not allow it"),
                                         ("thread", "a thread is still running")])
def test_quick_exit_keeps_status_streams_atexit_and_temporary_folders(tmp_path, how, reason):
    marker = tmp_path / "marker"
    proc = _python(PROGRAM, str(marker), how)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "out without newline"
    assert proc.stderr == f"err without newline {reason}"
    assert marker.read_text() == "atexit ran"
    assert not Path((tmp_path / "marker.tmp").read_text()).exists()  # the finalizer removed it


def test_teardown_is_needed_while_a_thread_runs_or_a_child_lives(monkeypatch):
    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    assert cli_exit.teardown_needed() == "the command did not allow it"
    cli_exit.allow_quick_exit()
    # What earlier tests of the session loaded or left running is not this test's case.
    for name in [n for n in sys.modules if n == "ray" or n.startswith(("ray.", "PyQt6", "PySide6"))]:
        monkeypatch.delitem(sys.modules, name)
    alone = [threading.main_thread()]
    with monkeypatch.context() as only_main:
        only_main.setattr(threading, "enumerate", lambda: alone)
        assert cli_exit.teardown_needed() is None
    gate = threading.Event()
    thread = threading.Thread(target=gate.wait, args=(10,))
    thread.start()
    try:
        assert cli_exit.teardown_needed() == "a thread is still running"
    finally:
        gate.set()
        thread.join()
    monkeypatch.setattr(threading, "enumerate", lambda: alone)
    monkeypatch.setitem(sys.modules, "ray", object())
    assert cli_exit.teardown_needed() == "Ray was used"


def test_after_the_windows_bounded_wait_only_a_save_or_stop_holds_the_exit(monkeypatch):
    """The window closed (``exiting.waited_for``: every thread alive had its bounded
    wait): a thread past that wait does not hold the exit, unless it is marked to finish
    (a recording's save, a source's stop: cut, its recording would stay .partial)."""
    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    cli_exit.allow_quick_exit()
    for name in [n for n in sys.modules if n == "ray" or n.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    gate = threading.Event()
    thread = threading.Thread(target=gate.wait, args=(10,))
    try:
        thread.start()
        monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread(), thread])
        assert cli_exit.teardown_needed() == "a thread is still running"  # no mark: a normal exit waits
        exiting.waited_for()
        assert cli_exit.teardown_needed() is None
        exiting.mark(thread, True)
        exiting.waited_for()  # a mark to finish stays
        assert cli_exit.teardown_needed() == "a thread is still running"
    finally:
        gate.set()
        thread.join()


# The window's end in small: a save marked to finish that outlives the close's wait, and
# a thread stuck past its bounded wait (in native code, say). The exit waits for the save,
# not for the stuck thread, and skips the teardown. The third argument: how many Ctrl-Cs
# the save sends while the exit waits for it (once the wait has its handler).
WINDOW_END = """
import os, signal, sys, threading, time
from camvideo import exiting
from camvideo.cli import exit as cli_exit
saved, stuck_done, signals = sys.argv[1], sys.argv[2], int(sys.argv[3])
stuck = threading.Thread(target=lambda: (time.sleep(20), open(stuck_done, "w").write("ran")))
def save():
    for _ in range(200 if signals else 0):  # until the exit's wait has its handler (10 s at most)
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            break
        time.sleep(0.05)
    for _ in range(signals):
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)
    open(saved, "w").write("final")
saving = threading.Thread(target=save)
exiting.mark(saving, True)
stuck.start(); saving.start()
exiting.waited_for()
cli_exit.allow_quick_exit()
cli_exit.quick_exit(0)
"""


def test_the_exit_waits_for_a_marked_save_and_not_for_a_thread_past_its_wait(tmp_path):
    saved, stuck_done = tmp_path / "saved", tmp_path / "stuck"
    proc = _python(WINDOW_END, str(saved), str(stuck_done), "0")
    assert proc.returncode == 0, proc.stderr
    assert saved.read_text() == "final"  # the save finished before the process ended
    assert not stuck_done.exists()  # the stuck thread held nothing: the process ended without it


def test_ctrl_c_while_the_exit_waits_for_a_save_says_so_and_the_save_finishes(tmp_path):
    saved, stuck_done = tmp_path / "saved", tmp_path / "stuck"
    proc = _python(WINDOW_END, str(saved), str(stuck_done), "1")
    assert proc.returncode == 130, proc.stderr
    assert saved.read_text() == "final"  # the first Ctrl-C did not cut the save
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == ["camvideo: finishing a recording's save before the end (again to stop at once)"]
    assert not stuck_done.exists()


def test_a_second_ctrl_c_while_the_exit_waits_for_a_save_ends_at_once(tmp_path):
    saved, stuck_done = tmp_path / "saved", tmp_path / "stuck"
    proc = _python(WINDOW_END, str(saved), str(stuck_done), "2")
    assert proc.returncode == 130, proc.stderr
    assert not saved.exists()  # ended before the save: the user asked twice
    assert "Traceback" not in proc.stderr


def test_a_thread_without_a_mark_must_finish_as_pythons_exit_decides():
    plain, daemon = threading.Thread(target=int), threading.Thread(target=int, daemon=True)
    assert exiting.must_finish(plain) and not exiting.must_finish(daemon)
    exiting.mark(daemon, True)
    exiting.mark(plain, False)
    assert exiting.must_finish(daemon) and not exiting.must_finish(plain)


def test_a_stream_that_cannot_be_flushed_ends_as_a_normal_exit_does(tmp_path):
    """stdout's reader gone: quick_exit falls back to sys.exit, and the process ends
    with the status and the message Python's own exit gives in that case."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ends = []
    for end in ("e.quick_exit(3)", "sys.exit(3)"):
        code = f"import sys; from camvideo.cli import exit as e; e.allow_quick_exit(); sys.stdout.write('x'); {end}"
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        proc.stdout.close()  # the reader is gone before anything is flushed
        _, err = proc.communicate(timeout=120)
        ends.append((proc.returncode, err.splitlines()[-1:]))
    assert ends[0] == ends[1]


def test_process_command_ends_quickly_with_complete_outputs_and_its_last_line(tmp_path):
    """`python -m camvideo process` with stdout and stderr on pipes: exit 0, the
    summary line whole, the recording renamed and playable to its last frame, the
    JSONL whole, no .partial file left."""
    clip, out, data = tmp_path / "in.mp4", tmp_path / "out.mkv", tmp_path / "out.jsonl"
    make_clip(clip, frames=12, size=(96, 64))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "camvideo", "process", str(clip), "-o", str(out),
                           "--export", str(data), "--no-progress"], capture_output=True, text=True, env=env,
                          timeout=150)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(rf"camvideo: 12 frames in [\d.]+ s \([\d.]+ fps\) -> {re.escape(f'{out}, {data}')}\n",
                        proc.stderr), proc.stderr
    assert [json.loads(line)["frame"] for line in data.read_text().splitlines()] == list(range(12))
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.jsonl", "out.mkv"]


def test_a_failing_process_command_keeps_its_status_and_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "camvideo", "process", str(tmp_path / "missing.mp4"), "-o",
                           str(tmp_path / "out.mkv")], capture_output=True, text=True, env=env, timeout=150)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "camvideo: error:" in proc.stderr


def test_process_allows_the_quick_exit_only_once_its_run_has_ended(tmp_path, monkeypatch):
    from camvideo.cli import main

    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    clip = tmp_path / "in.mp4"
    make_clip(clip, frames=3, size=(64, 48))
    assert main(["process", str(clip), "-o", str(tmp_path / "out.mkv"), "--no-progress"]) == 0
    assert cli_exit._ALLOWED == [True]
    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    assert main(["process", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "b.mkv")]) == 2
    assert cli_exit._ALLOWED == [False]  # an error before the run: the normal exit


def test_a_run_that_ended_in_an_output_error_allows_the_quick_exit(tmp_path, monkeypatch):
    """A disk that filled mid-run: the run has ended and closed its outputs (kept as
    .partial), so the error line is the last work; the interpreter's teardown, with a
    thread it may catch in native code, is skipped."""
    import dataclasses

    import camvideo.runtime.run as run_module
    from camvideo.cli import main
    from camvideo.errors import OutputError

    real = run_module.run_source

    def failing(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), stop="output", sink_errors=(OutputError("disk full"),))

    monkeypatch.setattr(run_module, "run_source", failing)
    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    clip = tmp_path / "in.mp4"
    make_clip(clip, frames=3, size=(64, 48))
    assert main(["process", str(clip), "-o", str(tmp_path / "out.mkv"), "--no-progress"]) == 2
    assert cli_exit._ALLOWED == [True]
