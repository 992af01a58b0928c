"""Build ``camvideo/resources/demo.mp4``: the clip the app plays when no camera opens.

Slow pans and zooms across the three photographs in ``tests/data`` (the cat, the
espresso cup, the astronaut), with hard cuts between them: 640x360, 30 fps, 10 s,
H.264 through PyAV. Deterministic: the same inputs give the same frames (x264 with
one thread gives the same bytes too). Run from the repository root:

    python scripts/make_demo_clip.py [--output camvideo/resources/demo.mp4]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, FPS = 640, 360, 30
GROUND = (58, 58, 58)  # BGR grey around a photograph smaller than the frame


@dataclass(frozen=True)
class Shot:
    """One photograph seen through a moving 16:9 window.

    ``start`` and ``end`` are (centre x, centre y, width) of the window as fractions
    of the photograph's width and height; the window eases from one to the other.
    A width above what fits shows the whole photograph smaller, on a grey ground, so
    the box has somewhere to be that is not the whole frame.
    """

    image: str
    seconds: float
    start: tuple[float, float, float]
    end: tuple[float, float, float]


SHOTS = (
    # The cat: from its face, a slow zoom out until the photo floats left of centre.
    Shot("chelsea.png", 4.5, (0.45, 0.42, 0.75), (0.68, 0.5, 2.1)),
    # The cup: a pan from left to right across the saucer.
    Shot("coffee.png", 3.0, (0.40, 0.52, 0.80), (0.58, 0.50, 0.80)),
    # The astronaut: a slow zoom out from the face and shoulders.
    Shot("astronaut.png", 2.5, (0.45, 0.32, 0.55), (0.5, 0.42, 0.95)),
)


def ease(t: float) -> float:
    """Smoothstep: the camera starts and stops gently."""
    return t * t * (3.0 - 2.0 * t)


def window_frame(photo: np.ndarray, cx: float, cy: float, w: float) -> np.ndarray:
    """The WIDTH x HEIGHT view of ``photo`` through a 16:9 window (fractions), kept inside."""
    ph, pw = photo.shape[:2]
    win_w = w * pw
    win_h = win_w * HEIGHT / WIDTH
    x0 = float(np.clip(cx * pw - win_w / 2, min(0, pw - win_w), max(0, pw - win_w)))
    y0 = float(np.clip(cy * ph - win_h / 2, min(0, ph - win_h), max(0, ph - win_h)))
    # An affine warp gives sub-pixel window positions: the pan glides, it does not jump.
    sx, sy = WIDTH / win_w, HEIGHT / win_h
    m = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]], np.float64)
    return cv2.warpAffine(photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR if sx < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=GROUND)


def frames(data: Path):
    for shot in SHOTS:
        photo = cv2.imread(str(data / shot.image), cv2.IMREAD_COLOR)
        if photo is None:
            raise SystemExit(f"cannot read {data / shot.image}")
        n = round(shot.seconds * FPS)
        for i in range(n):
            t = ease(i / (n - 1))
            cx, cy, w = (a + (b - a) * t for a, b in zip(shot.start, shot.end))
            yield window_frame(photo, cx, cy, w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "camvideo" / "resources" / "demo.mp4")
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data")
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(args.output), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        # One thread: x264's output is then the same bytes on every machine run.
        stream.options = {"crf": "26", "preset": "slow", "threads": "1", "g": str(FPS)}
        stream.codec_context.thread_count = 1
        count = 0
        for count, image in enumerate(frames(args.data), start=1):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = count - 1
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    size = args.output.stat().st_size
    print(f"{args.output}: {count} frames, {count / FPS:.1f} s, {WIDTH}x{HEIGHT}, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
