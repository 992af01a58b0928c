"""The Model box's Runtime choice: the stream starts on torch, OpenVINO is made in
the background and the stream switches to it with no gap; torch again at once."""

from __future__ import annotations

import time

import pytest
from qt_helpers import wait_frames

from camvideo.runtime.openvino import available  # noqa: E402 - camvideo first: OpenVINO without its telemetry

pytestmark = [pytest.mark.timeout(600), pytest.mark.skipif(not available(), reason="needs OpenVINO")]

CONVERT_MS = 300_000  # a cold conversion on a busy 2-core machine: tens of seconds


def _settled(forward) -> bool:
    """No size of ``forward`` converting in the background (its threads are done)."""
    return forward is None or not getattr(forward, "_pending", ())


def test_the_stream_starts_on_torch_and_switches_to_openvino_without_a_gap(qtbot, open_window, fast_models,
                                                                          cat_clip, settings_in_tmp):
    from camvideo.qt import app_settings

    settings = app_settings()
    settings.setValue("runtime", "auto")  # the app's default
    settings.sync()
    w = open_window(cat_clip, loop=True)
    assert w.panel.runtime.currentText() == "auto"
    wait_frames(qtbot, w, 2)
    localizer = w.session.localizer
    qtbot.waitUntil(lambda: localizer.runtime == "openvino", timeout=CONVERT_MS)
    assert w.panel.runtime_state.text() == "OpenVINO"
    start = w.frames_shown
    wait_frames(qtbot, w, 3)  # frames go on on OpenVINO
    assert w.frames_shown >= start + 3 and not w.errors
    forward = localizer.method.forward
    qtbot.waitUntil(lambda: _settled(forward), timeout=CONVERT_MS)  # the clip's own input size, in the background
    # only what the clip's frames need (a conversion costs the stream frames): the preset's size
    # for the clip's aspect, not the model's own 224x224 as well
    from camvideo.cam.multiscale import input_sizes

    shown = w.session.last_shown.result
    assert forward.sizes == input_sizes(shown.width, shown.height, (224, 224), localizer.settings.maps)
    assert (224, 224) not in forward.sizes
    w.panel.runtime.setCurrentText("torch")
    assert localizer.runtime == "torch" and w.panel.runtime_state.text() == "torch"  # at once
    wait_frames(qtbot, w, 2)
    w.panel.runtime.setCurrentText("openvino")  # from the cache now: quick
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: localizer.runtime == "openvino", timeout=CONVERT_MS)
    assert time.monotonic() - t0 < 60
    wait_frames(qtbot, w, 2)
    qtbot.waitUntil(lambda: _settled(localizer.method.forward), timeout=CONVERT_MS)
    w.close()
    assert app_settings().value("runtime", "", str) == "openvino"  # remembered
