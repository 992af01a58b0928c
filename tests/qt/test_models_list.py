"""The model list: ready-offline models first and marked, the rest under a
heading; made in a child process; "Weights file…" for a model that cannot
download; a failed load says so in the GUI's words and on stderr."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog
from qt_helpers import WAIT_MS, fail_to_load, wait_frames

from camvideo.app.catalogue import catalogue_path
from camvideo.errors import Hint
from camvideo.qt.modelbox import DOWNLOAD_HEADING, LISTING

CHILD_MS = 240_000  # the child imports torch and torchvision: seconds, minutes on a machine this busy


def _items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def test_the_list_marks_the_models_ready_offline_and_groups_the_rest(qtbot, open_window, fast_models, cat_clip,
                                                                     tmp_path, monkeypatch):
    from torchvision.models import get_model_weights

    # resnet18's weights "downloaded" into a torch cache of our own, and no list kept yet: a child makes it
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / Path(get_model_weights("resnet18").DEFAULT.url).name).write_bytes(b"weights")
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    box = w.panel.model
    box.showPopup()
    assert LISTING in _items(box) and not box.listed  # the popup says the list is coming
    qtbot.waitUntil(lambda: box.listed, timeout=CHILD_MS)
    assert catalogue_path().is_file()  # kept for the next window
    items = _items(box)
    assert items[:4] == ["lite0", "lite1", "lite2", "resnet18"]  # the default, then ready offline (built in too)
    heading = items.index(DOWNLOAD_HEADING)
    assert heading > 4 and "resnet50" in items[heading + 1:] and LISTING not in items
    assert not box.model().item(heading).isEnabled()  # a heading cannot be chosen
    assert box.ready == {"lite0", "lite1", "lite2", "resnet18"}
    assert "ready offline" in box.itemData(1, Qt.ItemDataRole.ToolTipRole)
    assert box.view().isVisible()  # opened again at its full size...
    assert box.view().height() > 5 * box.view().sizeHintForRow(0)  # ...not one row high
    box.hidePopup()
    assert box.currentText() == "lite0" and w.session.model_name == "lite0"
    # the child is done, and the window's own one, niced, ended with it (closing would not have waited for them)
    qtbot.waitUntil(lambda: not w.session.loading, timeout=WAIT_MS)


def test_an_offline_model_points_to_weights_file_and_the_button_loads_one(qtbot, open_window, fast_models,
                                                                          cat_clip, tmp_path, monkeypatch, caplog):
    import camvideo.models

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    fail_to_load(monkeypatch, "resnet50", "resnet50: no network to download its weights; download "
                 "https://download.pytorch.org/models/resnet50-11ad3fa6.pth elsewhere and ", Hint("weights", "PATH", "pass it with"))
    with caplog.at_level(logging.WARNING, logger="camvideo.qt.session"):
        w.load_model("resnet50")
        qtbot.waitUntil(lambda: "could not load" in w.panel.model_state.text(), timeout=WAIT_MS)
    assert "--weights" not in w.error_label.text()
    assert "open it with “Weights file…”" in w.error_label.text()
    assert "model resnet50 could not load: resnet50: no network" in caplog.text  # on stderr too
    weights = tmp_path / "resnet50.pth"
    weights.write_bytes(b"not really weights")
    calls = []
    loading = camvideo.models.load_model

    def load(name="lite0", **kwargs):
        calls.append((name, kwargs.get("weights")))
        return loading("lite0", **{k: v for k, v in kwargs.items() if k != "weights"})

    monkeypatch.setattr(camvideo.models, "load_model", load)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, caption, start, filters: (str(weights), "")))
    w.panel.model.blockSignals(True)
    w.panel.model.setCurrentText("resnet50") if w.panel.model.findText("resnet50") >= 0 else \
        w.panel.model.addItem("resnet50")
    w.panel.model.setCurrentText("resnet50")
    w.panel.model.blockSignals(False)
    qtbot.mouseClick(w.panel.weights_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "resnet50 ready" in w.panel.model_state.text(), timeout=WAIT_MS)
    assert calls == [("resnet50", str(weights))]
    assert w.settings.value("last_weights_dir") == str(tmp_path)


def test_the_list_comes_by_itself_from_the_windows_start(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)  # the list kept (conftest): read at once, no box opened
    qtbot.waitUntil(lambda: w.panel.model.listed, timeout=WAIT_MS)
    assert w.panel.model.count() > 10 and LISTING not in _items(w.panel.model)


def test_opening_the_box_while_the_background_list_is_made_makes_one_at_normal_priority(qtbot, monkeypatch):
    """The window's own request runs its child niced; opening the box then starts one at
    normal priority; the first list made is shown, once."""
    import threading

    from camvideo.qt import loader as loader_module
    from camvideo.qt.loader import ModelLoader

    niced_may_end, calls = threading.Event(), []

    def listing(started, *, nice=False):
        calls.append(nice)
        if nice:
            niced_may_end.wait(WAIT_MS / 1000)
            return [("lite0", "embedded"), ("niced", None)]
        return [("lite0", "embedded"), ("urgent", None)]

    monkeypatch.setattr(loader_module, "catalogue", listing)
    loader = ModelLoader("cpu")
    listed = []
    loader.models_listed.connect(lambda names, ready: listed.append(names))
    try:
        loader.request_list(urgent=False)
        loader.request_list(urgent=False)  # once
        qtbot.waitUntil(lambda: calls == [True], timeout=WAIT_MS)
        loader.request_list()  # the box opens: at once, not niced
        qtbot.waitUntil(lambda: bool(listed), timeout=WAIT_MS)
        assert listed == [["lite0", "urgent"]] and calls == [True, False]
        niced_may_end.set()
        qtbot.wait(200)
        loader.request_list()
        assert listed == [["lite0", "urgent"]] and calls == [True, False]  # the niced one's list is not shown
    finally:
        niced_may_end.set()
        loader.close()
