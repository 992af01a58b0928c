"""The window's state kept in step (issue 23's findings, replayed through a window):
a model loaded while a file has ended plays, "Weights file…" follows the model that
failed, One class fills the timeline, a model switch starts a new timeline."""

from __future__ import annotations

from qt_helpers import WAIT_MS, make_cat_clip, settle, wait_frames


def test_a_model_loaded_after_the_end_plays_and_starts_a_new_timeline(qtbot, open_window, fast_models, tmp_path,
                                                                      monkeypatch, _lite0):
    import copy

    import camvideo.models

    real = camvideo.models.load_model
    monkeypatch.setattr(camvideo.models, "load_model",  # another model (a copy: as fast to load)
                        lambda name="lite0", **kw: copy.deepcopy(_lite0) if name == "other" else real(name, **kw))
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=12, size=(96, 64)))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    old = w.session.localizer
    qtbot.waitUntil(lambda: len(w.timeline.track) > 0, timeout=WAIT_MS)
    with qtbot.waitSignal(w.session.model_ready, timeout=WAIT_MS):
        w.models.load("other")
    assert w.session.localizer is not old and w.panel.model_state.text() == "other ready on cpu"
    assert w.session.pipeline.localizer is w.session.localizer  # Play, Step and seek run it
    assert len(w.timeline.track) == 0  # the last model's scores are not this one's
    w.session.seek(0.0)
    wait_frames(qtbot, w, 3)
    assert w.session.pipeline.localizer is w.session.localizer


def test_weights_file_follows_the_model_that_could_not_load(qtbot, open_window, fast_models, cat_clip,
                                                             monkeypatch, _lite0):
    import camvideo.models
    from camvideo.errors import ModelLoadError
    from camvideo.qt import dialogs

    real = camvideo.models.load_model

    def load(name="lite0", **kwargs):
        if name == "resnet18":
            if not kwargs.get("weights"):
                raise ModelLoadError("resnet18's weights are not on this machine (offline)")
            return _lite0  # a weights file for it (lite0 stands in: it loads in no time)
        return real(name, **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", load)
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    with qtbot.waitSignal(w.session.model_failed, timeout=WAIT_MS):
        w.panel.model.addItem("resnet18")
        w.panel.model.setCurrentText("resnet18")
    assert w.panel.model.currentText() == "lite0"  # what runs
    assert w.panel.model_state.text() == "resnet18 could not load; still lite0 on cpu"
    assert w.banner.isVisible() and "offline" in w.error_label.text()
    asked = []
    monkeypatch.setattr(dialogs, "ask_weights", lambda _w, _s, name: asked.append(name) or str(tmp_weights(w)))
    with qtbot.waitSignal(w.session.model_ready, timeout=WAIT_MS):
        w.models.ask_weights_file()
    assert asked == ["resnet18"] and w.session.model_name == "resnet18"
    assert w.panel.model.currentText() == "resnet18" and w.panel.model_state.text() == "resnet18 ready on cpu"
    assert not w.banner.isVisible()  # the failure it told of is over


def tmp_weights(w):
    return w.output_dir / "resnet18.pth"


def test_one_class_fills_the_timeline_while_playing_and_save_is_there(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=60, size=(96, 64)), loop=True)
    wait_frames(qtbot, w, 2)
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("Egyptian cat")
    w.panel.class_edit.editingFinished.emit()
    assert w.session.localize_settings.class_ids == (285,)
    assert w.panel.class_hint.text() == "showing 285 Egyptian cat"
    wait_frames(qtbot, w, 10)
    w.timeline.refresh()
    strip = w.timeline.strip
    qtbot.waitUntil(lambda: w.timeline.refresh() or (strip.lines and len(strip.lines[0][1]) >= 5), timeout=WAIT_MS)
    assert strip.lines[0][0] == "Egyptian cat" and strip.lines[0][2].max() > 0
    assert len(strip.lines[0][1]) > len(w.timeline.track)  # the frames played as One class count too
    assert strip.note.startswith("Egyptian cat: ")
    assert w.timeline.save_button.isEnabled()


def test_a_remembered_class_is_named_once_the_names_come(qtbot, open_window, fast_models, cat_clip,
                                                         settings_in_tmp):
    from camvideo.qt import app_settings

    s = app_settings()
    s.setValue("mode", "One class")
    s.setValue("class", "Egyptian cat")
    s.sync()
    w = open_window(cat_clip)
    assert "no class matches" not in w.panel.class_hint.text()
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    assert w.panel.class_hint.text() == "showing 285 Egyptian cat"
    assert w.session.localize_settings.class_ids == (285,)
