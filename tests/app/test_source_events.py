"""camvideo.app.source_events: a source's damage and warnings, once each, in the window's
words, without a window (issue 23, finding 3: the banner names the unreadable image)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from clips import pattern

from camvideo.app.source_events import SourceWarnings
from camvideo.video.sources import open_source


@pytest.fixture
def slides(tmp_path) -> Path:
    folder = tmp_path / "slides"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}-image.png"), pattern(i, 64, 48))
    (folder / "1-image.png").write_bytes(b"not a png")  # the second of three
    return folder


def test_an_unreadable_image_is_told_once_by_its_file_name_and_its_index_kept(slides):
    told: list[str] = []
    with open_source(slides) as source:
        warnings = SourceWarnings(source, told.append)
        indices = [frame.index for frame in source]
        warnings.detach()
    assert indices == [0, 2]  # the unreadable one is stepped over
    assert warnings.lost == {1}
    assert [(d.first, d.last) for d in warnings.damage] == [(1, 1)]  # the stretch itself, for the timeline
    assert len(told) == 1 and "1-image.png" in told[0] and "frame 1 (" not in told[0], told
    assert warnings.messages == told


def test_a_source_without_a_name_is_refused():
    class Nameless:
        name = ""

    with pytest.raises(ValueError, match="must have a name"):
        SourceWarnings(Nameless(), print)


class Speaking:
    """A source that only speaks: ``say`` calls its subscribers' ``on_warning``."""

    def __init__(self, live: bool) -> None:
        self.name, self.live, self._warned = "http://cam/live.mjpg", live, None

    def subscribe(self, on_damage, on_warning):
        self._warned = on_warning
        return lambda: None

    def say(self, line: str) -> None:
        self._warned(line)


@pytest.mark.parametrize("live", [True, False])
def test_a_live_source_s_warning_is_told_each_time_a_file_s_once(live):
    told: list[str] = []
    source = Speaking(live)
    SourceWarnings(source, told.append)
    for _ in range(2):
        source.say("http://cam/live.mjpg: the stream ended; reopening")
    assert len(told) == (2 if live else 1)
