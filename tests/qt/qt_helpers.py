"""Small clips and counts for the GUI tests (named apart from other test helpers)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from clips import make_cat_clip  # noqa: F401 - the GUI tests' clip, shared with tests/video

DATA = Path(__file__).resolve().parent.parent / "data"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
WAIT_MS = 30_000  # generous: the test machine is shared; typical waits are well under 5 s


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def wait_frames(qtbot, w, n: int) -> None:
    """Wait until the window ``w`` has shown ``n`` more frames of its pipeline (the
    model's: the frames the preview plays while the model loads do not count)."""
    qtbot.waitUntil(lambda: w.session.pipeline is not None, timeout=WAIT_MS)
    start = w.frames_shown
    qtbot.waitUntil(lambda: w.frames_shown >= start + n, timeout=WAIT_MS)


def settle(qtbot, w) -> None:
    """Paused: wait until the frames in flight have arrived: none for 300 ms, or
    for three times the last frame's own processing time when that is longer (a
    busy machine: a forward pass took 0.5 s, and 300 ms of quiet proved nothing)."""
    import time

    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        seen = w.frames_shown
        shown = w.session.last_shown
        took_ms = sum(shown.result.timings.values()) if shown is not None else 0.0
        qtbot.wait(int(max(300.0, 3 * took_ms)))
        if w.frames_shown == seen:
            return
    raise AssertionError("frames kept coming while paused")


def open_and_wait(qtbot, w, spec, **kwargs) -> bool:
    """``w.open(spec)`` and wait until that open ended (it runs in the background);
    True when the window switched to it."""
    spec = str(spec)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS, check_params_cb=lambda s, _ok: s == spec) as blocker:
        w.open(spec, **kwargs)
    return blocker.args[1]


def qimage_rgb(image) -> np.ndarray:
    """A QImage's pixels as an (h, w, 3) RGB array (a copy)."""
    from PyQt6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def shown_frame(result, image: np.ndarray | None = None, grey: int = 90):
    """A ShownFrame of ``result`` on a plain grey picture (or on ``image``)."""
    import time

    from camvideo.app.shown import ShownFrame
    from camvideo.qt.convert import bgr_to_qimage

    if image is None:
        image = np.full((result.height, result.width, 3), grey, np.uint8)
    return ShownFrame(bgr_to_qimage(image), result.frame, result.time, time.monotonic(), result, image)


def fail_to_load(monkeypatch, name: str, *message) -> None:
    """``load_model(name)`` raises ModelLoadError(*message) from now on (as offline;
    ``message``: text and ``camvideo.errors.Hint``s); every other name loads as before."""
    import camvideo.models
    from camvideo.errors import ModelLoadError

    loading = camvideo.models.load_model

    def load(model_name="lite0", **kwargs):
        if model_name == name:
            raise ModelLoadError(*message)
        return loading(model_name, **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", load)


def wait_saved(qtbot, w) -> None:
    """Wait until the recording stopped last is final (saved in the background)."""
    qtbot.waitUntil(lambda: w.panel.record_label.text().startswith("saved "), timeout=WAIT_MS)


def stop_recording(qtbot, w) -> None:
    """Stop the recording and wait until its file is final."""
    w.toggle_recording(False)
    wait_saved(qtbot, w)


def make_clip_cut_by_dts(path: Path, frames: int = 60, keep: int = 42) -> Path:
    """A clip cut without re-encoding (as ``ffmpeg -t T -c copy`` cuts): encoded with
    B-frames, then only the packets decoded before ``keep`` frames' time remuxed, so
    that its last frame shows later than its header's length (frames / rate)."""
    from fractions import Fraction

    full = path.with_suffix(".full.mp4")
    with av.open(str(full), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 192, 128, "yuv420p"
        stream.time_base = Fraction(1, 30)
        stream.options = {"preset": "medium", "bf": "3"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((128, 192, 3), i * 37 % 255, np.uint8), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(full)) as source, av.open(str(path), "w") as out:
        video = source.streams.video[0]
        copy = out.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is not None and packet.dts * video.time_base < Fraction(keep, 30):
                packet.stream = copy
                out.mux(packet)
    return path
