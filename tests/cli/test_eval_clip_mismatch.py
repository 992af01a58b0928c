"""`camvideo eval --clip P --truth T` from different videos: one warning line, and the mismatch in clip_summary.json."""

from __future__ import annotations

import json

from camvideo.cli import main
from camvideo.tools.clipeval import mismatch_line, source_mismatch


def _frames(path, count, size):
    lines = [{"frame": i, "time": i / 30, "width": size[0], "height": size[1],
              "detections": [{"rank": 1, "class_id": 281, "box": [10, 10, 100, 100]}]} for i in range(count)]
    path.write_text("".join(json.dumps(o) + "\n" for o in lines))
    return path


def test_a_truth_of_another_video_is_warned_and_kept_in_the_summary(tmp_path, capsys):
    pred = _frames(tmp_path / "p.jsonl", 600, (640, 480))
    truth = _frames(tmp_path / "t.jsonl", 300, (640, 360))
    assert main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(tmp_path / "out")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == ["camvideo: warning: frame size differs (640x480 predicted, 640x360 in the truth); "
                        "300 prediction frames have no truth: are they of the same video?"]
    summary = json.loads((tmp_path / "out" / "clip_summary.json").read_text())
    assert summary["mismatch"] == {"frame_size": {"predictions": ["640x480"], "truth": ["640x360"]},
                                   "prediction_frames_without_truth": 300}


def test_the_same_video_says_nothing(tmp_path, capsys):
    pred = _frames(tmp_path / "p.jsonl", 10, (640, 480))
    truth = _frames(tmp_path / "t.jsonl", 10, (640, 480))
    assert main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(tmp_path / "out")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "clip_summary.json").read_text())["mismatch"] == {}


def test_a_truth_without_sizes_is_compared_by_frames_only():
    pred = {0: {"frame": 0, "width": 64, "height": 48, "detections": []}, 1: {"frame": 1, "detections": []}}
    truth = {0: {"frame": 0, "detections": []}}
    found = source_mismatch(pred, truth)
    assert found == {"prediction_frames_without_truth": 1}
    assert mismatch_line(found) == "1 prediction frame has no truth: are they of the same video?"
    assert mismatch_line({}) is None
