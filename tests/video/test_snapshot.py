"""Snapshots: an annotated PNG and its JSON object, both complete or neither."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from contract import check_frame_object

from camvideo.errors import OutputError
from camvideo.results import Detection, FrameResult
from camvideo.video.export import write_snapshot


def _result() -> FrameResult:
    return FrameResult(7, 0.28, 64, 48, (Detection(1, 285, "Egyptian cat", 0.79, (4, 0, 40, 30)),))


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)


def test_writes_the_png_and_its_json_object_into_a_new_folder(tmp_path):
    png, js = write_snapshot(tmp_path / "new" / "folder", "snap", _image(), _result())
    assert png.name == "snap.png" and js.name == "snap.json"
    assert np.array_equal(cv2.imread(str(png)), _image())  # lossless
    obj = json.loads(js.read_text())
    check_frame_object(obj)
    assert obj["frame"] == 7 and obj["detections"][0]["box"] == [4, 0, 40, 30]
    assert sorted(p.name for p in png.parent.iterdir()) == ["snap.json", "snap.png"]  # no temporary file left


def test_a_failure_after_the_png_leaves_neither_file(tmp_path, monkeypatch):
    real = os.replace
    calls = []

    def replace(src, dst):  # the PNG is renamed into place, then the disk fails
        calls.append(dst)
        if str(dst).endswith(".json"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="No space left on device"):
        write_snapshot(tmp_path, "snap", _image(), _result())
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []  # no PNG without its JSON, no temporary file


def test_a_folder_that_cannot_be_made_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot save the snapshot"):
        write_snapshot(blocker / "sub", "snap", _image(), _result())


def test_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="image"):
        write_snapshot(tmp_path, "snap", _image().astype(np.float32), _result())
    with pytest.raises(TypeError, match="result"):
        write_snapshot(tmp_path, "snap", _image(), {"frame": 1})
    with pytest.raises(ValueError, match="stem"):
        write_snapshot(tmp_path, "../snap", _image(), _result())


def test_the_json_says_what_made_it_after_the_frame_keys(tmp_path):
    _, js = write_snapshot(tmp_path, "snap", _image(), _result(), about={"source": "clip.mp4", "model": "lite0"})
    obj = json.loads(js.read_text())
    check_frame_object({k: v for k, v in obj.items() if k not in ("source", "model")})  # the contract, and two keys
    assert list(obj)[-2:] == ["source", "model"]
    assert obj["source"] == "clip.mp4" and obj["model"] == "lite0" and obj["frame"] == 7
    with pytest.raises(ValueError, match="frame"):
        write_snapshot(tmp_path, "snap2", _image(), _result(), about={"frame": 1})
