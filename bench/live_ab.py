"""Live latency of two source trees, interleaved in one run: did a change make the
live path faster?

    python bench/live_ab.py --before ../main [--after .] [--pairs 6] [--frames 100] [--json FILE]

Each tree runs in a process of its own (this Python, the tree first on the path)
that sets up what ``camvideo bench`` runs live on OpenVINO (``openvino_setup``'s
``live`` localizer, lite0, the default preset, top-3, ``--threads`` torch threads)
once, and then, each time it is told to, one live run of the bench
(``run_live``: a ``--fps`` source of 640x480 frames, the newest-frame policy,
``--frames`` capture-to-annotated latencies). The runs alternate before, after,
after, before, ... so that a machine shared with other jobs slows both alike; the
one-minute load average and the cores the rest of the machine kept busy
(``/proc/stat`` less the tree's process) are kept beside each run; before each run
it waits (``--patience``) for a moment when the rest uses under ``--quiet`` cores.
Reported: p50 and p95 of every latency of each tree, the frames dropped and the
mean ms of each stage (on trees whose ``run_live`` gives them), of all runs and of
the quiet ones (the rest under ``--quiet`` cores while it ran).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from before_after import tree_arguments  # bench/before_after.py: --before, --after, --pairs

ROOT = Path(__file__).resolve().parents[1]

# Runs inside each tree's process: set up once, then one live run per line read.
CHILD = r"""
import json, sys
import torch
from camvideo.annotate import FrameAnnotator
from camvideo.settings import LocalizeSettings
from camvideo.tools.benchmark.frames import SIZES, load_photos, make_frames
from camvideo.tools.benchmark.openvino import openvino_setup
from camvideo.tools.benchmark.runner import BenchConfig
from camvideo.tools.benchmark.runs import run_live

threads, fps, count = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
config = BenchConfig(threads=threads, live_fps=fps, frames=count, peers=False, presets=False)
annotator = FrameAnnotator()
frames = {SIZES[0]: make_frames(*SIZES[0], 24, load_photos())}
ov, missing = openvino_setup(config, frames, annotator, LocalizeSettings(topk=config.topk), lambda msg: None)
if ov is None:
    raise SystemExit(f"no OpenVINO: {missing}")
run_live(ov.live, annotator, frames[SIZES[0]], 10, fps)  # warm-up
print("ready", flush=True)
for line in sys.stdin:
    print(json.dumps(run_live(ov.live, annotator, frames[SIZES[0]], count, fps)), flush=True)
"""


def start(tree: Path, threads: int, fps: float, frames: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(threads), str(fps), str(frames)], env=env, cwd=tree,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if child.stdout.readline().strip() != "ready":
        raise SystemExit(f"{tree}: the live bench did not start")
    return child


def _jiffies(pid: int) -> tuple[int, int, int]:
    """(the machine's busy jiffies, all its jiffies, the process ``pid``'s own)."""
    with open("/proc/stat") as fh:
        cpu = [int(v) for v in fh.readline().split()[1:]]
    with open(f"/proc/{pid}/stat") as fh:
        own = fh.read().rpartition(")")[2].split()
    idle = cpu[3] + cpu[4]  # idle, iowait
    return sum(cpu) - idle, sum(cpu), int(own[11]) + int(own[12])  # utime, stime


def others_cores(pid: int, before: tuple[int, int, int]) -> float:
    """Cores the rest of the machine kept busy since ``before`` (``_jiffies(pid)``)."""
    after = _jiffies(pid)
    busy, total, own = (a - b for a, b in zip(after, before))
    return max(0.0, (busy - own) / max(1, total) * (os.cpu_count() or 1))


def wait_quiet(pid: int, cores: float, patience: float) -> None:
    """Wait (at most ``patience`` s) for half a second in which the rest of the
    machine keeps fewer than ``cores`` cores busy."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        before = _jiffies(pid)
        time.sleep(0.5)
        if others_cores(pid, before) < cores:
            return


