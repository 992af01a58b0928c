"""Shared helpers of the batch tests: small archives of real videos, the command
line in a real process, its stderr read as it comes, outputs checked frame by frame."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from clips import decode_times, make_clip

ROOT = Path(__file__).resolve().parents[2]

# name -> (frames, size, fps): different sizes and frame rates, two in a subfolder
ARCHIVE = {
    "a.mp4": (12, (64, 48), 30),
    "b.mkv": (15, (96, 64), 25),
    "c.mov": (10, (80, 60), 15),
    "sub/d.mp4": (20, (128, 72), 24),
    "sub/deeper/e.mkv": (18, (48, 48), 60),
}
CORRUPT = "sub/broken.mp4"


def env(**extra) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)


def make_archive(folder: Path, clips: dict | None = None, corrupt: str | None = CORRUPT) -> dict[str, int]:
    """Write the clips (and a corrupt file) under ``folder``: rel path -> frames."""
    clips = ARCHIVE if clips is None else clips
    for rel, (frames, size, fps) in clips.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        make_clip(path, frames=frames, size=size, fps=fps)
    if corrupt:
        path = folder / corrupt
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(range(256)) * 40)  # a .mp4 that is no video at all
    return {rel: frames for rel, (frames, _, _) in clips.items()}


def camvideo(*args, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "camvideo", "process", *map(str, args)], capture_output=True,
                          text=True, env=kwargs.pop("env", env()), timeout=timeout, **kwargs)


class Running:
    """``camvideo process ...`` in a real process, its stderr collected line by line."""

    def __init__(self, *args, extra_env: dict | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "camvideo", "process", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env(**(extra_env or {})))
        self.lines: list[str] = []
        self._out: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stderr, self.lines), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    @property
    def stdout(self) -> str:
        return "\n".join(self._out)

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 180.0) -> re.Match:
        """The first stderr line matching ``pattern`` (fails if the process ends first)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.proc.poll() is not None:
                self._readers[0].join(5)
                pytest.fail(f"camvideo ended ({self.proc.returncode}) before {pattern!r}:\n{self.stderr}")
            time.sleep(0.05)
        pytest.fail(f"no {pattern!r} within {timeout} s:\n{self.stderr}")

    def finish(self, timeout: float = 240.0) -> int:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(30)
        for reader in self._readers:
            reader.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def wait_lines(path: Path, count: int, timeout: float = 120.0) -> None:
    """Until the file at ``path`` has ``count`` lines (frames flow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{path} has no {count} lines after {timeout} s")


def summary(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "camvideo-run.jsonl").read_text().splitlines()]


def decoded_frames(path: Path) -> int:
    """Frames of ``path``, decoding strictly (any error fails)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def check_complete(source: Path, recording: Path | None, export: Path | None, frames: int) -> None:
    """Every frame of ``source`` is in the recording (same times) and one line each in the export."""
    if recording is not None:
        assert recording.exists(), recording
        assert not recording.with_name(f"{recording.stem}.partial{recording.suffix}").exists()
        assert decoded_frames(recording) == frames, recording
        ours, theirs = decode_times(recording), decode_times(source)
        assert len(ours) == len(theirs) == frames
        assert max(abs(a - b) for a, b in zip(ours, theirs)) < 0.0015, (ours, theirs)
    if export is not None:
        assert export.exists(), export
        lines = [json.loads(line) for line in export.read_text().splitlines()]
        assert [line["frame"] for line in lines] == list(range(frames)), export
