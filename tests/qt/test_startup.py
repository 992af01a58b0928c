"""The window shows before torch is imported; the model then loads in the background.

torch takes ~1.5 s to import on two cores (torchvision, for the model list, ~1.2 s
more, made in a child process): the window must not wait for it, and the first frame not for torchvision. Whether a module is imported can only be seen in a fresh
process (this one imported torch long ago), so the first test runs one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qt_helpers import WAIT_MS, fail_to_load, wait_frames

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "timm")

CHILD = r"""
import json, sys, time
from PyQt6.QtWidgets import QApplication
from PyQt6.QtCore import QSettings
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
app = QApplication([])
import camvideo.cli.commands.gui  # what `camvideo gui` imports before the window
from camvideo.cli import build_parser
build_parser().parse_args(["gui", sys.argv[1]])
from camvideo.qt.window import MainWindow
w = MainWindow(sys.argv[1], device="cpu", loop=True)
w.show()
before = [m for m in ("torch", "torchvision", "timm") if m in sys.modules]
models_before = [w.panel.model.itemText(i) for i in range(w.panel.model.count())]
deadline = time.monotonic() + 120
first = []  # the first frame on screen: the preview's, before the model (and torch, here) is in
w.session.frame_shown.connect(lambda s: first or first.append(
    (s.index, len(s.result.detections), w.loading_bar.isVisible(), "torch" in sys.modules)))
while w.session.last_shown is None or not w.session.last_shown.result.detections:
    if time.monotonic() > deadline:
        break
    app.processEvents()
    time.sleep(0.005)
playing = [m for m in ("torch", "torchvision", "timm") if m in sys.modules]
w.panel.model.showPopup()  # the whole list is made when the box opens
while w.panel.model.count() < 10 and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.005)
w.panel.model.hidePopup()
shown = w.session.last_shown
out = {"before": before, "playing": playing, "models_before": models_before, "frames": w.frames_shown,
       "first": first[0], "loading_bar_after": w.loading_bar.isVisible(),
       "models_after": w.panel.model.count(), "model": w.session.model_name,
       "detections": len(shown.result.detections) if shown else 0,
       "after": [m for m in ("torch", "torchvision", "timm") if m in sys.modules]}
