"""Are a file run's cores kept busy? The scheduler's own record of one `camvideo process`.

    PYTHONPATH=TREE python bench/idle.py [--clip FILE] [--nice -20 | --fifo] [-- PROCESS-OPTIONS]

Runs ``camvideo process CLIP -o OUT.mkv --export OUT.jsonl`` (the command's own code,
in a child process whose Python threads carry their names to the kernel: ``prctl``)
under ``perf record -a -e sched:sched_switch,sched:sched_wakeup,...`` and replays the
scheduler's events over the pipeline's window (the writer thread's first event to its
last). At each moment it knows how many of the run's threads are runnable and how many
are on a core, and prints the core time lost three ways:

- **idle by the run's own waits**: fewer than two of its threads runnable (each waits
  for another: a queue, a future, the GIL, x264's slices). Only this the pipeline can
  remove; a quiet 2-core machine would idle that long;
- **runnable, a core idle**: a thread ready while a core ran nothing (a thread pinned
  to the other core, as OpenVINO's throughput streams are; the wake-up's lag);
- **runnable, a core taken**: other processes (or RT throttling under ``--fifo``).

and, of the stretches with fewer than two runnable, which wake-up ended them (woken <-
waker: who waited for whom). On a machine shared with other jobs, ``--nice -20`` runs
the command in this session's autogroup at nice -20 (root; restored after) and
``--fifo`` under ``chrt -f 1`` (SCHED_FIFO: the run's threads take a core whenever one
is runnable, as on a quiet machine, less the kernel's 5% RT throttling): the run's own
waits then read as they would on a quiet machine; both take the cores from every other
job on the machine while they run (do not use them while others measure). Needs perf and root (or
``perf_event_paranoid`` <= 1 and tracefs readable).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

EVENTS = "sched:sched_switch,sched:sched_wakeup,sched:sched_wakeup_new"
STALE_S = 0.1  # a thread "runnable" this long without a core: an event was lost, count it asleep
# The child: Python's threads named for the kernel (15 bytes) and listed, tid and name, in TIDS.
CHILD = """
import ctypes, os, sys, threading
libc = ctypes.CDLL(None)
tids = open(os.environ["TIDS"], "a")
def named(run):
    def wrapper(self):
        libc.prctl(15, self.name[:15].encode(), 0, 0, 0)
        tids.write(f"{threading.get_native_id()} {self.name}\\n"); tids.flush()
        return run(self)
    return wrapper
threading.Thread.run = named(threading.Thread.run)
libc.prctl(15, b"main", 0, 0, 0)
tids.write(f"{os.getpid()} main\\n"); tids.flush()
from camvideo.cli.parser import main
sys.exit(main(sys.argv[1:]))
"""
EVENT = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)$")


def record(clip: Path, work: Path, extra: list[str], fifo: bool) -> tuple[Path, dict[int, str], int]:
    """Run the command under perf: (the perf data, tid -> Python thread name, the child's pid)."""
    tids = work / "tids.txt"
    data = work / "sched.data"
    child = [sys.executable, "-c", CHILD, "process", str(clip), "-o", str(work / "out.mkv"),
             "--export", str(work / "out.jsonl"), "--no-progress", *extra]
    if fifo:
        child = ["chrt", "-f", "1", *child]
    env = dict(os.environ, TIDS=str(tids))
    subprocess.run(["perf", "record", "-q", "-a", "-e", EVENTS, "-o", str(data), "--", *child], env=env, check=True)
    names = {}
    for line in tids.read_text().splitlines():
        tid, name = line.split(" ", 1)
        names[int(tid)] = name
    return data, names, next(iter(names))  # the first line: the main thread, whose tid is the pid


def events(data: Path, pid: int, names: dict[int, str]) -> list[tuple]:
    """The scheduler's events in time order: (time, tid, cpu, event, text); the run's
    native threads are named after the thread that started them (``native:NAME``)."""
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "comm,tid,pid,cpu,time,event,trace"],
                          capture_output=True, text=True, check=True).stdout
    out = []
    for line in text.splitlines():
        m = EVENT.match(line)
        if m:
            comm, tgid, tid, cpu, t, event, rest = m.groups()
            if int(tgid) == pid:
                names.setdefault(int(tid), f"native:{comm}")
            out.append((float(t), int(tid), int(cpu), event, rest))
    return out


