"""The bench's frames: real photos (or synthetic pictures) panned and zoomed so
that consecutive frames differ, and the H.264 clip of the end-to-end run."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

SIZES = ((640, 480), (1280, 720))
PHOTO_NAMES = ("chelsea", "coffee", "astronaut")


def _photo_dirs() -> list[Path]:
    package = Path(__file__).resolve().parents[2]  # camvideo/
    return [package / "resources", package.parent / "tests" / "data", Path.cwd() / "tests" / "data"]


def load_photos() -> list[np.ndarray]:
    """The test photos when they can be found (a source checkout), else synthetic
    pictures (an installed package without them): shapes, gradients, texture."""
    photos = []
    for name in PHOTO_NAMES:
        for folder in _photo_dirs():
            path = folder / f"{name}.png"
            if path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    photos.append(image)
                    break
    if photos:
        return photos
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        yy, xx = np.mgrid[0:480, 0:640]
        img = np.stack([(xx * (i + 1)) % 256, (yy * 2) % 256, ((xx + yy) // 3) % 256], -1).astype(np.uint8)
        cv2.circle(img, (200 + 80 * i, 240), 120, (30 * i, 200, 90), -1)
        img = cv2.add(img, rng.integers(0, 40, img.shape, dtype=np.uint8))
        out.append(img)
    return out


def make_frames(width: int, height: int, count: int, photos: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``count`` BGR frames of ``width`` x ``height``: each photo in turn, seen
    through a window that pans and zooms a little from frame to frame (motion)."""
    photos = photos if photos is not None else load_photos()
    frames = []
    for i in range(count):
        photo = photos[i % len(photos)]
        ph, pw = photo.shape[:2]
        t = i / max(1, count - 1)
        zoom = 0.8 + 0.15 * math.sin(2 * math.pi * t)
        crop_w = min(pw, int(ph * zoom * width / height))
        cw = (crop_w, min(ph, int(crop_w * height / width)))
        x0 = int((pw - cw[0]) * (0.5 + 0.5 * math.sin(2 * math.pi * t + i)))
        y0 = int((ph - cw[1]) * (0.5 + 0.5 * math.cos(2 * math.pi * t)))
        crop = photo[y0 : y0 + cw[1], x0 : x0 + cw[0]]
        frames.append(np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)))
    return frames


def video_frames(width: int, height: int, count: int, photos: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``count`` frames that move like a video: a slow pan over one photo for a
    run of frames, then a cut to the next. ``make_frames`` jumps between photos
    and positions every frame, which no camera does and which inflates the
    encoder's cost; the end-to-end clip uses these."""
    photos = photos if photos is not None else load_photos()
    frames = []
    for i in range(count):
        photo = photos[(i * len(photos)) // count]
        ph, pw = photo.shape[:2]
        t = i / count
        cw = int(pw * 0.7)
        ch = min(ph, int(cw * height / width))
        x0 = int((pw - cw) * (0.5 + 0.4 * math.sin(2 * math.pi * t)))
        y0 = (ph - ch) // 2
        crop = photo[y0 : y0 + ch, x0 : x0 + cw]
        frames.append(np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """An H.264 file of ``frames`` (PyAV, yuv420p)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
