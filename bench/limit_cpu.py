"""End to end as a fraction of the limit, in CPU time: a figure that holds on a busy machine.

    PYTHONPATH=. python bench/limit_cpu.py [--rounds 3] [--frames 480] [--json FILE]

``camvideo bench`` reports the end-to-end fps over the limit's fps: on a machine that
other jobs share, the wall clock is the scheduler's and that fraction says little.
Here, in one process and interleaved rounds, on the bench's 640x480 frames at its
settings (lite0, ``balanced``, top-3, OpenVINO at ``--precision``, default ``auto`` as
the bench's, where it runs, else torch):

- the limit's parts, each alone on one thread (``camvideo.tools.benchmark.limit``:
  decode, the forward half, x264 with the recorder's conversion), CPU ms a frame;
- a file run through ``run_source`` (recording only, as the bench's end to end) on a
  clip of ``--frames`` frames, after a warm-up run: the process's CPU ms a frame, and
  each camvideo thread's own (the rest: the main thread and the native threads of
  OpenVINO, x264 and the decoder).

``cpu_fraction`` = the limit's CPU / the run's CPU: the fps fraction the run would
reach with the cores all its own and kept busy (on a quiet machine the two agree:
0.77 here against the bench's 0.78, docs/measuring.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_THREAD_CPU: collections.Counter = collections.Counter()  # camvideo thread name -> CPU s of the run


def _count_thread_cpu() -> None:
    """Each thread adds its CPU time to ``_THREAD_CPU`` under its name (numbers dropped) as it ends."""
    run = threading.Thread.run

    def counted(self) -> None:
        try:
            run(self)
        finally:
            _THREAD_CPU[re.sub(r"[-:]?[\w.]*\d+$|:.*$", "", self.name)] += time.thread_time()

    threading.Thread.run = counted


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _localizers(precision: str = "auto"):
    """(the file run's localizer, the limit's one-thread localizer, runtime name)."""
    from camvideo.cam.multiscale import input_sizes
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward, available
    from camvideo.settings import LocalizeSettings

    model = load_model("lite0").eval()
    settings = LocalizeSettings(topk=3)
    if not available():
        return FrameLocalizer(model, settings), FrameLocalizer(model, settings), "torch"
    sizes = input_sizes(640, 480, tuple(model.preprocessing.size), settings.maps)
    run = FrameLocalizer(model, settings, forward=OpenVINOForward(model, mode="throughput", sizes=sizes,
                                                                  precision=precision))
    single = FrameLocalizer(model, settings, forward=OpenVINOForward(model, mode="latency", threads=1, sizes=sizes,
                                                                     precision=precision))
    return run, single, "openvino"


def measure(rounds: int, frames: int, precision: str = "auto") -> dict:
    from camvideo.annotate import FrameAnnotator
    from camvideo.tools.benchmark.frames import load_photos, video_frames, write_clip
    from camvideo.tools.benchmark.limit import measure_limit
    from camvideo.tools.benchmark.runs import run_end_to_end

    _count_thread_cpu()
    run, single, runtime = _localizers(precision)
    annotator, photos = FrameAnnotator(), load_photos()
    with tempfile.TemporaryDirectory(prefix="camvideo-limit-cpu-") as tmp:
        tmp_path = Path(tmp)
        short = video_frames(640, 480, 120, photos)
        limit_clip = write_clip(tmp_path / "limit_in.mp4", short)
        clip = write_clip(tmp_path / "run_in.mp4", video_frames(640, 480, frames, photos))
        run_end_to_end(run, annotator, limit_clip, tmp_path)  # warm-up
        limits, runs = [], []
        for _ in range(rounds):
            limits.append(measure_limit(limit_clip, short, single, tmp_path)["parts_ms"])
            _THREAD_CPU.clear()
            start = _cpu_s()
            done = run_end_to_end(run, annotator, clip, tmp_path)
            count = max(1, done["frames"])
            total = (_cpu_s() - start) * 1000.0 / count
            threads = {name: round(s * 1000.0 / count, 3) for name, s in _THREAD_CPU.items()}
            threads["main and native (OpenVINO, x264, decoder)"] = round(total - sum(threads.values()), 3)
            runs.append({"cpu_ms": round(total, 3), "threads": threads, "wall_ms": round(done["ms_per_frame"], 3)})
    parts = {name: round(statistics.median(row[name] for row in limits), 3) for name in limits[0]}
    limit = sum(parts.values())
    run_cpu = statistics.median(r["cpu_ms"] for r in runs)
    return {"runtime": runtime, "precision": precision, "frames": frames, "rounds": rounds, "limit_parts_ms": parts,
            "limit_cpu_ms": round(limit, 3), "run_cpu_ms": round(run_cpu, 3),
            "cpu_fraction": round(limit / run_cpu, 3), "runs": runs, "limits": limits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--frames", type=int, default=480, help="frames of the file run (default: 480)")
    parser.add_argument("--precision", default="auto", help="OpenVINO's precision (default: auto, as the bench's)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    if args.rounds < 1 or args.frames < 2:
        parser.error("--rounds must be >= 1 and --frames >= 2")
    import os

    report = {**measure(args.rounds, args.frames, args.precision), "load": [round(v, 2) for v in os.getloadavg()]}
    parts = report["limit_parts_ms"]
    print(f"limit ({report['runtime']} {report['precision']}): " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
          + f" = {report['limit_cpu_ms']:.2f} CPU ms a frame")
    for r in report["runs"]:
        print(f"file run: {r['cpu_ms']:.2f} CPU ms a frame; " + ", ".join(f"{k} {v:.2f}" for k, v in r["threads"].items()))
    print(f"cpu fraction: {report['cpu_fraction']:.3f} (load {report['load']})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
