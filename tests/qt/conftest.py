"""GUI tests: offscreen Qt, settings in tmp_path, no thread left behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat

torch.set_num_threads(1)  # the test machine is shared: one thread is the fastest here


@pytest.fixture(autouse=True)
def no_thread_left():
    """Fail a test that leaves any non-main Python thread running (after a grace period)."""
    yield
    deadline = time.monotonic() + 5.0
    while True:
        alive = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not alive, f"threads left running: {[t.name for t in alive]}"


@pytest.fixture(autouse=True)
def settings_in_tmp(tmp_path, qapp):
    """QSettings (organisation camvideo, app camvideo) go to an INI file in tmp_path."""
    from PyQt6.QtCore import QSettings

    from camvideo.qt import app_settings

    folder = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    settings = app_settings()
    settings.setValue("output_dir", str(tmp_path / "out"))
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


def make_cat_clip(path: Path, frames: int = 45, size: tuple[int, int] = (192, 128), fps: int = 30) -> Path:
    """A small H.264 clip panning across the cat photograph."""
    photo = cv2.imread(str(DATA / "chelsea.png"))
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            x0 = int(i * 2) % 40
            crop = photo[10:290, x0: x0 + 400]
            image = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture
def cat_clip(tmp_path) -> Path:
    return make_cat_clip(tmp_path / "cat.mp4")
