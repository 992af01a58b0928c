"""``camvideo gui`` stops cleanly on Ctrl-C, SIGTERM and SIGHUP."""

from __future__ import annotations

import os
import signal

import pytest
from qt_helpers import WAIT_MS, count_frames, wait_frames

from camvideo.qt.app import StopOnSignals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_closes_the_window_and_finalizes_the_recording(qtbot, open_window, fast_models, cat_clip,
                                                                     tmp_path, sig):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 3, timeout=WAIT_MS)
    before = signal.getsignal(sig)
    with StopOnSignals(w) as stop:
        os.kill(os.getpid(), sig)  # what Ctrl-C in the terminal, or `kill`, sends
        qtbot.waitUntil(lambda: not w.isVisible(), timeout=WAIT_MS)
    assert stop.exit_status == 128 + sig
    assert signal.getsignal(sig) is before  # the previous handler is back
    assert not w.session.recording and w.session.pipeline is None
    (path,) = (tmp_path / "out").glob("camvideo-*.mkv")
    assert "partial" not in path.name and count_frames(path) == w.frames_shown_recording
    assert w.settings.value("geometry") is not None  # closed as the close button does: settings saved


def test_sighup_stays_ignored_under_nohup(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with StopOnSignals(w) as stop:
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == stop._handle
        assert stop.exit_status is None and w.isVisible()
    finally:
        signal.signal(signal.SIGHUP, previous)
