"""Names printed by the command line are one line each (issue 27's lower list): a file
name with a newline cannot forge a progress line, one with terminal escapes or a
labels file's escapes cannot restyle the terminal; the summary keeps the real names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clips import make_clip

from camvideo.cli import main

pytestmark = pytest.mark.timeout(300)

FORGED = "a\ncamvideo: done forged.mkv"  # no slash in a name: not "[2/2]"
RED = "\x1b[31mred\x1b[0m.mkv"


def _printed(capfd) -> str:
    out, err = capfd.readouterr()
    text = out + err
    assert "\x1b" not in text and "Traceback" not in text
    return text


def test_a_batch_prints_each_name_on_its_line_and_keeps_it_in_the_summary(tmp_path, capfd):
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / FORGED, frames=3, size=(32, 32))
    (folder / RED).write_bytes(np.random.default_rng(2).bytes(4000))  # fails: its name is in the table
    out = tmp_path / "out"
    assert main(["process", str(folder), "--output-dir", str(out), "--jobs", "1", "--no-recording"]) == 1
    text = _printed(capfd)
    lines = text.splitlines()
    assert not any(line.startswith("camvideo: done forged") for line in lines), text
    assert any("done a\\ncamvideo: done forged.mkv: 3 frames" in line for line in lines), text
    assert any("\\x1b[31mred\\x1b[0m.mkv" in line and "failed" in line for line in lines), text
    records = [json.loads(line) for line in (out / "camvideo-run.jsonl").read_text().splitlines()]
    assert sorted(r["rel"] for r in records) == sorted([FORGED, RED])  # the real names, for a rerun


def test_a_single_run_and_its_error_are_one_line(tmp_path, capfd):
    noise = tmp_path / f"x{FORGED}"
    noise.write_bytes(np.random.default_rng(1).bytes(4000))
    assert main(["process", str(noise), "--export", str(tmp_path / "o.jsonl")]) == 2
    text = _printed(capfd)
    assert len(text.splitlines()) == 1 and "xa\\ncamvideo: done forged.mkv: not a video" in text, text


def test_image_prints_escaped_file_and_label_names(tmp_path, capfd, data_dir):
    photo = tmp_path / "cat\x1b]0;title\x07.png"
    photo.write_bytes((data_dir / "chelsea.png").read_bytes())
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"\x1b[5mclass {i}\x1b[0m\n" for i in range(1000)), encoding="utf-8")
    assert main(["image", str(photo), "--labels", str(labels), "--runtime", "torch", "-o", str(tmp_path / "o.png")]) == 0
    (line,) = _printed(capfd).splitlines()
    assert line.startswith(f"{tmp_path}/cat\\x1b]0;title\\x07.png: \\x1b[5mclass 28") and "\\x1b[0m (" in line, line
