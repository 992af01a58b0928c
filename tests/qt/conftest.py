"""GUI tests: offscreen Qt, settings in tmp_path, no thread left behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from qt_helpers import make_cat_clip  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """On a shared 2-core machine one intra-op thread is the fastest (two threads
    that cannot both run make each forward pass many times slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def no_thread_left():
    """Fail a test that leaves a Python thread it started running (after a grace
    period); threads alive before it (e.g. fsspec's IO loop, started once per process
    by an object-storage test) are not its."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        alive = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not alive, f"threads left running: {[t.name for t in alive]}"


@pytest.fixture(scope="session", autouse=True)
def cache_in_tmp(tmp_path_factory):
    """The user's cache folder (the window keeps its model list there) in a folder
    of this test session, never the user's own."""
    from camvideo.app import catalogue

    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    # The window's model list, made here once (as its child would make it): each test
    # that opens the list then reads it at once (test_models_list makes it the child's way).
    catalogue.keep(catalogue.catalogue_here())
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def settings_in_tmp(tmp_path, qapp):
    """QSettings (organisation camvideo, app camvideo) go to an INI file in tmp_path."""
    from PyQt6.QtCore import QSettings

    from camvideo.qt import app_settings

    folder = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    settings = app_settings()
    settings.setValue("output_dir", str(tmp_path / "out"))
    # The Runtime box on torch: its default (auto) converts the model for OpenVINO in a
    # thread that cannot be interrupted, which would outlive a short test
    # (test_runtime_box covers auto and the switch).
    settings.setValue("runtime", "torch")
    settings.sync()
    return folder


@pytest.fixture(scope="session")
def _lite0():
    from camvideo.models import load_model

    return load_model("lite0")


@pytest.fixture
def fast_models(monkeypatch, _lite0):
    """The window loads lite0 through the real background path, from one copy per
    test session (loading it costs seconds on a busy machine)."""
    import camvideo.models

    real = camvideo.models.load_model

    def load(name="lite0", **kwargs):
        if name == "lite0" and kwargs.get("device", "cpu") in ("cpu", "auto") and not torch.cuda.is_available():
            time.sleep(0.05)  # still asynchronous: the "loading" state is visible
            return _lite0
        return real(name, **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", load)


@pytest.fixture
def cat_clip(tmp_path) -> Path:
    return make_cat_clip(tmp_path / "cat.mp4")


@pytest.fixture
def open_window(qtbot):
    """``open_window(source, **kwargs)``: a shown MainWindow on the CPU, closed after the test."""
    from camvideo.qt.window import MainWindow

    windows = []

    def make(source=None, **kwargs) -> MainWindow:
        w = MainWindow(None if source is None else str(source), device="cpu", **kwargs)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
