"""Many files in one command: 12 files with ``--jobs 1``, ``--jobs 2`` and ``--ray
local``, against one file on its own, interleaved in one run (the machine is
shared: ratios measured together are what carry).

    python bench/batch.py [--files 12] [--frames 150] [--rounds 1] [--json FILE]

Each contestant is the real command line in its own process (``camvideo process
DIR --output-dir OUT --overwrite ...``, recordings and JSONL written). Reported per
contestant: wall time (process start to exit), start-up (to the first file
started, from the summary's timestamps), frames per second over the wall time, and
that as a fraction of one file's own fps (``camvideo process clip.mp4``, its
printed fps: the pipeline alone, model already loaded), and the CPU seconds per
frame of the command and the worker processes it waited for (on a machine shared
with other jobs, wall time follows the share of the CPUs a run gets; CPU time per
frame does not). For ``--ray local``, the time Ray took to start (its own line on
stderr); Ray's processes are not children the command waits for, so their CPU
time is not counted. The numbers in README's "Many
files" come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "camvideo" / "resources" / "demo.mp4"


def make_clips(folder: Path, files: int, frames: int) -> int:
    """``files`` copies of the demo clip's first ``frames`` frames (640x360, 30 fps)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    with av.open(str(DEMO)) as container:
        for frame in container.decode(container.streams.video[0]):
            images.append(frame.to_ndarray(format="bgr24"))
            if len(images) == frames:
                break
    for i in range(files):
        with av.open(str(folder / f"clip{i:02d}.mp4"), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = images[0].shape[1], images[0].shape[0], "yuv420p"
            stream.time_base = Fraction(1, 30)
            stream.options = {"preset": "veryfast"}
            for k, image in enumerate(images):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts = k
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    return len(images)


def command(*args) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the process and the children it waited for, the result)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "camvideo", "process", *map(str, args)], env=env,
                            capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, result


def single(clip: Path, out: Path) -> dict:
    wall, cpu, result = command(clip, "-o", out / "one_cam.mkv", "--export", out / "one.jsonl")
    if result.returncode != 0:
        raise SystemExit(f"single file failed:\n{result.stderr}")
    match = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) fps\)", result.stderr)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "frames": int(match.group(1)),
            "seconds": float(match.group(2)), "fps": float(match.group(3))}


def batch(clips: Path, out: Path, *extra) -> dict:
    wall, cpu, result = command(clips, "--output-dir", out, "--overwrite", *extra)
    if result.returncode != 0:
        raise SystemExit(f"batch {extra} failed ({result.returncode}):\n{result.stderr}")
    records = [json.loads(line) for line in (out / "camvideo-run.jsonl").read_text().splitlines()]
    records = [r for r in records if r["run"] == records[-1]["run"]]
    run = datetime.fromisoformat(records[0]["run"]).timestamp()
    first = min(datetime.fromisoformat(r["started"]).timestamp() for r in records)
    last = max(datetime.fromisoformat(r["finished"]).timestamp() for r in records)
    frames = sum(r["frames"] for r in records)
    entry = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
             "frames": frames, "files": len(records),
             "to_first_file_s": round(first - run, 2), "files_span_s": round(last - first, 2),
             "fps_wall": round(frames / wall, 2), "fps_files": round(frames / (last - first), 2),
             "per_file_fps": round(statistics.median(r["fps"] for r in records), 2)}
    ray = re.search(r"ready in ([\d.]+) s", result.stderr)
    if ray:
        entry["ray_start_s"] = float(ray.group(1))
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--frames", type=int, default=150, help="frames per file (default 150: 5 s of the demo)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every contestant, alternating order")
    parser.add_argument("--no-ray", action="store_true", help="leave --ray local out")
    parser.add_argument("--json", metavar="FILE", help="write the raw results here")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="camvideo-bench-batch-"))
    frames = make_clips(work / "clips", args.files, args.frames)
    contestants = {
        "one file": lambda: single(work / "clips" / "clip00.mp4", work / "single"),
        "--jobs 1": lambda: batch(work / "clips", work / "j1", "--jobs", "1"),
        "--jobs 2": lambda: batch(work / "clips", work / "j2", "--jobs", "2"),
    }
    if not args.no_ray:
        contestants["--ray local"] = lambda: batch(work / "clips", work / "ray", "--ray", "local")
    (work / "single").mkdir()
    results: dict[str, list[dict]] = {name: [] for name in contestants}
    names = list(contestants)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            print(f"round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
            results[name].append(contestants[name]())
            print(f"  {results[name][-1]}", file=sys.stderr, flush=True)
    one = statistics.median(r["fps"] for r in results["one file"])
    print(f"\n{args.files} files x {frames} frames (640x360), {os.cpu_count()} cores; one file alone: "
          f"{one:.1f} fps (its pipeline, model loaded)\n")
    print("| contestant | wall | to first file | fps over the wall | x one file's fps | fps while files run "
          "| x one file's fps | CPU ms a frame |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names[1:]:
        rows = results[name]
        wall = statistics.median(r["wall_s"] for r in rows)
        start = statistics.median(r["to_first_file_s"] for r in rows)
        fps = statistics.median(r["fps_wall"] for r in rows)
        steady = statistics.median(r["fps_files"] for r in rows)
        extra = f" (Ray itself: {statistics.median(r['ray_start_s'] for r in rows):.1f} s)" if "ray_start_s" in rows[0] \
            else ""
        cpu = statistics.median(r["cpu_ms_per_frame"] for r in rows)
        print(f"| {name} | {wall:.1f} s | {start:.1f} s{extra} | {fps:.1f} | {fps / one:.2f} | {steady:.1f} "
              f"| {steady / one:.2f} | {cpu:.0f}{' (Ray processes not counted)' if extra else ''} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
            "cores": os.cpu_count(), "load_at_start": load_at_start, "load_at_end": os.getloadavg(), "files": args.files, "frames": frames,
            "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
