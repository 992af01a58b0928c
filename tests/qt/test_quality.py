"""The Quality choice (fast | balanced | best): the presets of camvideo.settings,
at once (a paused frame too), remembered between runs."""

from __future__ import annotations

from qt_helpers import WAIT_MS, settle, wait_frames

from camvideo.presets import DEFAULT_QUALITY, quality_maps


def test_quality_applies_at_once_to_a_paused_frame_and_is_remembered(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    quality = w.panel.quality
    assert quality.currentText() == DEFAULT_QUALITY == "balanced"
    assert [quality.itemText(i) for i in range(quality.count())] == ["fast", "balanced", "best"]
    assert w.session.localize_settings.maps == quality_maps("balanced")[0]
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    balanced = w.session.last_shown.result.heatmaps.shape[1:]
    threshold = w.session.localize_settings.box_rule.threshold

    quality.setCurrentText("fast")  # plain CAM: the frame squashed to 224x224, a 7x7 map
    assert w.session.localize_settings.maps == quality_maps("fast")[0]
    qtbot.waitUntil(lambda: w.session.last_shown.result.heatmaps.shape[1:] == (7, 7), timeout=WAIT_MS)
    assert balanced != (7, 7)  # the 3:2 clip kept its shape before: another map
    quality.setCurrentText("best")  # a second pass at a short side of 288 makes the maps
    assert w.session.localize_settings.maps == quality_maps("best")[0]
    qtbot.waitUntil(lambda: w.session.last_shown.result.heatmaps.shape[1] > balanced[0], timeout=WAIT_MS)
    assert w.session.localize_settings.box_rule.threshold == threshold  # the slider's, whatever the preset
    assert w.session.paused
    w.close()
    assert w.settings.value("quality", "", str) == "best"

    again = open_window(cat_clip)
    assert again.panel.quality.currentText() == "best"
    qtbot.waitUntil(lambda: again.session.localize_settings.maps == quality_maps("best")[0], timeout=WAIT_MS)
