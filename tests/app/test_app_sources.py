"""What the window keeps of a source: no stream password on disk or in a snapshot."""

from __future__ import annotations

import pytest

from camvideo.app.sources import asks_password, made_from, url_to_keep


@pytest.mark.parametrize(("url", "kept"), [
    ("rtsp://admin:S3cret@cam.local:554/1", "rtsp://admin:***@cam.local:554/1"),
    ("  http://u:p@host/x.mjpg ", "http://u:***@host/x.mjpg"),
    ("rtsp://cam.local/1", "rtsp://cam.local/1"),
    ("rtsp://viewer@cam/1", "rtsp://viewer@cam/1"),  # a user name without a password stays
])
def test_the_password_never_reaches_the_disk(url, kept):
    assert url_to_keep(url) == kept
    assert asks_password(kept) == (":***@" in kept)
    assert url_to_keep(kept) == kept  # kept again: the same


def test_url_to_keep_checks_its_argument():
    with pytest.raises(TypeError):
        url_to_keep(None)


def test_a_snapshot_names_its_source_and_model():
    assert made_from("rtsp://a:b@cam/1", "lite0") == {"source": "rtsp://a:***@cam/1", "model": "lite0"}
    assert made_from("clip.mp4", None) == {"source": "clip.mp4", "model": None}
    assert made_from(None, "") == {"source": None, "model": None}

