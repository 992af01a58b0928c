"""The run summary: one JSON line per file, appended across runs, read back for a
rerun; the closing table."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from camvideo.batch.summary import STATUSES, SummaryWriter, Totals, format_table, read_records, timestamp


def test_lines_are_appended_per_run_and_read_back(tmp_path):
    path = tmp_path / "camvideo-run.jsonl"
    with SummaryWriter(path, run="run-1") as writer:
        writer.write({"rel": "a.mp4", "status": "done", "frames": 3})
        assert path.read_text().count("\n") == 1  # on disk as soon as written
    with SummaryWriter(path) as writer:
        writer.write({"rel": "a.mp4", "status": "skipped"})
        with pytest.raises(ValueError, match="status must be one of"):
            writer.write({"rel": "a.mp4", "status": "maybe"})
    with open(path, "a") as file:
        file.write('{"rel": "b.mp4", "status": "do')  # a run killed in the middle of a line
    records = read_records(path)
    assert [(r["rel"], r["status"]) for r in records] == [("a.mp4", "done"), ("a.mp4", "skipped")]
    assert records[0]["run"] == "run-1"
    assert datetime.fromisoformat(records[1]["run"]).tzinfo is not None
    assert read_records(tmp_path / "none.jsonl") == []
    assert json.loads(path.read_text().splitlines()[0])["frames"] == 3


def test_the_table_counts_every_status_frames_and_wall_time(tmp_path):
    totals = Totals(files=5)
    totals.add({"rel": "a.mp4", "status": "done", "frames": 100, "seconds": 4.0})
    totals.add({"rel": "b.mp4", "status": "failed", "frames": 7, "seconds": 0.5, "reason": "not a video"})
    totals.add({"rel": "c.mp4", "status": "skipped", "frames": 0})
    totals.add({"rel": "d.mp4", "status": "interrupted", "frames": 13, "seconds": 1.0})
    text = format_table(totals, 10.0, tmp_path / "camvideo-run.jsonl")
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[:len(STATUSES) + 1]] == [*STATUSES, "not"]
    assert lines[0].split() == ["done", "1"] and lines[1].split() == ["failed", "1"]
    assert "not started       1" in text
    assert "5 files, 120 frames in 0:10 wall time (12.0 fps)" in text
    assert "failed: b.mp4: not a video" in text
    assert text.endswith(f"summary: {tmp_path / 'camvideo-run.jsonl'}")


def test_a_damaged_file_counts_as_done_and_its_loss_is_listed_apart(tmp_path):
    totals = Totals(files=2)
    totals.add({"rel": "a.mp4", "status": "done", "frames": 100, "seconds": 4.0})
    totals.add({"rel": "cut.mp4", "status": "done", "frames": 40, "seconds": 2.0, "reason": None,
                "damaged": "frames 40-59 (1.3-2.0 s) are missing"})
    lines = format_table(totals, 10.0, tmp_path / "camvideo-run.jsonl").splitlines()
    assert lines[0].split() == ["done", "2", "(of", "which", "damaged:", "1)"] and lines[1].split() == ["failed", "0"]
    assert "damaged: cut.mp4: frames 40-59 (1.3-2.0 s) are missing" in lines
    assert not any(line.startswith("failed: ") for line in lines) and totals.failures == []


def test_timestamps_are_iso_with_an_offset():
    moment = datetime.fromisoformat(timestamp(0.0))
    assert moment.timestamp() == 0.0 and moment.utcoffset() is not None


def test_compact_keeps_one_line_a_file_the_last_that_ran_it(tmp_path):
    from camvideo.batch.summary import compact

    path = tmp_path / "camvideo-run.jsonl"
    with SummaryWriter(path, run="run-1") as writer:
        writer.write({"rel": "a.mp4", "status": "failed", "reason": "x"})
        writer.write({"rel": "b.mp4", "status": "done", "frames": 2})
    with SummaryWriter(path, run="run-2") as writer:
        writer.write({"rel": "a.mp4", "status": "done", "frames": 3})
        writer.write({"rel": "b.mp4", "status": "skipped"})  # flushed, not synced: a repeat
    records = compact(path, read_records(path))
    assert [(r["rel"], r["status"], r["run"]) for r in records] == [("b.mp4", "done", "run-1"),
                                                                     ("a.mp4", "done", "run-2")]
    assert read_records(path) == records and not (tmp_path / "camvideo-run.jsonl.compact").exists()
    before = path.stat().st_mtime_ns
    assert compact(path, records) == records and path.stat().st_mtime_ns == before  # nothing to drop: untouched
