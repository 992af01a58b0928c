"""Small clips and counts for the GUI tests (named apart from other test helpers)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
WAIT_MS = 30_000  # generous: the test machine is shared; typical waits are well under 5 s


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


def wait_frames(qtbot, w, n: int) -> None:
    """Wait until the window ``w`` has shown ``n`` more frames."""
    start = w.frames_shown
    qtbot.waitUntil(lambda: w.frames_shown >= start + n, timeout=WAIT_MS)


def open_and_wait(qtbot, w, spec, **kwargs) -> bool:
    """``w.open(spec)`` and wait until that open ended (it runs in the background);
    True when the window switched to it."""
    spec = str(spec)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS, check_params_cb=lambda s, _ok: s == spec) as blocker:
        w.open(spec, **kwargs)
    return blocker.args[1]
