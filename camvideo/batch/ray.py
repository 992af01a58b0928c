"""Jobs on a Ray cluster (``--ray ADDRESS | auto | local``), one actor call per file.

Each actor (``BatchActor``) loads the model once and processes one file per
``run`` call, so the model stays loaded across files; the driver keeps one call
in flight per actor and hands the next file to whichever actor is free, so
results stream back as files finish. An actor reserves ``--cpus-per-job`` CPUs
and ``--gpus-per-job`` GPUs (fractions allowed: Ray shares a GPU between actors
that ask for a part of it).

Failures: one attempt per run, as on the local pool (docs/batch.md,
"Reliability"): an actor whose process or node dies fails the file it was running,
with how it died (``max_task_retries=0``), and Ray restarts the actor for the next
file; the same command again tries the failed files again. A bad file is not an
exception: ``JobRunner.run`` returns a failed result, which is reported.

A cluster needs (README, "Many files"): the same camvideo (and torch) version on
every node, checked when the actors start; and the inputs and the output folder
on a filesystem every node sees at the same path (a node that does not see them
fails those files with a reason that says so). ``--ray local`` starts a Ray
instance for the run on this machine and stops it at the end.

Connecting (the address checked, token authentication, ``--ray local``) is
``camvideo.batch.ray_session``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from camvideo import __version__
from camvideo.batch.job import (
    BackendLost,
    JobOptions,
    JobRunner,
    Reporter,
    failed,
    output_locks,
    release_dead_locks,
    worker_name,
)
from camvideo.batch.plan import Job
from camvideo.batch.ray_session import HEAD_CHECK_S, RaySession
from camvideo.batch.storage import is_url
from camvideo.errors import CamvideoError, describe, reason

log = logging.getLogger(__name__)

TASK_RETRIES = 0  # one attempt per run, on both backends: a worker's death fails its file
START_TIMEOUT_S = 300.0  # for the first actor to load its model (resources, a node joining)
PROGRESS_EVERY_S = 0.5
ABORT_WAIT_S = 1.0  # how long an aborting driver waits for its busy actors' lock files to come free
HEAD_MISSES = 3  # checks in a row without an answer: the cluster is lost (~3 s, well before Ray's 60 s)


_UNAVAILABLE = re.compile(r"The actor [0-9a-f]+ is unavailable: (?:The actor is temporarily unavailable: )?(.*?)\.? "
                          r"The task may or may not have been executed on the actor\.?")


def actor_death(exc: BaseException, limit: int = 160) -> str:
    """How Ray says an actor was lost, for a summary line: its first line without the
    actor's id and Ray's "may or may not have been executed" (``Connection reset by
    peer`` of a killed process: "its process stopped answering: ..."), cut on a word."""
    text = reason(exc, limit=2000)
    unavailable = _UNAVAILABLE.fullmatch(text)
    if unavailable:
        text = f"its process stopped answering: {unavailable[1]}"
    text = re.sub(r"\bThe actor [0-9a-f]{16,} ", "The actor ", text)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


class BatchActor:
    """A Ray actor: one ``JobRunner`` (the model loaded once) and the file in hand.

    ``run`` is one call per file; ``progress`` and ``stop`` answer while it runs
    (the actor takes two calls at once). A model that cannot load is not raised
    from ``__init__`` (Ray would log a traceback per restart): ``info`` says it."""

    def __init__(self, options: JobOptions) -> None:
        self._runner = JobRunner(options)
        self._stop = threading.Event()
        self._progress: tuple[int, int, int | None] = (-1, 0, None)
        self._error = None
        try:
            self._runner.load()
        except Exception as exc:  # noqa: BLE001 - reported by info()
            self._error = describe(exc)

    def info(self) -> dict:
        return {"version": __version__, "worker": worker_name(), "error": self._error, "load_s": self._runner.load_s}

    def run(self, job: Job):
        if self._error is not None:
            return failed(job, self._error, worker=worker_name())
        if job.kind != "missing" and not is_url(job.source) and not os.path.exists(job.source):
            return failed(job, f"{job.source}: not found on {socket.gethostname()} (a cluster needs the inputs on a "
                          "filesystem every node sees, at the same path)", worker=worker_name())
        self._progress = (job.index, 0, None)

        def progress(frames, total):
            self._progress = (job.index, frames, total)

        # once stopped, stays stopped: a stopping batch starts no file
        return self._runner.run(job, self._stop.is_set, progress)

    def progress(self) -> tuple[int, int, int | None]:
        return self._progress

    def stop(self) -> None:
        self._stop.set()


@dataclass
class _Slot:
    handle: object
    info_ref: object | None = None
    name: str = ""
    ready: bool = False
    job: Job | None = None
    run_ref: object | None = None
    progress_ref: object | None = None
    progress_at: float = 0.0
    started: float = 0.0
    frames: int = 0  # the last progress the actor reported for ``job``


def actor_count(resources: dict[str, float], files: int, cpus_per_job: float, gpus_per_job: float,
                jobs: int | None = None) -> int:
    """How many actors: ``jobs`` if given, else as many as the cluster's CPUs and GPUs
    hold at the resources of one job; at most one per file."""
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    if gpus_per_job > 0 and gpus < gpus_per_job:
        raise CamvideoError(f"--gpus-per-job {gpus_per_job:g}: the cluster has {gpus:g} GPUs")
    if cpus_per_job > cpus:
        raise CamvideoError(f"--cpus-per-job {cpus_per_job:g}: the cluster has {cpus:g} CPUs")
    if jobs is None:
        by_cpu = math.floor(cpus / cpus_per_job + 1e-9) if cpus_per_job > 0 else files
        by_gpu = math.floor(gpus / gpus_per_job + 1e-9) if gpus_per_job > 0 else files
        jobs = min(by_cpu, by_gpu)
    return max(1, min(jobs, files))


class RayPool:
    """Runs jobs on ``actors`` actors of ``session``'s cluster; a context manager
    that kills its actors on the way out (the cluster keeps running)."""

    def __init__(self, session: RaySession, options: JobOptions, actors: int, *, cpus_per_job: float = 1.0,
                 gpus_per_job: float = 0.0) -> None:
        if actors < 1:
            raise ValueError(f"actors must be at least 1, got {actors}")
        if cpus_per_job < 0 or gpus_per_job < 0:
            raise ValueError("cpus_per_job and gpus_per_job must be >= 0")
        self.ray = session.ray
        self.session = session
        self.options = options
        self._misses, self._checked = 0, 0.0
        self._forget_abort = None  # takes back the abort's action (``__enter__``)
        self._cls = self.ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_restarts=-1,
                                    max_task_retries=TASK_RETRIES, max_concurrency=2)(BatchActor)
        self._slots = [self._new_slot() for _ in range(actors)]

    def _new_slot(self) -> _Slot:
        handle = self._cls.remote(self.options)
        return _Slot(handle, info_ref=handle.info.remote())

    def _ready(self, slot: _Slot, info: dict) -> None:
        if info["error"]:
            raise CamvideoError(f"on the cluster ({info['worker']}): {info['error']}")
        if info["version"] != __version__:
            raise CamvideoError(f"camvideo {info['version']} runs on {info['worker']}, {__version__} here: every "
                                "node of the cluster needs the same camvideo version")
        slot.ready, slot.name, slot.info_ref = True, info["worker"], None

    def run(self, jobs: Sequence[Job], reporter: Reporter, stop: threading.Event) -> None:
        ray = self.ray
        pending = deque(jobs)
        began = time.monotonic()
        stopping = False
        while True:
            if stop.is_set() and not stopping:
                stopping = True
                for slot in self._slots:
                    if slot.job is not None:
                        slot.handle.stop.remote()
            if not any(s.job for s in self._slots) and (stopping or not pending):
                return
            self._check_head(pending, reporter)
            if not any(s.ready for s in self._slots) and time.monotonic() - began > START_TIMEOUT_S:
                raise CamvideoError(f"no Ray actor started within {START_TIMEOUT_S:.0f} s: does the cluster have "
                                    "the CPUs and GPUs asked for (--cpus-per-job, --gpus-per-job)?")
            for slot in self._slots:
                if slot.ready and slot.job is None and pending and not stopping:
                    job = pending.popleft()
                    slot.job, slot.started, slot.frames = job, time.time(), 0
                    slot.run_ref = slot.handle.run.remote(job)
                    reporter.started(job, slot.name)
            refs = {}
            for slot in self._slots:
                for ref in (slot.info_ref, slot.run_ref, slot.progress_ref):
                    if ref is not None:
                        refs[ref] = slot
            done, _ = ray.wait(list(refs), num_returns=1, timeout=0.25)
            if done:  # and whatever else is ready by now
                done, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
            for ref in done:
                self._handle(ref, refs[ref], reporter)
            now = time.monotonic()
            for slot in self._slots:
                if slot.job is not None and slot.progress_ref is None and now - slot.progress_at >= PROGRESS_EVERY_S:
                    slot.progress_at, slot.progress_ref = now, slot.handle.progress.remote()

    def _handle(self, ref, slot: _Slot, reporter: Reporter) -> None:
        ray = self.ray
        if ref is slot.info_ref:
            try:
                self._ready(slot, ray.get(ref))
            except ray.exceptions.RayError as exc:
                raise CamvideoError(f"a Ray actor could not start: {describe(exc)}") from None
        elif ref is slot.progress_ref:
            slot.progress_ref = None
            try:
                index, frames, total = ray.get(ref)
            except ray.exceptions.RayError:
                return  # restarting: the next poll will tell
            if slot.job is not None and index == slot.job.index:
                slot.frames = frames
                reporter.progress(slot.job, frames, total)
        elif ref is slot.run_ref:
            job, slot.job, slot.run_ref = slot.job, None, None
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                result = failed(job, f"its Ray worker died while processing it ({actor_death(exc)})",
                                worker=slot.name, started=slot.started, frames=slot.frames)
                if self.session.head_answers():  # else the next head check ends the run
                    self._replace_if_dead(slot)
                release_dead_locks(job)  # where the actor's process is gone: its locks went with it
            except ray.exceptions.RayError as exc:
                result = failed(job, describe(getattr(exc, "cause", None) or exc), worker=slot.name,
                                started=slot.started)
            else:
                slot.name = result.worker or slot.name  # a restarted actor has a new process
            reporter.finished(result)

    def _check_head(self, pending: deque, reporter: Reporter) -> None:
        """Every ``HEAD_CHECK_S``: is the head's GCS there? ``HEAD_MISSES`` in a row
        without it: record the files in flight as failed and the rest as not started,
        then ``BackendLost`` (Ray alone would end this process ~60 s later, mid-table)."""
        now = time.monotonic()
        if now - self._checked < HEAD_CHECK_S:
            return
        self._checked = now
        self._misses = 0 if self.session.head_answers() else self._misses + 1
        if self._misses < HEAD_MISSES:
            return
        self.session.lost = True
        where = f"the Ray cluster's head ({self.session.gcs_address}) stopped answering"
        for slot in self._slots:
            if slot.job is not None:  # (no frame reported: handed to an actor the loss took, maybe never begun)
                what = "while it was processed; its outputs are partial" if slot.frames else "before it reported a frame"
                reporter.finished(failed(slot.job, f"{where} {what}", frames=slot.frames, worker=slot.name,
                                         started=slot.started))
                slot.job = None
        while pending:
            reporter.finished(failed(pending.popleft(), f"not started: {where}"))
        self._slots.clear()  # nothing to kill: they went with the cluster
        raise BackendLost(f"--ray: {where} mid-run; every file is recorded in the summary (the unfinished "
                          "ones as failed); start the cluster again and run the same command to finish them")

    def _replace_if_dead(self, slot: _Slot) -> None:
        """An actor Ray gave up on is replaced by a new one (its model loads again)."""
        ray = self.ray
        try:
            ray.get(slot.handle.info.remote(), timeout=30)
        except ray.exceptions.RayError:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(slot.handle, no_restart=True)
            new = self._new_slot()
            slot.handle, slot.info_ref, slot.ready, slot.name = new.handle, new.info_ref, False, ""

    def close(self) -> None:
        if self._forget_abort is not None:
            self._forget_abort()
            self._forget_abort = None
        for slot in self._slots:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(slot.handle, no_restart=True)
        self._slots.clear()

    def _abort_actors(self) -> None:
        """The driver aborts (a second signal): the actors with a file in hand are killed
        (``ray.kill``: their process ends at once) and, within ``ABORT_WAIT_S``, the lock
        files of those files removed once free (``lock.remove_if_free``), as a local
        worker removes its own; their ``.partial`` outputs stay. Not when the head does
        not answer (``ray.kill`` would wait for it)."""
        from camvideo.batch.lock import remove_if_free

        busy = [slot for slot in self._slots if slot.job is not None]
        if not busy or not self.session.head_answers():
            return
        for slot in busy:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(slot.handle, no_restart=True)
        locks = [path for slot in busy for path in output_locks(slot.job)]
        deadline = time.monotonic() + ABORT_WAIT_S
        while locks and time.monotonic() < deadline:
            locks = [path for path in locks if os.path.lexists(path) and not remove_if_free(path)]
            if locks:
                time.sleep(0.05)

    def __enter__(self) -> RayPool:
        from camvideo.runtime.signals import before_abort

        self._forget_abort = before_abort(self._abort_actors)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

