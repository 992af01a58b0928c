"""Where a file run's CPU goes, thread by thread: a real ``camvideo process`` run in
this process, its threads' CPU time (Linux /proc) in milliseconds a frame.

    PYTHONPATH=TREE python bench/thread_cpu.py [--clip FILE | --frames 600] [--rounds 2] [-- PROCESS-OPTIONS]

Each round runs ``camvideo process CLIP -o OUT.mkv --export OUT.jsonl --device cpu``
(the command's own code, ``camvideo.cli.parser.main``; any options after ``--`` are
added) while a sampler thread reads every thread's CPU time from
``/proc/self/task`` every 50 ms and names it by its Python thread name
(``camvideo-writer``, ``camvideo-sinks``, ``camvideo-forward-0``, ...; threads that
Python did not start are ``native (before)``, those that were there when the run
began: OpenVINO's streams, OpenCV's pool, BLAS's, and ``native (in run)``, those the
run started: x264's, a decoder's; ``--tids`` lists each native thread on its own,
a thread that spins shows there). The kernel's part of each thread's time
(``kernel``: system calls, futex waits and wake-ups, ``sched_yield``) is printed
beside it.
The run's window opens when the pipeline's writer thread appears and closes when it
has gone, so the model's load and compile (start-up) stay out of the per-thread
figures; the whole command's CPU and wall time, start-up included, are printed
beside them. The first round warms the caches (OpenVINO's compiled model) and is
not printed unless it is the only one.

The clip: ``--clip FILE``, or ``--frames`` frames of the bench's 640x480 clip (a slow
pan over the test photos, ``camvideo.tools.benchmark.frames``). For a before/after
comparison run it once with each tree first on ``PYTHONPATH``, alternating, on the
same machine (bench/before_after.py does whole-command figures that way).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PIPELINE_THREAD = "camvideo-writer"


class ThreadSampler:
    """Per-thread CPU seconds of this process, sampled every ``period`` s while the
    pipeline's writer thread lives (a thread's last sample is its total: threads
    that end between samples lose at most one period)."""

    def __init__(self, period: float = 0.05, tids: bool = False) -> None:
        self.period = period
        self.tids = tids
        self.start_cpu: dict[int, tuple[str, float, float]] = {}  # tid: (name, CPU s, of which kernel s)
        self.last: dict[int, tuple[str, float, float]] = {}
        self.window: list[float] = []  # monotonic times of the window's start and end
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="thread-cpu-sampler", daemon=True)

    def _snap(self) -> dict[int, tuple[str, float, float]]:
        for thread in threading.enumerate():
            if thread.native_id:
                self._names[thread.native_id] = thread.name.split(":")[0]
        seen = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user, kernel = int(fields[11]) / TICK, int(fields[12]) / TICK
            seen[int(tid)] = (self._names.get(int(tid), "native"), user + kernel, kernel)
        return seen

    def _pipeline_alive(self) -> bool:
        return any(t.name == PIPELINE_THREAD for t in threading.enumerate())

    def _loop(self) -> None:
        while not self._stop.is_set() and not self._pipeline_alive():
            time.sleep(0.002)
        self.start_cpu = self._snap()
        self.window.append(time.monotonic())
        while not self._stop.is_set() and self._pipeline_alive():
            self.last.update(self._snap())
            time.sleep(self.period)
        self.last.update(self._snap())
        self.window.append(time.monotonic())

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def per_thread(self) -> tuple[collections.Counter, collections.Counter]:
        """CPU seconds in the window and the kernel's part of them, summed by thread
        name (the sampler's own left out; native threads as the module says)."""
        out: collections.Counter = collections.Counter()
        kernel: collections.Counter = collections.Counter()
        for tid, (name, cpu, sys_s) in self.last.items():
            if name == self._thread.name:
                continue
            before = self.start_cpu.get(tid)
            if name == "native":
                name = f"native ({'before' if before else 'in run'}{f' {tid}' if self.tids else ''})"
            out[name] += cpu - (before[1] if before else 0.0)
            kernel[name] += sys_s - (before[2] if before else 0.0)
        return out, kernel


def one_run(clip: Path, work: Path, extra: list[str], frames: int, tids: bool = False) -> dict:
    """One ``camvideo process`` in this process: per-thread CPU ms a frame in the
    pipeline's window, and the whole command's CPU and wall ms a frame."""
    from camvideo.cli.parser import main

    out = work / f"run-{time.monotonic_ns()}"
    argv = ["process", str(clip), "-o", f"{out}.mkv", "--export", f"{out}.jsonl", "--device", "cpu", "--no-progress",
            *extra]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with ThreadSampler(tids=tids) as sampler:
        code = main(argv)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if code != 0:
        raise SystemExit(f"camvideo {' '.join(argv)} exited {code}")
    written = sum(1 for _ in open(f"{out}.jsonl"))
    if written != frames:
        raise SystemExit(f"{written} frames in the JSONL, {frames} in the clip")
    threads, kernel = sampler.per_thread()
    window = sampler.window[-1] - sampler.window[0]
    return {"threads": {k: 1000 * v / frames for k, v in threads.most_common()},
            "kernel": {k: 1000 * kernel[k] / frames for k, _ in threads.most_common()},
            "run_cpu_ms": 1000 * sum(threads.values()) / frames, "run_wall_ms": 1000 * window / frames,
            "command_cpu_ms": 1000 * cpu / frames, "command_wall_ms": 1000 * wall / frames}


def say(result: dict) -> None:
    parts = ", ".join(f"{k} {v:.2f} (kernel {result['kernel'][k]:.2f})" for k, v in result["threads"].items()
                      if v >= 0.005)
    print(f"run: {result['run_cpu_ms']:.2f} CPU ms/frame, {result['run_wall_ms']:.2f} wall ms/frame "
          f"(whole command with start-up: {result['command_cpu_ms']:.2f} CPU, {result['command_wall_ms']:.2f} wall)\n"
          f"  per thread, CPU ms/frame: {parts}", flush=True)


def count_frames(clip: Path) -> int:
    import av

    with av.open(str(clip)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", help="the video to process (default: --frames frames of the bench's 640x480 clip)")
    parser.add_argument("--frames", type=int, default=600, help="frames of the bench clip (default: 600)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds after the warm-up one (default: 2)")
    parser.add_argument("--tids", action="store_true", help="each native thread on its own (by thread id)")
    parser.add_argument("extra", nargs="*", help="more `camvideo process` options (after --)")
    args = parser.parse_args()
    if args.frames < 10 or args.rounds < 0:
        parser.error("--frames must be at least 10 and --rounds at least 0")
    with tempfile.TemporaryDirectory(prefix="thread-cpu-") as tmp:
        work = Path(tmp)
        if args.clip:
            clip = Path(args.clip).resolve()
        else:
            from camvideo.tools.benchmark.frames import video_frames, write_clip

            clip = write_clip(work / "clip.mp4", video_frames(640, 480, args.frames))
        frames = count_frames(clip)
        print(f"{clip.name}: {frames} frames; camvideo from {Path(sys.modules['camvideo'].__file__).parent.parent}"
              if "camvideo" in sys.modules else f"{clip.name}: {frames} frames", flush=True)
        for k in range(args.rounds + 1):
            result = one_run(clip, work, args.extra, frames, args.tids)
            if k or not args.rounds:
                say(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
