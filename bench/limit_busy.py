"""The limit's parts alone on one thread, with the machine's other core idle or busy.

    PYTHONPATH=. python bench/limit_busy.py [--rounds 3] [--precision auto] [--json FILE]

``camvideo bench``'s limit (``camvideo.tools.benchmark.limit``) times decode, the
forward half and x264 each on one thread, in CPU ms a frame, and assumes the cores
can each run that fast at once. Here each part is timed the same way in a process of
its own, once alone and once beside a twin process timing the same part at the same
moment (both start at an agreed time after loading), interleaved over ``--rounds``:
what a part costs while the other core works too (shared caches and memory, the
clock under load, and threads that spin only while a core is free, such as OpenCV's
pool worker in ``sched_yield``). Prints each part's median CPU ms a frame alone and
beside its twin, and the limit's total both ways.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PARTS = ("decode", "forward", "encode")
REPEATS = {"decode": 12, "forward": 4, "encode": 12}  # ~1-2 s of work each
LOAD_S = 12.0  # the model loaded and compiled before the agreed start


def _part(precision: str, part: str, repeats: int, start_at: float) -> list[float]:
    """``part`` timed ``repeats`` times on 120 of the bench's 640x480 frames, from ``start_at``."""
    import torch

    from bench.limit_cpu import _localizers
    from camvideo.tools.benchmark.frames import load_photos, video_frames, write_clip
    from camvideo.tools.benchmark.limit import decode_ms, encode_ms, forward_ms

    torch.set_num_threads(1)
    _, single, _ = _localizers(precision)
    with tempfile.TemporaryDirectory(prefix="camvideo-limit-busy-") as tmp:
        frames = video_frames(640, 480, 120, load_photos())
        clip = write_clip(Path(tmp) / "in.mp4", frames)
        forward_ms(single, frames[:8], rounds=1, batch=4)  # warm, as the bench's
        work = {"decode": lambda: decode_ms(clip), "forward": lambda: forward_ms(single, frames, rounds=1, batch=4),
                "encode": lambda: encode_ms(frames, "superfast", Path(tmp) / "out.mkv")}[part]
        time.sleep(max(0.0, start_at - time.time()))
        return [work() for _ in range(repeats)]


def _launch(precision: str, part: str, copies: int) -> list[list[float]]:
    """``copies`` processes timing ``part`` at the same moment; each one's times."""
    start_at = time.time() + LOAD_S
    cmd = [sys.executable, __file__, "--child", part, "--precision", precision, "--start-at", str(start_at)]
    children = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(copies)]
    return [json.loads(child.communicate(timeout=600)[0].strip().splitlines()[-1]) for child in children]


def measure(rounds: int, precision: str) -> dict:
    times: dict[str, dict[str, list[float]]] = {p: {"alone": [], "busy": []} for p in PARTS}
    for _ in range(rounds):
        for part in PARTS:
            times[part]["alone"] += _launch(precision, part, 1)[0]
            for copy in _launch(precision, part, 2):
                times[part]["busy"] += copy
    medians = {p: {k: round(statistics.median(v), 3) for k, v in t.items()} for p, t in times.items()}
    return {"precision": precision, "rounds": rounds, "parts_ms": medians,
            "limit_cpu_ms": {k: round(sum(m[k] for m in medians.values()), 3) for k in ("alone", "busy")},
            "times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--precision", default="auto", help="OpenVINO's precision (default: auto, as the bench's)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    parser.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_part(args.precision, args.child, REPEATS[args.child], args.start_at)))
        return
    result = measure(args.rounds, args.precision)
    for part, row in result["parts_ms"].items():
        print(f"{part}: alone {row['alone']:.3f}, beside a twin {row['busy']:.3f} CPU ms a frame")
    total = result["limit_cpu_ms"]
    print(f"the limit's parts: alone {total['alone']:.3f}, every core busy {total['busy']:.3f} CPU ms a frame")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
