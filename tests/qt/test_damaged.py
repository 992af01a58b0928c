"""A damaged file says why it ended, in the banner (the reader's warning), not
just "end of the file"."""

from __future__ import annotations

from clips import make_truncated_clip
from qt_helpers import WAIT_MS, wait_frames


def test_a_truncated_file_says_so_in_the_banner_when_it_ends(qtbot, open_window, fast_models, tmp_path):
    cut = make_truncated_clip(tmp_path, frames=60, size=(96, 64))
    w = open_window(cut)
    wait_frames(qtbot, w, 2)
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(w.session.source_warnings) == 1, timeout=WAIT_MS)
    text = w.error_label.text()
    # one line: which frames are missing (the missing tail) and why, named by the file
    assert text == ("cut.mkv: frames 34-59 (1.1-2.0 s) are missing: the video stops before the 2.0 s its "
                    "header says (truncated or damaged); every frame that could be decoded was kept"), text
    assert str(tmp_path) not in text  # the file's name, not its whole path
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith("ended early: the file is damaged"),
                    timeout=WAIT_MS)  # once the window has heard of the end
    assert w.session.source_warnings == [text]


def test_a_file_damaged_in_the_middle_names_the_lost_frames(qtbot, open_window, fast_models, tmp_path):
    from clips import make_clip

    whole = tmp_path / "whole.mkv"
    make_clip(whole, frames=90, size=(96, 64))
    data = whole.read_bytes()
    middle = len(data) // 2
    bad = tmp_path / "bad-middle.mkv"
    bad.write_bytes(data[:middle] + bytes(range(256)) * 40 + data[middle + 10240:])  # 10 kB of junk mid-file
    w = open_window(bad)
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=WAIT_MS)
    text = w.error_label.text()
    # every decodable frame is kept; the banner names the stretch that was lost (the source's frame numbers)
    assert text.startswith("bad-middle.mkv: frames ") and text.endswith(
        ("could not be decoded", "every frame that could be decoded was kept")), text
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith("ended early"), timeout=WAIT_MS)


def test_a_good_file_ends_quietly(qtbot, open_window, fast_models, tmp_path):
    from qt_helpers import make_cat_clip

    w = open_window(make_cat_clip(tmp_path / "fine.mp4", frames=15, size=(96, 64)))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.statusBar().currentMessage() == "end of the file", timeout=WAIT_MS)
    assert not w.banner.isVisible() and w.session.source_warnings == []
