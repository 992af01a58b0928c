"""`camvideo process` stops cleanly on Ctrl-C, SIGTERM and SIGHUP: the recording
is finalized under its final name and the export has a line for every frame."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from clips import make_clip

from camvideo.cli.signals import Aborted, StopSignals

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
CLIP_FRAMES = 900  # 30 s: far more than the test lets it process


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "long.mkv"
    make_clip(path, frames=CLIP_FRAMES, size=(64, 48), fps=30)
    return path


def _start(clip: Path, out: Path, data: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "camvideo", "process", str(clip), "-o", str(out),
                             "--export", str(data)], stderr=subprocess.PIPE, text=True, env=_env(), **popen)


def _wait_for_lines(proc: subprocess.Popen, data: Path, count: int, timeout: float = 90.0) -> None:
    """Until the export has ``count`` lines (frames flow through every stage)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"camvideo exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        if data.exists() and data.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"no {count} frames in {timeout} s")


def _decode_strictly(path: Path) -> int:
    """Frames in ``path``; any decoding error fails."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


SIGNALS = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])


# SIGHUP: test_a_terminal_hang_up_finalizes_the_recording sends the real thing.
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_finalizes_the_recording_and_export(tmp_path, long_clip, signum):
    out, data = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    proc = _start(long_clip, out, data)
    try:
        _wait_for_lines(proc, data, 5)
        assert (tmp_path / "out.partial.mp4").exists()
        proc.send_signal(signum)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err  # 130, 143, 129: as a shell reports the signal
    assert "Traceback" not in err
    assert f"interrupted ({signal.Signals(signum).name})" in err
    assert out.exists() and not (tmp_path / "out.partial.mp4").exists()
    lines = data.read_text().splitlines()
    frames = _decode_strictly(out)
    assert 5 <= len(lines) < CLIP_FRAMES  # stopped early, not at the end of the clip
    assert frames == len(lines)  # export complete to the last frame written
    assert [json.loads(line)["frame"] for line in lines] == list(range(len(lines)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty with a controlling terminal: Linux")
def test_a_terminal_hang_up_finalizes_the_recording(tmp_path, long_clip):
    """The ssh session or terminal goes away mid-run: the kernel sends SIGHUP and every
    write to stderr fails from then on; the recording is still finished and renamed."""
    import fcntl
    import pty
    import termios

    out, data = tmp_path / "out.mkv", tmp_path / "out.jsonl"
    master, slave = pty.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "camvideo", "process", str(long_clip), "-o", str(out),
                             "--export", str(data)], stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=controlling_terminal, env=_env())
    os.close(slave)
    try:
        _wait_for_lines(proc, data, 5)
        assert b"frames" in os.read(master, 65536)  # the progress line went to the terminal
        os.close(master)  # hang up
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGHUP
    assert out.exists() and not (tmp_path / "out.partial.mkv").exists()
    lines = data.read_text().splitlines()
    assert 5 <= len(lines) < CLIP_FRAMES and _decode_strictly(out) == len(lines)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_ignored_at_start_stays_ignored(tmp_path, long_clip):
    """Under nohup a hang-up must not stop the run; SIGTERM still stops it cleanly."""
    out, data = tmp_path / "out.mkv", tmp_path / "out.jsonl"
    proc = _start(long_clip, out, data, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        _wait_for_lines(proc, data, 3)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)  # handled as the first stop signal: a clean stop
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert out.exists() and _decode_strictly(out) == len(data.read_text().splitlines()) > 0


def test_stop_signals_in_process():
    """Before arm(): abort at once; armed: the first sets the event, a second SIGINT raises."""
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    with StopSignals() as stop:
        with pytest.raises(Aborted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes; never reached
        assert caught.value.signum == signal.SIGTERM
        stop.arm()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.event.wait(1) and stop.signum == signal.SIGTERM and stop.exit_code == 143
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert {signum: signal.getsignal(signum) for signum in SIGNALS} == before  # restored


def test_a_second_sigterm_aborts_at_once(tmp_path):
    code = ("import os, signal, time; from camvideo.cli.signals import StopSignals\n"
            "with StopSignals() as stop:\n"
            "    stop.arm(); os.kill(os.getpid(), signal.SIGTERM)\n"
            "    assert stop.event.wait(5)\n"
            "    os.kill(os.getpid(), signal.SIGTERM); time.sleep(10)\n"
            "raise SystemExit('still alive')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == -signal.SIGTERM, proc.stderr  # ended by the signal itself
