"""Jobs in worker processes on this machine (``--jobs N``).

Processes, not threads: a decoder that crashes, a file that makes the process
run out of memory (the kernel's OOM killer sends SIGKILL) or any other death of
a worker costs that one file, which is recorded as failed with the signal, and
a fresh worker takes its place for the rest. Each worker loads the model once
(``JobRunner``) and then takes one file at a time from the parent over a pipe,
so a slow file never holds up the others. Workers are started with ``spawn``:
nothing of the parent's threads or torch state is inherited.

Stopping: the parent closes the write end of a stop pipe whose read end every
worker holds (Ctrl-C, SIGTERM, SIGHUP reach the parent, which decides): the read
end then polls ready (end of file) in every worker at once. A pipe is a file
descriptor the kernel frees with the process, where a ``multiprocessing.Event``
made five named semaphores that a driver killed with SIGKILL left to Python's
resource tracker ("5 leaked semaphore objects"). Each worker closes the file it is on (recording and
export playable under their ``.partial`` names) and reports it ``interrupted``. A
terminal's Ctrl-C also reaches the workers, which ignore SIGINT for that reason.
A SIGTERM or SIGHUP that reaches the parent too (a service stopped, a process
group signalled) is that stop; one sent to a worker alone kills it like any other
death: its file is failed with the signal's name, and a fresh worker takes the next
file (one attempt per run on both backends: docs/batch.md, "Reliability").
A second signal aborts the driver (``runtime.signals``): before it ends, each
worker is sent ``ABORT_SIGNAL`` (SIGUSR1), on which it removes the per-file lock
files it holds (``runtime.signals.before_abort``, as the driver removes its own) and
ends at once, its outputs left as their ``.partial`` files; the driver waits
``ABORT_WAIT_S`` in all for them, and a worker still running then dies with it.

How many (``auto_jobs``): on a CPU, one worker per two cores. A job is already
two-way parallel (the pipeline runs its forward pass on one core while decoding,
the in-order rest and H.264 encoding take the other; see
``camvideo.runtime.workers``), so one worker per core would put two busy threads
on each core; on 2 cores ``--jobs 2`` measured the same frames per second as
``--jobs 1`` while the files ran (5.9 and 5.9, medians of two interleaved rounds of
12 files, ``bench/batch.py``) for twice the memory. On a GPU: one worker (the GPU
is the shared resource and each process would hold its own context; not measured
here, where there is no GPU: try ``--jobs 2`` to overlap decoding and encoding).
Never more workers than files, nor than the memory allows (~1 GiB each).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from camvideo.batch.job import JobOptions, JobRunner, Reporter, failed, release_dead_locks, worker_name
from camvideo.batch.plan import Job
from camvideo.errors import CamvideoError, describe

log = logging.getLogger(__name__)

MAX_JOBS = 64
WORKER_MEMORY = 1 << 30  # resident bytes of one worker (lite0, 640x360: peak ~0.8 GiB measured), rounded up
JOIN_S = 15.0
SHARED_SIGNAL_S = 1.0  # how long a worker's SIGTERM waits to see whether the parent is stopping too
ABORT_SIGNAL = getattr(signal, "SIGUSR1", None)  # the driver aborts: a worker removes its locks and ends
ABORT_WAIT_S = 1.0  # how long an aborting driver waits for its workers, in all


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def auto_jobs(files: int, device: str = "auto", cores: int | None = None) -> int:
    """The default of ``--jobs``: one worker per two cores on a CPU, one on a GPU,
    at most one per file and what the memory allows (see the module's docstring)."""
    cores = cores or os.cpu_count() or 1
    if device.startswith("cuda") or (device == "auto" and _has_cuda()):
        jobs = 1
    else:
        jobs = max(1, cores // 2)
    memory = _available_memory()
    if memory:
        jobs = min(jobs, max(1, memory // WORKER_MEMORY))
    return max(1, min(jobs, files, MAX_JOBS))


def _has_cuda() -> bool:
    # the parent does not import torch: an NVIDIA device node says as much
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of ``jobs`` workers: the cores shared out, at least one."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, jobs))


# -- the worker process ---------------------------------------------------------

def _send(conn, message) -> bool:
    try:
        conn.send(message)
        return True
    except (OSError, EOFError, ValueError):  # the parent is gone
        return False


def _die_with_parent() -> None:
    """A worker ends with its driver, even one killed with SIGKILL: no orphan goes on
    to rename a file's ``.partial`` outputs after the driver (and its lock) is gone.
    Linux: the kernel sends SIGKILL (``PR_SET_PDEATHSIG``); elsewhere the pipe to the
    parent closing ends the worker between files."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the prctl
        os._exit(1)


def _serve(conn, stop, options: JobOptions, log_level: int) -> None:
    """A worker's life: load the model, then run the jobs the parent sends until None.
    ``stop``: the read end of the parent's stop pipe (ready once the parent closes its end)."""
    from camvideo.runtime.signals import abort_now

    _die_with_parent()
    logging.basicConfig(level=log_level, format=f"%(levelname)s %(name)s [worker {os.getpid()}]: %(message)s")
    own_stop = threading.Event()

    def on_signal(signum, frame):
        if _stopped(stop, SHARED_SIGNAL_S):  # the parent was signalled too: finish the file in hand
            own_stop.set()
            return
        signal.signal(signum, signal.SIG_DFL)  # sent to this worker alone: die of it, the parent records it
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the parent decides
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    if ABORT_SIGNAL is not None:  # the driver aborts: this worker's lock files go, and it ends at once
        signal.signal(ABORT_SIGNAL, lambda signum, _frame: abort_now(128 + signum))
    runner = JobRunner(options)
    try:
        runner.load()
    except Exception as exc:  # noqa: BLE001 - every worker would fail alike: the batch stops
        _send(conn, ("fatal", describe(exc)))
        return
    if not _send(conn, ("ready", worker_name(), runner.load_s)):
        return
    while not own_stop.is_set():
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if not _send(conn, ("taken", job.index)):
            return

        def progress(frames, total, index=job.index):
            if not _send(conn, ("progress", index, frames, total)):
                own_stop.set()

        result = runner.run(job, lambda: own_stop.is_set() or _stopped(stop), progress)
        if not _send(conn, ("result", result)):
            return


def _stopped(stop, timeout: float = 0.0) -> bool:
    """Has the parent closed its end of the stop pipe (or died)? Waits up to ``timeout`` s."""
    try:
        return stop.poll(timeout)
    except (OSError, ValueError):  # closed here: as good as stopped
        return True


# -- the parent ---------------------------------------------------------------

@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: object
    name: str = ""
    ready: bool = False
    job: Job | None = None
    taken: bool = False  # the worker has received ``job`` (else it goes back to the queue if the worker dies)
    frames: int = 0
    started: float = 0.0
    dead: bool = False


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended, for the file it was processing."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return f"the worker process was killed ({name}: out of memory, or killed by hand) while processing this file"
        if name in ("SIGTERM", "SIGHUP", "SIGINT"):
            return f"the worker process was stopped by {name} (sent to it alone) while processing this file"
        return f"the worker process crashed ({name}) while processing this file"
    return f"the worker process exited (status {exitcode}) while processing this file"


class LocalPool:
    """``jobs`` worker processes running ``JobRunner`` with ``options``; a context manager.

    ``run(jobs, reporter, stop)`` hands the files out one at a time, reports from the
    calling thread as they start, progress and finish, and returns when every file
    has a result or, after ``stop`` is set, when the files in flight are finalized.
    """

    def __init__(self, options: JobOptions, jobs: int, *, log_level: int = logging.WARNING) -> None:
        if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= MAX_JOBS:
            raise ValueError(f"jobs must be an int in 1..{MAX_JOBS}, got {jobs!r}")
        self.options = options
        self.jobs = jobs
        self.log_level = log_level
        self._context = multiprocessing.get_context("spawn")
        self._stop, self._stop_writer = self._context.Pipe(duplex=False)  # closing the writer stops the workers
        self._stopping = False
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._forget_abort = None  # takes back the abort's message to the workers
        self._fatal = False  # a worker could not load the model: the others end by themselves

    def _spawn(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._stop, self.options, self.log_level),
                                        name="camvideo-batch-worker", daemon=True)
        process.start()
        child.close()
        self._workers.append(_Worker(process, parent))

    def run(self, jobs: Sequence[Job], reporter: Reporter, stop: threading.Event) -> None:
        pending = deque(jobs)
        for _ in range(min(self.jobs, len(pending))):
            self._spawn()
        stopping = False
        while True:
            if stop.is_set() and not stopping:
                stopping = True
                self._stop_all()  # the workers finalize the files in hand
            busy = [w for w in self._workers if w.job is not None]
            if not busy and (stopping or not pending):
                return
            if not self._workers:
                raise CamvideoError("no worker process left to run the files")
            wait([w.conn for w in self._workers] + [w.process.sentinel for w in self._workers], timeout=0.25)
            for worker in list(self._workers):
                self._drain(worker, reporter)
                if worker.dead or not worker.process.is_alive():
                    if (back := self._bury(worker, reporter)) is not None:
                        pending.appendleft(back)
                    if pending and not stopping and len(self._workers) < min(self.jobs, len(pending) + len(busy)):
                        self._spawn()
                    continue
                if worker.ready and worker.job is None and pending and not stopping:
                    job = pending.popleft()
                    if _send(worker.conn, job):
                        worker.job, worker.taken, worker.frames, worker.started = job, False, 0, time.time()
                        reporter.started(job, worker.name)
                    else:
                        pending.appendleft(job)
                        worker.dead = True

    def _drain(self, worker: _Worker, reporter: Reporter) -> None:
        while not worker.dead:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.dead = True
                return
            kind = message[0]
            if kind == "ready":
                worker.ready, worker.name = True, message[1]
                log.debug("worker %s ready (model loaded in %.1f s)", message[1], message[2])
            elif kind == "taken" and worker.job is not None and message[1] == worker.job.index:
                worker.taken = True
            elif kind == "fatal":
                self._fatal = True
                raise CamvideoError(message[1])
            elif kind == "progress" and worker.job is not None and message[1] == worker.job.index:
                worker.frames = message[2]
                reporter.progress(worker.job, message[2], message[3])
            elif kind == "result":
                worker.job = None
                reporter.finished(message[1])

    def _stop_all(self) -> None:
        """Close the stop pipe's write end: every worker's read end polls ready."""
        self._stopping = True
        self._stop_writer.close()

    def _bury(self, worker: _Worker, reporter: Reporter) -> Job | None:
        """Record a dead worker's file as failed; the job it never received is returned
        (to run on another worker: it was not attempted)."""
        worker.process.join(JOIN_S)
        code = worker.process.exitcode
        self._workers.remove(worker)
        worker.conn.close()
        if worker.job is not None and not worker.taken:
            log.info("worker %s ended (%s) before taking %s: it goes to another", worker.process.pid, code,
                     worker.job.source)
            return worker.job
        if worker.job is not None:
            log.warning("worker %s died (%s) on %s", worker.name or worker.process.pid, code, worker.job.source)
            job, worker.job = worker.job, None
            release_dead_locks(job)  # first: a reporter that fails (a full disk) leaves no stale lock
            reporter.finished(failed(job, death_reason(code), frames=worker.frames,
                                     worker=worker.name, started=worker.started))
        elif not worker.ready and not self._stopping:
            self._start_failures += 1
            if self._start_failures >= 3:
                raise CamvideoError(f"worker processes end before their model is loaded ({death_reason(code)}); "
                                    "run with -v to see why")
        return None

    def _abort_workers(self) -> None:
        """The driver aborts (a second signal): tell every worker (``ABORT_SIGNAL``: it
        removes the lock files it holds and ends), and wait ``ABORT_WAIT_S`` in all."""
        if ABORT_SIGNAL is None:
            return
        for worker in self._workers:
            try:
                os.kill(worker.process.pid, ABORT_SIGNAL)
            except (OSError, TypeError):  # gone already, or not started
                pass
        deadline = time.monotonic() + ABORT_WAIT_S
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))

    def close(self, abort: bool = False) -> None:
        """Ask every worker to end (``abort``: kill them) and join them; the lock files of
        a killed worker's file in hand removed once free (``release_dead_locks``)."""
        if self._forget_abort is not None:
            self._forget_abort()
            self._forget_abort = None
        for worker in self._workers:
            if abort:
                worker.process.kill()
            else:
                _send(worker.conn, None)
        deadline = time.monotonic() + JOIN_S
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                log.warning("worker %s did not end; killing it", worker.process.pid)
                worker.process.kill()
                worker.process.join(JOIN_S)
            if worker.job is not None and not worker.process.is_alive():
                release_dead_locks(worker.job)
            worker.conn.close()
        self._workers.clear()
        self._stop_writer.close()
        self._stop.close()

    def __enter__(self) -> LocalPool:
        from camvideo.runtime.signals import before_abort

        self._forget_abort = before_abort(self._abort_workers)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # an exception on its way: no waiting, except after a model that cannot load (the
        # other workers fail alike and end by themselves, bounded: killed, a worker would
        # leave its semaphores (tqdm's lock) for the resource tracker to warn of)
        self.close(abort=exc_type is not None and not self._fatal)
