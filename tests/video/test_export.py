"""Exporters: one JSONL line a frame (the contract in docs/architecture.md), one CSV row a detection."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from contract import check_frame_object

from camvideo.errors import OutputError
from camvideo.frames import ProcessedFrame
from camvideo.results import Detection, FrameResult
from camvideo.video.export import CSV_COLUMNS, CsvExporter, JsonlExporter, open_exporter
from camvideo.video.sources import Frame


def _result(index: int) -> FrameResult:
    dets = (Detection(1, 285, "Egyptian cat", 0.79, (40, 0, 409, 300)),
            Detection(2, 281, "tabby, tabby cat", 0.1, None))
    return FrameResult(index, index / 25, 640, 480, dets)


def _frame(index: int) -> Frame:
    return Frame(np.zeros((480, 640, 3), np.uint8), index, index / 25, 0.0)


def test_jsonl_one_valid_line_per_frame_flushed_as_it_happens(tmp_path):
    path = tmp_path / "out.jsonl"
    with open_exporter(path) as exporter:
        assert isinstance(exporter, JsonlExporter)
        for i in range(3):
            exporter.write(ProcessedFrame(_frame(i), None, _result(i)))
            # on disk before close, under its temporary name until then
            assert len(exporter.partial.read_text().splitlines()) == i + 1 and not path.exists()
    assert not exporter.partial.exists()
    lines = path.read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    for obj in objects:
        check_frame_object(obj)
    assert [o["frame"] for o in objects] == [0, 1, 2]
    assert objects[1]["time"] == pytest.approx(0.04)
    assert objects[0]["detections"][0] == {"rank": 1, "class_id": 285, "label": "Egyptian cat",
                                           "score": 0.79, "box": [40, 0, 409, 300]}


def test_jsonl_lines_are_json_dumps_text(tmp_path):
    """The exporter's encoder (json's C encoder, made once) writes ``json.dumps``'s
    text byte for byte: non-ASCII labels, NaN, regions, Grad-CAM, no detection."""
    results = [_result(0),
               FrameResult(1, 1 / 3, 641, 361, (Detection(1, 7, "caf\u00e9 \u2603 \"q\"", float("nan"), (0, 1, 2, 3),
                                                           ((0, 1, 2, 3), (5, 5, 9, 9))),), method="gradcam"),
               FrameResult(2, 1e-7, 640, 480, ())]
    path = tmp_path / "out.jsonl"
    with JsonlExporter(path) as exporter:
        for result in results:
            exporter.write_result(result)
    assert path.read_bytes() == "".join(json.dumps(r.to_dict()) + "\n" for r in results).encode()


def test_the_line_encoder_fails_as_json_dumps_does_and_falls_back_without_a_c_encoder(monkeypatch):
    """An object JSON cannot write: json's own TypeError; no C encoder: ``json.dumps``."""
    from json import encoder

    from camvideo import results

    with pytest.raises(TypeError, match="not JSON serializable"):
        results._to_json({"score": np.float32(0.5)})
    monkeypatch.setattr(encoder, "c_make_encoder", None)
    assert results._line_encoder() is json.dumps


def test_csv_one_row_per_detection(tmp_path):
    path = tmp_path / "out.csv"
    with open_exporter(path) as exporter:
        assert isinstance(exporter, CsvExporter)
        exporter.write(ProcessedFrame(_frame(0), None, _result(0)))
        exporter.write(ProcessedFrame(_frame(1), None, _result(1)))
    rows = list(csv.reader(path.open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 2 * 2
    assert rows[1] == ["0", "0.0", "640", "480", "1", "285", "Egyptian cat", "0.79", "40", "0", "409", "300"]
    assert rows[2][-4:] == ["", "", "", ""]  # a class with no box


@pytest.mark.parametrize("name, message", [("out.txt", ".jsonl or .csv"), ("nope/out.jsonl", "does not exist")])
def test_bad_export_path(tmp_path, name, message):
    with pytest.raises(OutputError, match=message):
        open_exporter(tmp_path / name)


def test_write_after_close_is_an_error(tmp_path):
    exporter = open_exporter(tmp_path / "x.jsonl")
    exporter.close()
    exporter.close()  # idempotent
    with pytest.raises(OutputError, match="closed"):
        exporter.write(ProcessedFrame(_frame(0), None, _result(0)))


def test_an_export_whose_first_line_is_long_reads_as_camvideo_s(tmp_path):
    """A frame of many classes' detections (``--topk 1000``) makes a first line longer
    than what is read of it: told by its beginning (it read as a user's own file, and a
    batch's resume refused it); a user's long line is not."""
    from camvideo.video.export import _READ_FIRST, made_by_camvideo_export

    dets = tuple(Detection(r, r, f"class {r}", 0.001, (1, 2, 300, 400), ((1, 2, 300, 400), (5, 6, 7, 8)))
                 for r in range(1, 1001))
    ours = tmp_path / "ours.jsonl"
    with JsonlExporter(ours) as exporter:
        exporter.write_result(FrameResult(0, 0.0, 640, 480, dets))
    assert len(ours.read_text()) > _READ_FIRST and made_by_camvideo_export(ours)
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text('{"id": 0, "time": 0.0, "notes": "' + "x" * _READ_FIRST + '"}\n')
    assert not made_by_camvideo_export(theirs)
    theirs.write_text('123, "time": ' + "x" * _READ_FIRST + "\n")
    assert not made_by_camvideo_export(theirs)