class Replay:
    """The run's threads' states, event by event: runnable (woken, or preempted) and on a core."""

    def __init__(self, ours: set[int], cpus: int) -> None:
        self.ours, self.cpus = ours, cpus
        self.ready: dict[int, float] = {}  # a runnable thread of ours: since when
        self.on: dict[int, int] = {}  # cpu: the tid on it (0: idle)

    def runnable(self, now: float) -> int:
        running = set(self.on.values())
        return sum(1 for tid, since in self.ready.items() if tid in running or now - since < STALE_S)

    def on_core(self) -> int:
        return sum(1 for tid in self.on.values() if tid in self.ours)

    def idle_cores(self) -> int:
        return sum(1 for cpu in range(self.cpus) if self.on.get(cpu, 0) == 0)

    def apply(self, t: float, tid: int, cpu: int, event: str, rest: str) -> int | None:
        """Take one event; the tid of a thread of ours it woke, else None."""
        if event == "sched_switch":
            m = re.search(r"prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)", rest)
            prev, state, nxt = int(m.group(1)), m.group(2), int(m.group(3))
            old = self.on.get(cpu)
            if old is not None and old != prev:
                self.ready.pop(old, None)  # events lost: that thread's state is unknown
            if state.startswith("R") and prev in self.ours:
                self.ready[prev] = t
            else:
                self.ready.pop(prev, None)
            if nxt in self.ours:
                self.ready.setdefault(nxt, t)
            self.on[cpu] = nxt
            return None
        woken = int(re.search(r"pid=(\d+)", rest).group(1))
        if woken in self.ours:
            self.ready[woken] = t
            return woken
        return None


def analyse(evs: list[tuple], names: dict[int, str], pid_threads: set[int], cpus: int) -> dict:
    """Core time lost in the writer's window (shares of the window's core time) and
    the wake-ups that ended the stretches with fewer than two threads runnable."""
    writer = max(tid for tid, name in names.items() if name == "camvideo-writer")
    seen = [t for t, tid, _, _, rest in evs if tid == writer or re.search(rf"pid={writer}\b", rest)]
    start, end = min(seen), max(seen)
    replay = Replay(pid_threads, cpus)
    lost = collections.Counter()
    ended: collections.Counter = collections.Counter()
    low_since, last = None, None
    for t, tid, cpu, event, rest in evs:
        if last is not None and start <= t <= end:
            _account(lost, replay, t, t - max(last, start), cpus)
        last = t
        woken = replay.apply(t, tid, cpu, event, rest)
        count = replay.runnable(t)
        if woken is not None and count >= cpus and low_since is not None and start <= t <= end:
            ended[f"{names.get(woken)} <- {names.get(tid, 'another process')}"] += t - low_since
        low_since = (low_since or t) if count < cpus else None
    total = (end - start) * cpus
    return {"window_s": end - start, "lost": {k: v / total for k, v in lost.items()},
            "ended_by": {k: v for k, v in ended.most_common(10)}}


def _account(lost: collections.Counter, replay: Replay, now: float, dt: float, cpus: int) -> None:
    runnable, on = replay.runnable(now), replay.on_core()
    lost["own waits"] += dt * max(0, cpus - max(runnable, on))
    waiting = max(0, min(runnable, cpus) - on)
    if waiting:
        idle = min(waiting, replay.idle_cores())
        lost["runnable, a core idle"] += dt * idle
        lost["runnable, a core taken"] += dt * (waiting - idle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default=str(Path(__file__).resolve().parents[1] / "camvideo/resources/demo.mp4"))
    parser.add_argument("--nice", type=int, help="this session's autogroup nice for the run (root), e.g. -20")
    parser.add_argument("--fifo", action="store_true", help="run under chrt -f 1 (SCHED_FIFO, root)")
    parser.add_argument("extra", nargs="*", help="more `camvideo process` options (after --)")
    args = parser.parse_args()
    before = Path("/proc/self/autogroup").read_text().split()[-1] if args.nice is not None else None
    with tempfile.TemporaryDirectory(prefix="idle-") as tmp:
        try:
            if args.nice is not None:
                Path("/proc/self/autogroup").write_text(str(args.nice))
            data, names, pid = record(Path(args.clip), Path(tmp), args.extra, args.fifo)
        finally:
            if before is not None:
                Path("/proc/self/autogroup").write_text(before)
        evs = events(data, pid, names)  # names the native threads too
        result = analyse(evs, names, set(names), os.cpu_count() or 1)
    print(f"the pipeline's window {result['window_s']:.2f} s; core time lost:")
    for kind in ("own waits", "runnable, a core idle", "runnable, a core taken"):
        print(f"  {kind}: {100 * result['lost'].get(kind, 0.0):.2f}%")
    print("stretches with fewer threads runnable than cores, by the wake-up that ended them (woken <- waker):")
    for key, seconds in result["ended_by"].items():
        print(f"  {1000 * seconds:8.1f} ms  {key}")


if __name__ == "__main__":
    main()