def one_run(child: subprocess.Popen) -> dict:
    """One live run in ``child``, with the cores the rest of the machine used meanwhile."""
    before = _jiffies(child.pid)
    child.stdin.write("go\n")
    child.stdin.flush()
    line = child.stdout.readline()
    if not line:
        raise SystemExit("a live run ended without a result")
    run = json.loads(line)
    run["others_cores"] = round(others_cores(child.pid, before), 3)
    return run


def summary(runs: list[dict], quiet: float | None = None) -> dict:
    """Percentiles of every latency of ``runs`` (with ``quiet``: of the runs in
    which the rest of the machine kept fewer cores busy)."""
    runs = [run for run in runs if quiet is None or run["others_cores"] < quiet]
    if not runs:
        return {"frames": 0}
    lat = [v for run in runs for v in run["latencies_ms"]]
    return {"runs": len(runs), "frames": len(lat), "dropped": sum(run["dropped"] for run in runs),
            "p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2),
            "per_run_p50_ms": [round(float(np.percentile(run["latencies_ms"], 50)), 2) for run in runs],
            "per_run_p95_ms": [round(float(np.percentile(run["latencies_ms"], 95)), 2) for run in runs],
            "stages_ms": {k: round(float(np.mean([run["stages"][k] for run in runs if k in run.get("stages", {})])), 3)
                          for k in sorted({k for run in runs for k in run.get("stages", {})})},
            "load_1min": [run["load_1min"] for run in runs],
            "others_cores": [run["others_cores"] for run in runs]}


def report(args, trees: dict, runs: dict, pairs: int) -> dict:
    return {"trees": {n: str(t) for n, t in trees.items()}, "fps": args.fps, "threads": args.threads,
            "frames_per_run": args.frames, "pairs": pairs, "quiet_cores": args.quiet,
            "all": {n: summary(r) for n, r in runs.items()}, "quiet": {n: summary(r, args.quiet) for n, r in runs.items()},
            "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    tree_arguments(parser, pairs=6)
    parser.add_argument("--frames", type=int, default=100, help="latencies per run (default: 100)")
    parser.add_argument("--fps", type=float, default=60.0, help="the live source's rate (default: 60)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, as camvideo bench (default: 2)")
    parser.add_argument("--quiet", type=float, default=0.25,
                        help="before each run wait for the rest of the machine to use fewer cores than this, and "
                             "report the runs during which it did apart (default: 0.25)")
    parser.add_argument("--patience", type=float, default=20.0,
                        help="seconds to wait for a quiet moment before a run anyway (default: 20)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    if args.pairs < 1 or args.frames < 10:
        parser.error("--pairs must be at least 1 and --frames at least 10")
    trees = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    children = {name: start(tree, args.threads, args.fps, args.frames) for name, tree in trees.items()}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        for k in range(args.pairs):
            if args.json and k:  # after every pair: a run stopped part way keeps what it measured
                Path(args.json).write_text(json.dumps(report(args, trees, runs, k), indent=1))
            for name in (("before", "after") if k % 2 == 0 else ("after", "before")):
                wait_quiet(children[name].pid, args.quiet, args.patience)
                load = os.getloadavg()[0]
                run = one_run(children[name])
                run["load_1min"] = round(load, 2)
                runs[name].append(run)
                print(f"pair {k + 1}/{args.pairs} {name}: p50 {np.percentile(run['latencies_ms'], 50):.1f} ms, "
                      f"p95 {np.percentile(run['latencies_ms'], 95):.1f} ms (load {load:.2f}, others "
                      f"{run['others_cores']:.2f} cores)", file=sys.stderr,
                      flush=True)
    finally:
        for child in children.values():
            child.stdin.close()
            child.wait(60)
    result = report(args, trees, runs, args.pairs)
    for which in ("all", "quiet"):
        for name in trees:
            s = result[which][name]
            if s["frames"]:
                print(f"{which} runs, {name}: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, {s['dropped']} "
                      f"dropped ({s['runs']} runs, {s['frames']} frames)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
