"""Small generated videos for the pipeline tests (built in tmp_path, never stored)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A BGR frame whose content says its index: a moving bright square on a gradient."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    image[..., 1] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    image[..., 2] = (index * 7) % 256
    side = max(4, min(width, height) // 4)
    x0 = (index * 5) % max(width - side, 1)
    image[height // 3: height // 3 + side, x0: x0 + side] = 255
    return image


def make_clip(path: Path, frames: int = 30, size: tuple[int, int] = (160, 120), fps: int = 30,
              times: list[float] | None = None, audio: bool = False, rotation: int | None = None,
              gop: int = 10, pix_fmt: str = "yuv420p", audio_s: float | None = None) -> list[float]:
    """Write an H.264 clip; ``times`` (seconds) makes it variable frame rate,
    ``audio`` adds an AAC tone (``audio_s`` long, else the video's length),
    ``rotation`` (counterclockwise degrees) sets the display matrix, an odd ``size``
    needs ``pix_fmt="yuv444p"``.

    Returns the presentation times written, in seconds.
    """
    width, height = size
    if times is None:
        times = [i / fps for i in range(frames)]
    time_base = Fraction(1, 90000) if path.suffix == ".mp4" else Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        if pix_fmt == "yuv420p":
            width, height = width + width % 2, height + height % 2
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = gop
        stream.codec_context.options = {"preset": "ultrafast", "bf": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        a_stream = None
        if audio:
            a_stream = out.add_stream("aac", rate=16000)
            a_stream.layout = "mono"
        for i, t in enumerate(times):
            image = pattern(i, stream.width, stream.height)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = int(round(t / time_base))
            frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if a_stream is not None:
            rate, samples = 16000, 1024
            total = int((audio_s if audio_s is not None else times[-1] + 0.1) * rate)
            for k in range(0, total, samples):
                t = np.arange(k, k + samples) / rate
                data = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
                frame.sample_rate = rate
                frame.pts = k
                for packet in a_stream.encode(frame):
                    out.mux(packet)
            for packet in a_stream.encode(None):
                out.mux(packet)
    return [int(round(t / time_base)) * float(time_base) for t in times]


def make_truncated_clip(folder: Path, frames: int = 60, size: tuple[int, int] = (64, 48)) -> Path:
    """``folder/cut.mkv``: a ``frames``-frame clip cut at 60% of its bytes (a copy
    interrupted, a disk that filled up)."""
    whole = folder / "whole.mkv"
    make_clip(whole, frames=frames, size=size)
    data = whole.read_bytes()
    cut = folder / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    return cut


def make_damaged_clip(folder: Path, frames: int = 90, size: tuple[int, int] = (96, 64)) -> Path:
    """``folder/bad-middle.mkv``: a ``frames``-frame clip (a keyframe each 15) with 1000
    random bytes written over it at 40% of its bytes: a stretch in the middle is lost
    (90 frames at 96x64: frames 34-59), the frames after it decode."""
    whole = folder / "whole.mkv"
    make_clip(whole, frames=frames, size=size, gop=15)
    data = bytearray(whole.read_bytes())
    start = len(data) * 4 // 10
    data[start: start + 1000] = np.random.default_rng(3).bytes(1000)[: len(data) - start]
    bad = folder / "bad-middle.mkv"
    bad.write_bytes(bytes(data))
    return bad


def decode_times(path: Path) -> list[float]:
    """Presentation times (s) of every decodable video frame of ``path``."""
    times = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                times.append(float(frame.pts * frame.time_base))
        except av.FFmpegError:
            pass
    return times


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
