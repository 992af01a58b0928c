"""Localize changes reach a paused frame: the model runs again on the frame on
screen (its features kept for the next change), without Step or Play."""

from __future__ import annotations

from qt_helpers import WAIT_MS, settle, wait_frames


def _paused(qtbot, open_window, clip):
    w = open_window(clip, loop=True)
    qtbot.waitUntil(lambda: bool(w.panel.labels), timeout=WAIT_MS)
    wait_frames(qtbot, w, 3)
    w.toggle_pause()
    settle(qtbot, w)
    return w


def _box_area(result) -> int:
    return sum((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in result.detections if d.box is not None)


def test_one_class_top_k_and_the_threshold_reach_the_paused_frame(qtbot, open_window, fast_models, cat_clip):
    w = _paused(qtbot, open_window, cat_clip)
    index = w.session.last_shown.index
    assert w.session.last_shown.result.map_class_ids != (967,)
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("espresso")
    w.panel.class_edit.editingFinished.emit()  # Enter
    assert w.panel.class_hint.text() == "showing 967 espresso"
    qtbot.waitUntil(lambda: w.view.current.result.map_class_ids == (967,), timeout=WAIT_MS)
    shown = w.view.current
    assert shown.index == index and w.session.paused  # the same frame: no Step, no Play
    assert [d.label for d in shown.result.detections] == ["espresso"]
    assert w.session._held.forwards == 1  # one forward pass on the held frame...
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(3)
    qtbot.waitUntil(lambda: len(w.view.current.result.map_class_ids) == 3, timeout=WAIT_MS)
    assert w.view.current.index == index
    w.panel.threshold.setValue(67)
    qtbot.waitUntil(lambda: w.session.last_shown.result is not shown.result
                    and w.session.localize_settings.box_rule.threshold == 0.67, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.view.current.result.detections[0].box is not None, timeout=WAIT_MS)
    tight = _box_area(w.view.current.result)
    w.panel.threshold.setValue(1)
    qtbot.waitUntil(lambda: _box_area(w.view.current.result) > tight, timeout=WAIT_MS)
    assert w.view.current.index == index and w.session.paused
    assert w.session._held.forwards == 1  # ...kept: the later changes made only maps and boxes
    # Step goes on from there with the settings chosen
    w.step()
    qtbot.waitUntil(lambda: w.view.current.index > index, timeout=WAIT_MS)
    assert len(w.view.current.result.map_class_ids) == 3


def test_a_change_at_the_end_of_the_file_reaches_the_last_frame(qtbot, open_window, fast_models, tmp_path):
    from qt_helpers import make_cat_clip

    w = open_window(make_cat_clip(tmp_path / "short.mp4", frames=15, size=(160, 96)))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    settle(qtbot, w)
    last = w.view.current.index
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(2)
    qtbot.waitUntil(lambda: len(w.view.current.result.map_class_ids) == 2, timeout=WAIT_MS)
    assert w.view.current.index == last


def test_another_model_reaches_the_paused_frame(qtbot, open_window, fast_models, cat_clip, monkeypatch, _lite0):
    """A model chosen while paused runs on the frame on screen when it is ready (the
    timeline has started afresh for it: the frame must not keep the old model's map)."""
    import copy

    import torch

    import camvideo.models

    other = copy.deepcopy(_lite0)
    classifier = next(m for m in reversed(list(other.modules())) if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        classifier.weight.copy_(classifier.weight.roll(1, dims=0))  # class i's weights score class i + 1
        classifier.bias.copy_(classifier.bias.roll(1, dims=0))
    loading = camvideo.models.load_model
    monkeypatch.setattr(camvideo.models, "load_model",
                        lambda name="lite0", **kwargs: other if name == "resnet18" else loading(name, **kwargs))
    w = _paused(qtbot, open_window, cat_clip)
    shown = w.session.last_shown
    top = shown.result.detections[0].class_id
    w.session.load_model("resnet18")
    qtbot.waitUntil(lambda: w.session.model is other, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.session.last_shown.result.detections[0].class_id == (top + 1) % 1000, timeout=WAIT_MS)
    assert w.session.last_shown.index == shown.index and w.session.paused
