"""One long file on one worker against the same file in segments on two (docs/batch.md).

    python bench/segments.py --seconds 60 --size 640x360 --rounds 1

Makes a clip of the panning cat photograph (tests/clips.py), then runs, interleaved,
``camvideo process DIR --output-dir ... --jobs 1`` (the file whole) and
``--jobs 2 --segment-seconds S`` (the file in segments), each in its own process,
recording and JSONL written. Prints and saves (bench/results/) the wall times, their
ratio, the load average around each run and how the segmented run's JSONL agrees with
the whole run's (``camvideo.batch.stitch.agreement``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def run(source: Path, out: Path, *extra: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "camvideo", "process", str(source), "--output-dir", str(out), *extra],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"camvideo failed ({done.returncode}):\n{done.stderr}")
    return {"args": list(extra), "wall_s": round(wall, 2), "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    from clips import make_cat_clip

    from camvideo.batch.stitch import agreement

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--segment-seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        make_cat_clip(folder / "long.mp4", frames=args.seconds * 30, size=(width, height))
        rounds = []
        for _ in range(args.rounds):
            whole = run(folder, Path(tmp) / "whole", "--jobs", "1", "--device", args.device)
            split = run(folder, Path(tmp) / "split", "--jobs", "2", "--segment-seconds", str(args.segment_seconds),
                        "--device", args.device)
            figures = agreement(Path(tmp) / "whole" / "long.jsonl", Path(tmp) / "split" / "long.jsonl")
            segments = json.loads((Path(tmp) / "split" / "camvideo-run.jsonl").read_text().splitlines()[-1])["segments"]
            rounds.append({"whole": whole, "segments": split, "speedup": round(whole["wall_s"] / split["wall_s"], 3),
                           "agreement": {k: v for k, v in figures.items() if k != "differing"},
                           "differing_frames": figures["differing"][:50], "segment_figures": segments})
            print(json.dumps(rounds[-1]), flush=True)
    result = {"clip": f"{args.seconds} s, {width}x{height}, 30 fps", "segment_seconds": args.segment_seconds,
              "cores": os.cpu_count(), "machine": platform.node(), "rounds": rounds}
    name = f"{time.strftime('%Y-%m-%d')}_cpu{os.cpu_count()}_segments{args.seconds}s.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved bench/results/{name}")


if __name__ == "__main__":
    main()
