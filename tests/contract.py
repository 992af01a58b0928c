"""The contracts the tests share: the per-frame JSON object (docs/architecture.md),
and a user error as one line on stderr."""

from __future__ import annotations

FRAME_KEYS = {"frame", "time", "width", "height", "detections"}
DETECTION_KEYS = {"rank", "class_id", "label", "score", "box"}


def check_frame_object(obj: dict) -> None:
    """Raise AssertionError unless ``obj`` is exactly one per-frame object of docs/architecture.md."""
    assert set(obj) == FRAME_KEYS, obj.keys()
    assert isinstance(obj["frame"], int) and obj["frame"] >= 0
    assert isinstance(obj["time"], (int, float)) and obj["time"] >= 0
    assert isinstance(obj["width"], int) and isinstance(obj["height"], int)
    ranks = []
    for det in obj["detections"]:
        assert set(det) - {"regions"} == DETECTION_KEYS, det.keys()
        assert isinstance(det["rank"], int) and det["rank"] >= 1
        assert isinstance(det["class_id"], int) and 0 <= det["class_id"] < 1000
        assert isinstance(det["label"], str) and det["label"]
        assert isinstance(det["score"], float) and 0.0 <= det["score"] <= 1.0
        box = det["box"]
        if box is not None:
            assert len(box) == 4 and all(isinstance(v, int) for v in box)
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= obj["width"] and 0 <= y1 < y2 <= obj["height"]
        if "regions" in det:  # the boxes of the class map's regions, ranked, the box first
            assert det["box"] is not None and det["regions"][0] == det["box"], det
            for x1, y1, x2, y2 in det["regions"]:
                assert 0 <= x1 < x2 <= obj["width"] and 0 <= y1 < y2 <= obj["height"]
        ranks.append(det["rank"])
    assert ranks == sorted(ranks)


def one_line_error(capsys) -> str:
    """The one line a command wrote to stderr for a user error ("camvideo: error: ..."),
    with no traceback; AssertionError otherwise."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("camvideo: error: "), err
    assert "Traceback" not in err
    return lines[0]
