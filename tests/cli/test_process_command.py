"""`camvideo process`: outputs, timestamps, bad input as one-line errors (signals: test_process_signals.py)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from clips import decode_times, make_clip, make_truncated_clip
from contract import check_frame_object, one_line_error

from camvideo.cli import main

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def test_file_to_recording_and_jsonl_keeps_every_frame_and_time(tmp_path, capsys):
    clip = tmp_path / "vfr.mp4"
    times = make_clip(clip, size=(128, 96), times=list(np.cumsum([0.033, 0.012, 0.080, 0.041] * 4)), audio=True)
    out, data = tmp_path / "out.mkv", tmp_path / "out.jsonl"
    assert main(["process", str(clip), "-o", str(out), "--export", str(data)]) == 0
    objects = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(objects) == 16
    for obj in objects:
        check_frame_object(obj)
    assert [o["frame"] for o in objects] == list(range(16))
    assert [o["time"] for o in objects] == pytest.approx(times, abs=1e-3)
    assert decode_times(out) == pytest.approx(times, abs=1e-3)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and (c.streams.video[0].width, c.streams.video[0].height) == (128, 96)
    assert "16 frames" in capsys.readouterr().err


def test_csv_export_only(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=5, size=(64, 48))
    data = tmp_path / "out.csv"
    assert main(["process", str(clip), "--export", str(data), "--topk", "2", "--no-heatmap", "--no-boxes"]) == 0
    rows = list(csv.DictReader(data.open()))
    assert sorted({int(r["frame"]) for r in rows}) == list(range(5))
    assert {r["rank"] for r in rows} == {"1", "2"}
    assert not list(tmp_path.glob("*_cam.mkv"))  # --export alone records nothing


def test_workers_give_the_same_export_as_one_worker(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=9, size=(64, 48))
    exports = []
    for workers in ("1", "3"):
        data = tmp_path / f"out{workers}.jsonl"
        assert main(["process", str(clip), "--export", str(data), "--workers", workers, "--smooth"]) == 0
        exports.append([json.loads(line) for line in data.read_text().splitlines()])
    assert [o["frame"] for o in exports[1]] == list(range(9))
    for a, b in zip(*exports):
        assert [(d["rank"], d["class_id"]) for d in a["detections"]] == [(d["rank"], d["class_id"]) for d in b["detections"]]
        for da, db in zip(a["detections"], b["detections"]):
            assert da["score"] == pytest.approx(db["score"], abs=2e-3)
            if da["box"] is not None:
                assert da["box"] == pytest.approx(db["box"], abs=1.0)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_max_frames_is_exact(tmp_path, workers):
    """--max-frames N writes N frames, however many are in flight (it was a poll:
    ~10 frames too many at 60 fps)."""
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=40, size=(64, 48))
    data, out = tmp_path / "out.jsonl", tmp_path / "out.mkv"
    assert main(["process", str(clip), "-o", str(out), "--export", str(data), "--max-frames", "7",
                 "--workers", workers]) == 0
    assert [json.loads(line)["frame"] for line in data.read_text().splitlines()] == list(range(7))
    assert len(decode_times(out)) == 7


def test_odd_sized_and_rotated_inputs(tmp_path):
    odd, rotated = tmp_path / "odd.mkv", tmp_path / "rot.mp4"
    make_clip(odd, frames=4, size=(321, 241), pix_fmt="yuv444p")
    make_clip(rotated, frames=4, size=(96, 64), rotation=90)
    for clip, size in ((odd, (321, 241)), (rotated, (64, 96))):
        out, data = tmp_path / f"{clip.stem}_out.mkv", tmp_path / f"{clip.stem}.jsonl"
        assert main(["process", str(clip), "-o", str(out), "--export", str(data)]) == 0
        objects = [json.loads(line) for line in data.read_text().splitlines()]
        assert len(objects) == 4 and (objects[0]["width"], objects[0]["height"]) == size
        for obj in objects:
            check_frame_object(obj)
        with av.open(str(out)) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == 4
        assert (frames[0].width, frames[0].height) == (size[0] + size[0] % 2, size[1] + size[1] % 2)


def test_truncated_video_warns_and_processes_what_is_there(tmp_path, capsys):
    cut = make_truncated_clip(tmp_path)
    out = tmp_path / "cut.jsonl"
    assert main(["process", str(cut), "--export", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert 10 < len(lines) < 60
    # one line for one problem: the frames lost, why, and that the rest was kept
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warning == (f"camvideo: warning: {cut}: frames {len(lines)}-59 ({len(lines) / 30:.1f}-2.0 s) are missing: "
                       "the video stops before the 2.0 s its header says (truncated or damaged); "
                       "every frame that could be decoded was kept"), warning


def _noise(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    return path


@pytest.mark.parametrize("args, message", [
    (lambda p: [str(p / "missing.mp4")], "no such file"),
    (lambda p: [str((p / "empty.mp4").touch() or p / "empty.mp4")], "empty"),
    (lambda p: [str(_noise(p / "noise.mp4"))], "not a video"),
    (lambda p: ["9"], "no camera"),
    (lambda p: [str(_clip(p)), "-o", str(p / "no" / "dir" / "x.mkv")], "does not exist"),
    (lambda p: [str(_clip(p)), "-o", str(_clip(p)) + "/x.mkv"], "ok.mkv is a file, not a folder"),
    (lambda p: [str(_clip(p)), "--export", str(_clip(p)) + "/x.jsonl"], "ok.mkv is a file, not a folder"),
    (lambda p: [str(_clip(p)), "--export", str(p / "x.txt")], ".jsonl or .csv"),
    (lambda p: [str(_clip(p)), "--topk", "0"], "topk"),
    (lambda p: [str(_clip(p)), "--workers", "0"], "--workers"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert main(["process", *args(tmp_path)]) == 2
    assert message in one_line_error(capsys)


def _clip(tmp_path: Path) -> Path:
    path = tmp_path / "ok.mkv"
    if not path.exists():
        make_clip(path, frames=3, size=(32, 32))
    return path


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def test_full_disk_is_aone_line_error(tmp_path):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=120, size=(160, 120))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000)); "
            "from camvideo.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "process", str(clip), "-o", str(tmp_path / "out.mkv")],
                          capture_output=True, text=True, env=_env(), timeout=150)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "camvideo: error: cannot write" in proc.stderr and "File too large" in proc.stderr