w.close()
print("RESULT " + json.dumps(out))
"""


def test_the_window_shows_without_torch_then_the_model_loads_and_annotates(cat_clip, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cat_clip), str(tmp_path / "settings")],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    out = json.loads(line[len("RESULT "):])
    assert out["before"] == []  # built and shown: no torch, torchvision or timm yet
    assert out["models_before"] == ["lite0"]
    # lite0 needs neither torchvision nor timm: the frames play without them; the
    # model list is made when the model box opens, by a child process (its
    # torchvision import would hold this process's GIL for seconds).
    assert out["playing"] == ["torch"]
    assert "torchvision" not in out["after"] and "timm" not in out["after"]
    assert out["model"] == "lite0" and out["frames"] >= 3 and out["detections"] >= 1
    # The video plays from the start, without its heat map and under "Loading model",
    # until the model is ready; then the bar goes.
    _index, detections, loading_bar, _torch_in = out["first"]
    assert detections == 0 and loading_bar and not out["loading_bar_after"]
    assert out["models_after"] > 10  # the whole list, once asked for


def test_the_model_list_fills_in_and_settings_made_meanwhile_apply(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    w.panel.mode.setCurrentText("Top-k")  # before or after the core is in: it must arrive
    w.panel.topk.setValue(2)
    qtbot.waitUntil(lambda: w.session.core_loaded, timeout=WAIT_MS)
    w.panel.model.showPopup()  # the whole list is made when the box opens
    qtbot.waitUntil(lambda: w.panel.model.count() > 10, timeout=WAIT_MS)
    w.panel.model.hidePopup()
    names = [w.panel.model.itemText(i) for i in range(w.panel.model.count())]
    assert names[0] == "lite0" and "resnet50" in names
    assert w.panel.model.currentText() == "lite0"
    assert w.session.localize_settings.topk == 2
    wait_frames(qtbot, w, 2)
    assert len(w.session.last_shown.result.map_class_ids) == 2


def test_a_remembered_model_that_no_longer_exists_gives_way_to_lite0(qtbot, open_window, fast_models, cat_clip):
    from camvideo.qt import app_settings

    settings = app_settings()
    settings.setValue("model", "gone_model_v0")
    settings.sync()
    w = open_window(cat_clip, loop=True)
    assert w.panel.model.currentText() == "gone_model_v0"  # known without torch: it may exist
    wait_frames(qtbot, w, 2)
    assert w.session.model_name == "lite0" and w.panel.model.currentText() == "lite0"
    assert w.panel.model.findText("gone_model_v0") < 0
    # said, not silently replaced (the box said "loading gone_model_v0…", then "lite0 ready")
    qtbot.waitUntil(lambda: w.panel.model_state.text() == "gone_model_v0 could not load; still lite0 on cpu",
                    timeout=WAIT_MS)
    assert any(m.startswith("gone_model_v0: no such model here") for m in w.errors)


def test_a_remembered_timm_model_is_kept_and_when_it_cannot_load_lite0_runs(qtbot, open_window, fast_models,
                                                                           cat_clip, monkeypatch):
    """timm names are not in the listed names (there are thousands) but exist: the
    list keeps the remembered one. When it cannot load (offline), nothing runs yet,
    so lite0 does, and the banner says why."""
    from camvideo.qt import app_settings

    fail_to_load(monkeypatch, "timm:resnet18", "timm:resnet18: its pretrained weights are not on this machine")
    settings = app_settings()
    settings.setValue("model", "timm:resnet18")
    settings.sync()
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    qtbot.waitUntil(lambda: w.panel.model.count() > 10, timeout=WAIT_MS)
    assert w.session.model_name == "lite0" and w.panel.model.currentText() == "lite0"
    assert w.panel.model.findText("timm:resnet18") >= 0  # still there to pick again
    assert "not on this machine" in w.error_label.text()
    # lite0 runs in its place: the line says so, "Weights file…" is for the timm model
    qtbot.waitUntil(lambda: w.panel.model_state.text() == "timm:resnet18 could not load; still lite0 on cpu",
                    timeout=WAIT_MS)
    assert w.models.state.weights_for == "timm:resnet18"


def test_the_video_plays_plain_while_the_model_loads_and_the_paused_frame_gets_its_map(
        qtbot, open_window, _lite0, cat_clip, monkeypatch):
    """The first model takes seconds (torch, then the model; OpenVINO after): the
    video plays at once without a heat map, a bar says why, Pause and seek work;
    when the model is ready the bar goes and the frame on screen (paused) gets its map."""
    import threading

    import camvideo.models

    release = threading.Event()

    def load(name="lite0", **kwargs):
        release.wait(WAIT_MS / 1000)
        return _lite0

    monkeypatch.setattr(camvideo.models, "load_model", load)
    w = open_window(cat_clip, loop=True)
    qtbot.waitUntil(lambda: w.frames_shown >= 3, timeout=WAIT_MS)
    assert w.session.pipeline is None and w.session.model is None and w.session.preview is not None
    assert not w.session.last_shown.result.detections and w.view.message == ""
    assert w.loading_bar.isVisible() and "Loading model lite0" in w.loading_label.text()
    assert not w.panel.record_button.isEnabled()  # nothing to record yet: no model
    assert not w.timeline.scan_button.isEnabled() and not w.timeline.save_button.isEnabled()  # nor to scan
    w.record.snapshot()  # the S key: no model has seen the frame
    assert w.banner.isVisible() and w.error_label.text() == "nothing to save yet: wait for the model"
    w.toggle_pause()
    qtbot.waitUntil(lambda: w.status_line.state(w.session, w.view) == "paused", timeout=WAIT_MS)
    assert w.panel.play_button.text() == "Play"
    w.seek_to(0.5)  # paused: the frame there shows (the clip is 1.5 s)
    qtbot.waitUntil(lambda: 0.7 <= w.session.last_shown.time <= 0.8, timeout=WAIT_MS)
    release.set()
    qtbot.waitUntil(lambda: w.session.last_shown.result.detections != (), timeout=WAIT_MS)
    assert w.session.pipeline is not None and w.session.preview is None and w.session.paused
    assert 0.7 <= w.session.last_shown.time <= 0.8  # the same frame, now with its map
    assert not w.loading_bar.isVisible() and w.errors == ["nothing to save yet: wait for the model"]  # S's alone
    qtbot.waitUntil(lambda: w.timeline.scan_button.isEnabled() and w.timeline.save_button.isEnabled(),
                    timeout=WAIT_MS)
    w.record.snapshot()  # saved now: the banner's old refusal goes
    assert not w.banner.isVisible() and len(list(w.record.output_dir.glob("*.png"))) == 1
    w.toggle_pause()
    wait_frames(qtbot, w, 3)
    assert w.session.last_shown.result.detections and w.session.last_shown.time > 0.8


def test_a_file_that_ended_before_the_model_came_is_told_finished_once(qtbot, open_window, _lite0, cat_clip,
                                                                      monkeypatch):
    """The preview reached the end; the pipeline that takes over reads on from there
    (not the file again from its start) and finds that end: one ``finished`` (a damage
    banner closed meanwhile stays closed). A seek that plays the file to its end
    again is told again."""
    import threading

    import camvideo.models
    from camvideo.qt.session import Session

    release, told, pipeline_ends = threading.Event(), [], []
    monkeypatch.setattr(camvideo.models, "load_model", lambda name="lite0", **kwargs: release.wait(WAIT_MS / 1000)
                        and _lite0)
    real = Session._on_pipeline_finished

    def on_pipeline_finished(self, pipeline):
        real(self, pipeline)
        pipeline_ends.append(pipeline)

    monkeypatch.setattr(Session, "_on_pipeline_finished", on_pipeline_finished)
    w = open_window(cat_clip)
    w.session.finished.connect(lambda: told.append(w.session.player))
    qtbot.waitUntil(lambda: len(told) == 1, timeout=WAIT_MS)
    assert w.session.pipeline is None and w.session.preview.finished
    last, shown = w.session.last_shown.index, []
    w.session.frame_shown.connect(lambda s: shown.append(s.index))
    release.set()
    qtbot.waitUntil(lambda: len(pipeline_ends) == 1, timeout=WAIT_MS)
    assert len(told) == 1 and w.session.pipeline.finished
    assert shown in ([], [last])  # at most the last frame again, with its map: no second playing
    w.session.seek(1.2)  # the clip is 1.5 s: plays to its end again
    qtbot.waitUntil(lambda: len(pipeline_ends) == 2, timeout=WAIT_MS)
    assert len(told) == 2
