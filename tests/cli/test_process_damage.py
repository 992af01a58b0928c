"""`camvideo process` on damaged input: the JSONL keeps the file's frame numbers (a
gap stays a gap) and the run ends with a warning naming the stretch (issue 17,
items 4 and 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clips import make_clip

from camvideo.cli import main
from camvideo.video.sources import describe_damage, open_source

pytestmark = pytest.mark.timeout(300)


def _overwrite(path, at: float, length: int, seed: int = 0) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start: start + length] = np.random.default_rng(seed).bytes(length)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("ext, at, length", [("mkv", 0.45, 3000), ("mp4", 0.5, 2500)])
def test_a_damaged_file_keeps_its_frame_numbers_and_ends_with_a_warning(tmp_path, capsys, ext, at, length):
    clip = tmp_path / f"in.{ext}"
    make_clip(clip, frames=90, size=(96, 64), fps=30, gop=10)
    _overwrite(clip, at, length, seed=4)
    with open_source(clip) as src:
        indices = [f.index for f in src]
    assert src.damage and indices[-1] == 89 and len(indices) < 90  # frames were lost in the middle
    out = tmp_path / "out.jsonl"
    assert main(["process", str(clip), "--export", str(out)]) == 0
    frames = [json.loads(line)["frame"] for line in out.read_text().splitlines()]
    assert frames == indices  # the file's numbers, with the gap
    assert any(b - a > 1 for a, b in zip(frames, frames[1:]))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[-1] == f"camvideo: warning: {clip}: {describe_damage(src.damage)}"
    assert "frames" in lines[-1] and "Traceback" not in "\n".join(lines)
