"""The 640x480 inference stage as a stream (a file run's) against its forward pass
alone as a stream, on OpenVINO's throughput mode: the pair ``camvideo bench`` runs
once a round (``camvideo.tools.benchmark.openvino.run_streams``), here alone, for
iterating on a change. Rounds alternate which of the two goes first. As the bench's:
smoothed (``--no-smooth``: each frame on its own), over the bench's frames
(``make_frames``: every frame a cut; ``--video``: a video's pans and cuts), the
forward pass alone on the file run's batches.

Prints one JSON line a round and a summary: wall ms a frame (steady), CPU ms a frame
(``time.process_time`` over the run: the whole process, every thread), and the
stage over the forward pass for each; ``*_rest``: the CPU outside OpenVINO's own
threads (the glue, and the pool's calls) a frame; ``raw``: the compiled model's own throughput
(``raw_stream``: an ``AsyncInferQueue``, no Python pool). ``--ov KEY=VALUE`` (repeatable) adds an
OpenVINO property to the compile (e.g. NUM_STREAMS=1 INFERENCE_NUM_THREADS=2,
ENABLE_CPU_PINNING=False); ``--workers`` the pool's threads (default: auto).
``--profile FILE`` writes a cProfile of one extra stage run (every thread it starts,
merged).

    PYTHONPATH=. nice python bench/stage_stream.py --rounds 6 --frames 240
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def _timed(fn) -> tuple[dict, float]:
    start = time.process_time()
    out = fn()
    return out, 1000 * (time.process_time() - start)


def _profile(fn, path: str) -> None:
    """cProfile of ``fn`` in every thread it starts (one profile each, merged into ``path``)."""
    import cProfile
    import pstats
    import sys
    import threading

    profiles = []

    def start(*_):
        prof = cProfile.Profile(time.thread_time)  # CPU time: no GIL waits, no other process
        profiles.append(prof)
        sys.setprofile(None)  # this thread's own profiler from here on
        prof.enable()

    threading.setprofile(start)
    try:
        fn()
    finally:
        threading.setprofile(None)
    stats = None
    for prof in profiles:
        prof.disable()
        prof.create_stats()
        stats = pstats.Stats(prof) if stats is None else stats.add(prof)
    stats.dump_stats(path)


class ThreadCPU:
    """CPU seconds of every thread of this process over a run, by name (Python's
    thread name where it has one, else the OS's): /proc/self/task sampled every
    ``period`` s, the last sample of each thread kept (a thread's time up to its end,
    within one period)."""

    def __init__(self, period: float = 0.02) -> None:
        import os
        import threading

        self.period, self.ticks, self.seen, self.names = period, os.sysconf("SC_CLK_TCK"), {}, {}
        self.before = self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> dict:
        import os
        import threading

        py = {t.native_id: t.name for t in threading.enumerate()}
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            comm, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            self.names[int(tid)] = py.get(int(tid)) or self.names.get(int(tid)) or f"native {comm}"
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / self.ticks
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.seen.update(self._sample())

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.seen.update(self._sample())
        by: dict[str, float] = {}
        for tid, cpu in self.seen.items():
            name = self.names[tid].rstrip("0123456789").rstrip("-_")
            by[name] = by.get(name, 0.0) + cpu - self.before.get(tid, 0.0)
        return by


def raw_stream(forward, inputs: list, count: int) -> dict:
    """The compiled model's own throughput, benchmark_app's way: ``count`` inferences of
    ``inputs`` (the float input at 224x288) through an ``AsyncInferQueue`` of its
    optimal number of requests, no Python pool and no output arrays of camvideo's;
    wall ms a frame of the whole run (no steady part: nothing to fill but the queue)."""
    import openvino as ov

    arrays = [x.numpy() for x in inputs]
    batch = len(arrays[0])
    compiled = forward._shapes[(224, 288)]._runner(batch, pixels=False).compiled
    jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    queue = ov.AsyncInferQueue(compiled, jobs)
    calls = max(1, count // batch)
    start = time.perf_counter()
    for i in range(calls):
        queue.start_async({0: arrays[i % len(arrays)]})
    queue.wait_all()
    return {"ms_per_frame": 1000 * (time.perf_counter() - start) / (calls * batch), "frames": calls * batch}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--precision", default="auto", choices=("auto", "f32", "bf16", "int8"))
    parser.add_argument("--ov", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--pixels", action="store_true",
                        help="the forward pass alone on the stage's own input (resized uint8 pixels the graph normalizes)")
    parser.add_argument("--cv-threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's own)")
    parser.add_argument("--only", choices=("stage", "forward"), help="run that one alone (no ratio; for perf record)")
    parser.add_argument("--no-smooth", action="store_true",
                        help="each frame on its own (the bench's --no-smooth); default: smoothed, as the bench")
    parser.add_argument("--video", action="store_true",
                        help="the stream over a video's frames (a pan with cuts: ``video_frames``, 240) instead of "
                             "the bench's ``make_frames`` (24, every one a cut)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    if args.cv_threads is not None:
        import cv2

        cv2.setNumThreads(args.cv_threads)
    import camvideo.runtime.openvino as ovmod
    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.runtime.workers import auto_batch, auto_workers
    from camvideo.settings import LocalizeSettings, SmoothingSettings
    from camvideo.tools.benchmark.frames import make_frames, video_frames
    from camvideo.tools.benchmark.openvino import prepared
    from camvideo.tools.benchmark.runs import run_forward_stream, run_stream

    extra = dict(kv.split("=", 1) for kv in args.ov)
    if extra:
        compiled = ovmod._compiled
        ovmod._compiled = lambda core, entry, device, config, *a: compiled(core, entry, device, {**config, **extra}, *a)
    frames = video_frames(640, 480, 240) if args.video else make_frames(640, 480, 24)
    model = load_model("lite0", device="cpu").eval()
    forward = OpenVINOForward(model, mode="throughput", sizes=[(224, 288)], precision=args.precision)
    smoothing = None if args.no_smooth else SmoothingSettings()
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3, smoothing=smoothing), forward=forward)
    annotator = FrameAnnotator()
    batch = auto_batch(forward, live=False)  # as the bench's forward alone: the file run's batches
    inputs = prepared(model, forward, frames[:24], (224, 288), batch)
    if args.pixels:
        sized = localizer._passes._sized((224, 288))
        inputs = [forward.prepare_frames(frames[i:i + batch], sized) for i in range(0, 24 - batch + 1, batch)]
    pool = args.workers or auto_workers(model, forward)
    jobs = {"stage": lambda n: run_stream(localizer, annotator, frames, n, args.workers),
            "forward": lambda n: run_forward_stream(forward.features_and_logits, inputs, max(1, n // batch), pool,
                                                    per_call=batch),
            "raw": lambda n: raw_stream(forward, inputs, n)}
    props = {k: str(forward._shapes[(224, 288)].compiled.get_property(k))
             for k in ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING")}
    print(json.dumps({"precision": forward.precision, "workers": pool, **props}), flush=True)
    for fn in jobs.values():
        fn(16)  # warm up
    if args.only:
        count = args.frames * args.rounds
        threads = ThreadCPU()
        out, cpu = _timed(lambda: jobs[args.only](count))
        by = {k: round(1000 * v / count, 3) for k, v in sorted(threads.stop().items(), key=lambda kv: -kv[1]) if v}
        print(json.dumps({args.only: round(out["ms_per_frame"], 3), "cpu": round(cpu / count, 3), "threads": by}))
        return 0
    rows = []
    for r in range(args.rounds):
        row = {}
        for key in (("stage", "forward", "raw") if r % 2 == 0 else ("raw", "forward", "stage")):
            threads = ThreadCPU()
            out, cpu = _timed(lambda k=key: jobs[k](args.frames))
            native = sum(v for k, v in threads.stop().items() if k.startswith("native"))
            count = out.get("frames", args.frames)
            row[key] = round(out["ms_per_frame"], 3)
            row[f"{key}_cpu"] = round(cpu / count, 3)
            row[f"{key}_rest"] = round((cpu - 1000 * native) / count, 3)  # CPU outside OpenVINO's threads
            if key == "stage":
                row["parts"] = {k: round(v, 2) for k, v in out["stages"].items()}
        row["ratio"] = round(row["stage"] / row["forward"], 3)
        row["cpu_ratio"] = round(row["stage_cpu"] / row["forward_cpu"], 3)
        row["cpu_ratio_raw"] = round(row["stage_cpu"] / row["raw_cpu"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {k: round(statistics.median(r[k] for r in rows), 3)
               for k in ("stage", "forward", "raw", "ratio", "stage_cpu", "forward_cpu", "raw_cpu", "cpu_ratio",
                         "cpu_ratio_raw", "stage_rest", "forward_rest")}
    print(json.dumps({"median": summary}), flush=True)
    if args.profile:
        _profile(lambda: jobs["stage"](args.frames), args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
