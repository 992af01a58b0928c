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
