"""Case 1 of the reliability issue: a disk that fills mid-run never costs an earlier
complete recording or export. The new files stay as their ``.partial`` names (named
in the error), the earlier ones are byte for byte as they were. A real tmpfs where
one can be mounted (ENOSPC), else files limited with RLIMIT_FSIZE (EFBIG)."""

from __future__ import annotations

import subprocess
import sys

import av
from clips import make_clip
from faults import fill, limited, small_disk
from test_process_command import _env


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _process(clip, folder, *extra, limit=None):
    argv = [sys.executable, "-m", "camvideo", "process", str(clip), "-o", str(folder / "out.mkv"),
            "--export", str(folder / "out.jsonl"), "--no-progress", *extra]
    return subprocess.run(limited(argv, limit), capture_output=True, text=True, env=_env(), timeout=240)


def test_a_full_disk_leaves_the_earlier_outputs_whole_and_the_partial_beside_them(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=240, size=(320, 240))
    with small_disk(tmp_path / "disk", 4096) as disk:
        folder = disk or tmp_path
        first = _process(clip, folder, "--max-frames", "20")
        assert first.returncode == 0, first.stderr
        before = {name: (folder / name).read_bytes() for name in ("out.mkv", "out.jsonl")}
        if disk is not None:
            fill(disk, leave_kib=len(before["out.mkv"]) // 1024 * 2 + 8)
        limit = None if disk is not None else len(before["out.mkv"]) * 2
        second = _process(clip, folder, limit=limit)
        assert second.returncode == 2, second.stderr
        assert "Traceback" not in second.stderr
        error = [line for line in second.stderr.splitlines() if line.startswith("camvideo: error:")]
        assert len(error) == 1 and ("No space left" in error[0] or "File too large" in error[0]), second.stderr
        assert "out.partial.mkv" in second.stderr and "left as it was" in second.stderr
        for name, data in before.items():  # the earlier complete outputs, untouched
            assert (folder / name).read_bytes() == data
        assert _frames(folder / "out.mkv") == 20
        assert 0 < _frames(folder / "out.partial.mkv") < 240  # what was written, playable
        assert (folder / "out.partial.jsonl").exists()
