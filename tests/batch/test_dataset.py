"""The archive's per-frame data as one Parquet dataset (``--dataset DIR``), read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import camvideo, summary
from clips import make_cat_clip, make_clip

pa = pytest.importorskip("pyarrow")
import pyarrow.compute as pc  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402

from camvideo.batch.dataset import COLUMNS, build, rows  # noqa: E402


def detections(jsonl: Path) -> int:
    return sum(len(json.loads(line)["detections"]) for line in jsonl.read_text().splitlines())


def test_an_archive_becomes_one_dataset_that_answers_which_files_hold_a_class_and_when(tmp_path):
    source = tmp_path / "in"
    (source / "day1").mkdir(parents=True)
    make_cat_clip(source / "day1" / "cat.mp4", frames=20)
    make_clip(source / "plain.mp4", frames=15, size=(64, 48))
    out, dataset = tmp_path / "out", tmp_path / "dataset"
    done = camvideo(source, "--output-dir", out, "--no-recording", "--jobs", "1", "--dataset", dataset)
    assert done.returncode == 0, done.stderr
    assert "dataset" in done.stderr and "2 files written" in done.stderr
    assert sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob("*")) == [
        "day1", "day1/cat.parquet", "plain.parquet"]
    table = ds.dataset(dataset, format="parquet").to_table()
    assert table.column_names == list(COLUMNS)
    assert table.num_rows == detections(out / "day1" / "cat.jsonl") + detections(out / "plain.jsonl")
    jsonl_scores = [d["score"] for line in (out / "day1" / "cat.jsonl").read_text().splitlines()
                    for d in json.loads(line)["detections"]]
    cat_rows = table.filter(pc.equal(table["file"], "day1/cat.mp4"))
    assert cat_rows["score"].to_pylist() == jsonl_scores  # the JSONL's numbers, not float32's neighbours
    assert sorted(set(cat_rows["frame"].to_pylist())) == list(range(20))
    # the docs' question, asked with pyarrow: which files contain class 285 (Egyptian cat), from when to when
    hits = table.filter(pc.equal(table["class_id"], 285)).group_by("file").aggregate([("time", "min"), ("time", "max")])
    assert hits["file"].to_pylist() == ["day1/cat.mp4"]
    assert hits["time_min"].to_pylist() == [0.0] and hits["time_max"][0].as_py() == pytest.approx(19 / 30, abs=1e-3)
    # a rerun leaves the files up to date as they are
    again = camvideo(source, "--output-dir", out, "--no-recording", "--jobs", "1", "--dataset", dataset)
    assert again.returncode == 0 and "0 files written, 2 up to date" in again.stderr
    assert [r["status"] for r in summary(out)[-2:]] == ["skipped", "skipped"]


def test_a_class_without_a_box_has_null_corners_and_a_failed_file_is_left_out(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"frame": 3, "time": 0.1, "width": 8, "height": 6, "detections": [
        {"rank": 1, "class_id": 7, "label": "x", "score": 0.5, "box": None}]}) + "\n")
    assert rows(jsonl, "a.mp4")["x1"] == [None] and rows(jsonl, "a.mp4")["frame"] == [3]
    records = [{"rel": "a.mp4", "status": "done", "outputs": [str(jsonl)]},
               {"rel": "a.mp4", "status": "failed", "outputs": []}]
    assert build(tmp_path, tmp_path / "set", records) == (0, 0)
    assert build(tmp_path, tmp_path / "set", records[:1]) == (1, 0)
    assert ds.dataset(tmp_path / "set", format="parquet").to_table()["x1"].to_pylist() == [None]


def test_a_dataset_needs_jsonl(tmp_path):
    make_clip(tmp_path / "a.mp4", frames=5, size=(32, 32))
    done = camvideo(tmp_path / "a.mp4", "--output-dir", tmp_path / "out", "--export-format", "csv",
                    "--dataset", tmp_path / "set")
    assert done.returncode == 2 and "--dataset is built from each file's JSONL" in done.stderr


def test_scores_and_times_read_back_as_the_jsonl_wrote_them(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"frame": 0, "time": 0.033333, "width": 8, "height": 6, "detections": [
        {"rank": 1, "class_id": 7, "label": "x", "score": 0.3, "box": [0, 1, 2, 3]},
        {"rank": 2, "class_id": 9, "label": "y", "score": 0.1234, "box": None}]}) + "\n")
    assert build(tmp_path, tmp_path / "set", [{"rel": "a.mp4", "status": "done", "outputs": [str(jsonl)]}]) == (1, 0)
    table = pa.parquet.read_table(tmp_path / "set" / "a.parquet")
    assert table.schema.field("score").type == pa.float64()
    assert table["score"].to_pylist() == [0.3, 0.1234] and table["time"].to_pylist() == [0.033333] * 2
