"""Your exported model in the window: "Weights file…" takes an ``.onnx`` or IR file
and then its labels file, and ``camvideo gui --model FILE.onnx`` loads it first
(the choice itself: tests/app/test_models.py)."""

from __future__ import annotations

import pytest
import torch
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog
from qt_helpers import WAIT_MS, wait_frames

from camvideo.cli import main

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402

NAMES = ["ant", "bee", "cat", "dog", "eel"]


@pytest.fixture
def graph(tmp_path):
    with torch.random.fork_rng():
        torch.manual_seed(5)
        net = graphs.GapNet().eval()
    (tmp_path / "names.txt").write_text("\n".join(NAMES))
    return graphs.export_onnx(net, tmp_path / "gap.onnx", (64, 64)), tmp_path / "names.txt"


def test_weights_file_takes_an_exported_model_and_then_its_labels(qtbot, open_window, fast_models, cat_clip,
                                                                  graph):
    path, labels = graph
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    asked = []
    picks = iter([str(path), str(labels)])  # the model file, then its labels

    def pick(parent, caption, start, filters):
        asked.append((caption, filters.split(";;")[0]))
        return next(picks), ""

    patch = pytest.MonkeyPatch()
    patch.setattr(QFileDialog, "getOpenFileName", staticmethod(pick))
    try:
        with qtbot.waitSignal(w.session.model_ready, timeout=WAIT_MS):
            qtbot.mouseClick(w.panel.weights_button, Qt.MouseButton.LeftButton)
    finally:
        patch.undo()
    assert "*.onnx *.xml" in asked[0][1] and asked[1][0] == "Labels for gap.onnx (Cancel: the model's own)"
    assert w.session.model_name == str(path) and list(w.session.model.labels) == NAMES
    assert w.panel.model.currentText() == str(path) and w.panel.model_state.text() == "gap.onnx ready on cpu"
    assert w.panel.labels == NAMES

    def its_frame() -> bool:  # the frames in flight were lite0's
        shown = w.session.last_shown
        return bool(shown.result.detections) and shown.result.detections[0].label in NAMES

    qtbot.waitUntil(its_frame, timeout=WAIT_MS)


def test_gui_model_file_is_the_windows_first_load(qtbot, open_window, cat_clip, graph):
    path, _labels = graph
    w = open_window(cat_clip, loop=True, model=str(path))
    with qtbot.waitSignal(w.session.model_ready, timeout=WAIT_MS):
        pass
    assert w.session.model_name == str(path) and w.panel.model.currentText() == str(path)
    assert w.session.model.labels[0] == "class 0"  # no labels in the file, none given: class numbers
    wait_frames(qtbot, w, 2)


def test_gui_with_a_missing_graph_file_is_one_line(capsys, tmp_path):
    assert main(["gui", "--model", str(tmp_path / "gone.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camvideo: error: model file {tmp_path / 'gone.onnx'} not found"]
    (tmp_path / "m.xml").write_text("<net/>")
    assert main(["gui", "--model", str(tmp_path / "m.xml")]) == 2
    assert capsys.readouterr().err.strip() == (f"camvideo: error: model file {tmp_path / 'm.bin'} not found: "
                                               "an OpenVINO IR is the .xml and the .bin beside it")
