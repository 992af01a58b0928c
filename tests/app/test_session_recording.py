"""The Session's snapshots (``session_recording``): only frames a model has seen."""

from __future__ import annotations

import pytest

from camvideo.app.session_recording import SessionRecording
from camvideo.errors import CamvideoError


class Playing(SessionRecording):
    """A session whose preview plays a frame while the first model loads: a frame on
    screen, no pipeline yet (the S key reaches ``snapshot`` though its button is greyed)."""

    def __init__(self) -> None:
        self.last_shown = object()  # never read: the snapshot stops first
        self.pipeline = None
        self.preview = object()


def test_a_frame_of_the_preview_is_no_snapshot(tmp_path):
    with pytest.raises(CamvideoError, match="wait for the model"):
        Playing().snapshot(tmp_path)
    assert list(tmp_path.iterdir()) == []


class Looping(SessionRecording):
    """A session on a 10-frame file at 10 fps that loops, its frame 13 on screen (the
    second round's frame 3)."""

    def __init__(self, looping: bool = True) -> None:
        from types import SimpleNamespace

        import numpy as np

        from camvideo.results import FrameResult

        result = FrameResult(frame=13, time=1.3, width=4, height=4, detections=())
        self.last_shown = SimpleNamespace(index=13, time=1.3, result=result, labels_burned=True,
                                          annotated=np.zeros((4, 4, 3), np.uint8))
        self.pipeline, self.preview, self.looping, self.model_name = object(), None, looping, "lite0"
        self.source = SimpleNamespace(name="clip.mp4", info=SimpleNamespace(frame_count=10, rate=10.0, live=False))
        self.duration_hint = 1.0


def test_a_snapshot_of_a_looping_file_names_the_frame_of_the_file(tmp_path):
    import json

    png, js = Looping().snapshot(tmp_path)
    assert png.stem.endswith("-f000003") and js.stem == png.stem
    saved = json.loads(js.read_text())
    assert (saved["frame"], saved["time"]) == (3, pytest.approx(0.3))


def test_a_snapshot_past_the_end_of_a_file_that_does_not_loop_keeps_its_count(tmp_path):
    png, _ = Looping(looping=False).snapshot(tmp_path)
    assert png.stem.endswith("-f000013")
