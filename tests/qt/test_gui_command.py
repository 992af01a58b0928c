"""``camvideo gui``: checks before a window opens; the demo clip is found."""

from __future__ import annotations

import sys

import av
import pytest

from camvideo.app.resources import demo_clip_path
from camvideo.cli import main


def test_bad_model_device_or_weights_fail_before_a_window(capsys, tmp_path):
    assert main(["gui", "--model", "nope"]) == 2
    assert "unknown model 'nope'; `camvideo models` lists every name" in capsys.readouterr().err
    assert main(["gui", "--weights", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
    assert main(["gui", "--device", "tpu"]) == 2
    assert "device must be" in capsys.readouterr().err
    assert main(["gui", "--device", "openvino:CPU", "--runtime", "torch"]) == 2  # as process and image
    assert capsys.readouterr().err == ("camvideo: error: --device openvino:CPU runs OpenVINO; it cannot go with "
                                       "--runtime torch\n")


def test_a_source_path_that_names_nothing_fails_before_a_window(capsys, tmp_path):
    assert main(["gui", str(tmp_path / "clpi.mp4")]) == 2
    err = capsys.readouterr().err
    assert "clpi.mp4: no such file or folder (a camera is its number" in err and len(err.splitlines()) == 1


def test_the_demo_clip_ships_small_and_playable():
    path = demo_clip_path()
    assert path.stat().st_size < 2 * 1024 * 1024
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (640, 360)
        assert stream.codec_context.name == "h264"
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
    assert 8.0 <= times[-1] <= 12.0 and len(times) == 300


def test_no_display_is_a_clear_error_not_a_qt_abort(capsys, monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["gui"]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "QT_QPA_PLATFORM=offscreen" in err
    assert len(err.strip().splitlines()) == 1


def test_model_options_out_of_range_fail_before_a_window(capsys, tmp_path):
    assert main(["gui", "--input-size", "100000"]) == 2
    assert "--input-size must be between 8 and 2048 pixels, got 100000" in capsys.readouterr().err
    assert main(["gui", "--mean", "1,2"]) == 2
    assert "--mean must be three numbers" in capsys.readouterr().err
    assert main(["gui", "--checkpoint", str(tmp_path / "gone.pt")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint " in err and "gone.pt does not exist" in err  # as the load and `process` say it


def test_the_command_lines_model_options_reach_the_windows_first_load(qtbot, open_window, monkeypatch, cat_clip):
    """`camvideo gui --input-size 160 --mean ... --std ...` loads the model with them
    (they used to be accepted and dropped)."""
    from qt_helpers import wait_frames

    import camvideo.models

    real = camvideo.models.load_model
    calls = []

    def load(name="lite0", **kwargs):
        calls.append((name, {k: v for k, v in kwargs.items() if k != "device"}))
        return real(name, **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", load)
    options = {"input_size": 160, "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
    w = open_window(cat_clip, loop=True, model="lite0", model_options=options)
    wait_frames(qtbot, w, 2)
    assert calls[0] == ("lite0", options)
    pre = w.session.model.preprocessing
    assert pre.size == (160, 160) and pre.mean == (0.5, 0.5, 0.5) and pre.std == (0.25, 0.25, 0.25)


def test_the_command_lines_runtime_sets_the_runtime_box_for_this_run(qtbot, open_window, fast_models, settings_in_tmp):
    """`camvideo gui --runtime torch` over a remembered openvino (auto leaves the box as remembered)."""
    from camvideo.qt import app_settings

    settings = app_settings()
    settings.setValue("runtime", "openvino")
    settings.sync()
    w = open_window(None, runtime="torch")
    assert w.panel.runtime.currentText() == "torch"
    assert open_window(None).panel.runtime.currentText() == "openvino"


def test_missing_xcb_libraries_are_named_with_their_packages(monkeypatch):
    """Issue 23 papercut: any xcb library Qt's plugin cannot find (not only xcb-cursor)
    gets the app's install hint, not Qt's abort message."""
    from camvideo.cli.commands import gui
    from camvideo.errors import CamvideoError

    out = ("\tlibQt6Gui.so.6 => /x/libQt6Gui.so.6 (0x1)\n\tlibxcb-icccm.so.4 => not found\n"
           "\tlibxkbcommon-x11.so.0 => not found\n\tlibxcb-icccm.so.4 => not found\n\tlibGL.so.1 => not found\n")
    assert gui.not_found(out) == ["libxcb-icccm.so.4", "libxkbcommon-x11.so.0", "libGL.so.1"]
    assert [gui.debian_package(n) for n in gui.not_found(out)] == ["libxcb-icccm4", "libxkbcommon-x11-0", "libgl1"]
    assert gui.missing_xcb_libraries() == []  # this machine runs the window: the real plugin finds them all
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(gui, "missing_xcb_libraries", lambda: ["libxcb-icccm.so.4"])
    with pytest.raises(CamvideoError, match=r"missing \(libxcb-icccm.so.4\); .*apt-get install libxcb-icccm4 "):
        gui.check_display()


def test_without_model_the_window_loads_the_one_it_remembers(monkeypatch, cat_clip):
    """`camvideo gui` gives the window no model unless --model says one (model options
    alone go with the built-in model): the window's remembered model is loaded."""
    import camvideo.qt.app

    given = []
    monkeypatch.setattr("camvideo.cli.exit._ALLOWED", [False])
    monkeypatch.setattr(camvideo.qt.app, "run", lambda source, model=None, **kwargs: given.append(model) or 0)
    assert main(["gui", str(cat_clip)]) == 0
    assert main(["gui", str(cat_clip), "--model", "lite0"]) == 0
    assert main(["gui", str(cat_clip), "--input-size", "160"]) == 0
    assert given == [None, "lite0", "lite0"]


def test_the_remembered_model_is_the_one_a_window_without_a_model_loads(qtbot, open_window, fast_models,
                                                                         settings_in_tmp):
    from camvideo.qt import app_settings

    settings = app_settings()
    settings.setValue("model", "lite1")
    settings.sync()
    assert open_window(None).panel.model.currentText() == "lite1"
    assert open_window(None, model="lite0").panel.model.currentText() == "lite0"


def test_a_closed_window_ends_the_process_without_the_interpreter_s_teardown(monkeypatch, cat_clip):
    """Once the window has closed (everything final and joined, bounded), ``gui`` lets
    ``entry`` skip the teardown: no C++ destructor meets a thread still in native code;
    a thread past its bounded wait is marked not to hold the exit, a save's mark stays."""
    import threading

    import camvideo.qt.app
    from camvideo import exiting
    from camvideo.cli import exit as cli_exit

    monkeypatch.setattr(cli_exit, "_ALLOWED", [False])
    late, save = threading.Thread(target=int), threading.Thread(target=int)
    exiting.mark(save, True)
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread(), late, save])
    monkeypatch.setattr(camvideo.qt.app, "run", lambda source, **kwargs: 130)
    assert main(["gui", str(cat_clip)]) == 130  # the status is the window's (here: a Ctrl-C)
    assert cli_exit._ALLOWED == [True]
    assert exiting.marked(late) is False and exiting.marked(save) is True
