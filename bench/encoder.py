"""x264 presets for the recording, measured: CPU per frame, bytes, PSNR against the
picture, on the frames of a 640x480 clip encoded as camvideo's ``Recorder`` does
(yuv420p from OpenCV, ``tune=zerolatency``, CRF 23, one keyframe a second).

    PYTHONPATH=. python bench/encoder.py CLIP [--rounds 3] [--json FILE]

Rounds interleave the presets (ultrafast, superfast, veryfast, faster, ...), so a
shared machine slows each alike; CPU time is the process's (x264's own threads
included), the median per preset. PSNR (Y, U, V averaged 4:1:1) is of the decoded
recording against the frames given to the encoder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from fractions import Fraction

import av
import cv2
import numpy as np

PRESETS = ("ultrafast", "superfast", "veryfast", "faster")


def frames_of(path: str, limit: int) -> list[np.ndarray]:
    out = []
    with av.open(path) as container:
        for frame in container.decode(container.streams.video[0]):
            out.append(cv2.cvtColor(frame.to_ndarray(format="bgr24"), cv2.COLOR_BGR2YUV_I420))
            if len(out) == limit:
                break
    return out


def encode(frames: list[np.ndarray], preset: str, crf: int = 23) -> tuple[float, bytes]:
    """(CPU s, the file's bytes) of one encoding, as Recorder sets x264 up."""
    height, width = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    buffer = io.BytesIO()
    start = time.process_time()
    with av.open(buffer, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.options = {"preset": preset, "tune": "zerolatency", "crf": str(crf),
                                        "x264-params": "keyint=30:min-keyint=30:scenecut=0"}
        for k, yuv in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts, frame.time_base = k * 33, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return time.process_time() - start, buffer.getvalue()


def psnr(frames: list[np.ndarray], data: bytes) -> float:
    values = []
    with av.open(io.BytesIO(data)) as container:
        for yuv, frame in zip(frames, container.decode(container.streams.video[0])):
            values.append(cv2.PSNR(yuv, frame.to_ndarray(format="yuv420p")))
    return statistics.fmean(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--crf", type=int, nargs="+", default=[23], help="CRF values (default: 23, Recorder's)")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--json")
    args = parser.parse_args()
    frames = frames_of(args.clip, args.frames)
    cases = [f"{p} crf {c}" for c in args.crf for p in args.presets]
    runs = {case: [] for case in cases}
    sizes, quality = {}, {}
    for _ in range(args.rounds):
        for case in cases:
            preset, crf = case.split()[0], int(case.split()[-1])
            cpu, data = encode(frames, preset, crf)
            runs[case].append(1000.0 * cpu / len(frames))
            sizes[case] = len(data)
            quality.setdefault(case, psnr(frames, data))
    table = {p: {"cpu_ms_per_frame": statistics.median(runs[p]), "bytes": sizes[p], "psnr_db": quality[p],
                 "kbit_s_at_30fps": 8 * sizes[p] / 1000 / (len(frames) / 30)} for p in cases}
    print("| x264 | CPU ms/frame | x veryfast | bytes | x veryfast | PSNR dB |\n|---|---:|---:|---:|---:|---:|")
    base = table.get("veryfast crf 23") or next(iter(table.values()))
    for p, row in table.items():
        print(f"| {p} | {row['cpu_ms_per_frame']:.2f} | {row['cpu_ms_per_frame'] / base['cpu_ms_per_frame']:.2f} "
              f"| {row['bytes']} | {row['bytes'] / base['bytes']:.2f} | {row['psnr_db']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"clip": args.clip, "frames": len(frames), "rounds": args.rounds, "load": os.getloadavg(),
                       "runs": runs, "table": table}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
