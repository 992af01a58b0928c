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

Connecting to an address where nothing listens would make Ray retry for minutes;
``RaySession`` first opens a TCP connection to it and fails within
``PROBE_TIMEOUT_S`` with a message that says what to check. A cluster with token
authentication (on by default since Ray 2.60) that refuses this process's token
would make ``ray.init`` retry for ~20 s: ``check_token`` asks its GCS once first
and fails at once with a line that says which variables to set.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from camvideo import __version__
from camvideo.batch.job import BackendLost, JobOptions, JobRunner, Reporter, failed, worker_name
from camvideo.batch.plan import Job
from camvideo.batch.storage import is_url
from camvideo.errors import CamvideoError, describe, reason

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0
TASK_RETRIES = 0  # one attempt per run, on both backends: a worker's death fails its file
START_TIMEOUT_S = 300.0  # for the first actor to load its model (resources, a node joining)
PROGRESS_EVERY_S = 0.5
HEAD_CHECK_S = 1.0  # how often the driver checks that the head's GCS still answers (a TCP connect)
HEAD_MISSES = 3  # checks in a row without an answer: the cluster is lost (~3 s, well before Ray's 60 s)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise CamvideoError("--ray needs Ray: pip install 'camvideo[ray]'") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """``CamvideoError`` unless something accepts a TCP connection at ``address`` (host:port)."""
    target = _host_port(address)
    if target is None:
        raise CamvideoError(f"--ray {address}: not an address; give HOST:PORT of the cluster's head "
                            "(its `ray start --head --port`), auto (RAY_ADDRESS) or local")
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        raise CamvideoError(f"--ray {address}: no Ray cluster answers there ({reason(exc)}); start one with "
                            "`ray start --head --port PORT` on the head node, or check the address "
                            "(--ray local runs one on this machine for the run)") from None


TOKEN_HELP = ("RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN, in a file named by "
              "RAY_AUTH_TOKEN_PATH, or in ~/.ray/auth_token (`ray get-auth-token` on the head prints it)")


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 to /dev/null for the block (C++ libraries write there directly)."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def check_token(address: str) -> None:
    """``CamvideoError`` at once if the GCS at ``address`` (host:port, answering TCP)
    refuses the token ``ray.init`` would send, or none (Ray would retry ~20 s)."""
    try:
        from ray._private.authentication.authentication_token_setup import ensure_token_if_auth_enabled
        from ray._raylet import AuthenticationMode, InnerGcsClient, get_authentication_mode
        from ray.exceptions import AuthenticationError
    except ImportError:  # another Ray: its own connect tells
        return
    try:
        ensure_token_if_auth_enabled(None, create_token_if_missing=False)  # else Ray aborts the process
    except AuthenticationError:
        raise CamvideoError(f"--ray {address}: RAY_AUTH_MODE=token but no token was found; set {TOKEN_HELP}") from None
    try:
        with _quiet_stderr():  # Ray's C++ logs each refusal there: the error line says it once
            # the cluster ID, asked with the token ray.init would send (GcsClient waits 40 s on a non-Ray port)
            InnerGcsClient.standalone(address, None, int(PROBE_TIMEOUT_S * 1000))
    except AuthenticationError:
        sent = "refused the token given here" if get_authentication_mode() == AuthenticationMode.TOKEN else \
            "no token is sent from here"
        raise CamvideoError(f"--ray {address}: the cluster uses token authentication and {sent}; "
                            f"set {TOKEN_HELP}") from None
    except Exception:  # noqa: BLE001 - not about the token: ray.init's own error tells
        return


def resolve(address: str) -> str:
    """``auto`` -> ``RAY_ADDRESS``, else the cluster ``ray start`` last started on this
    machine; anything else as given."""
    if address != "auto":
        return address
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env:
        return env
    _import_ray()
    try:
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address("auto")
    except Exception:  # noqa: BLE001 - Ray's own look-up failed: nothing found
        found = None
    if not found:
        raise CamvideoError("--ray auto: RAY_ADDRESS is not set and no `ray start` cluster was found on this "
                            "machine; give --ray HOST:PORT, or --ray local")
    return found


LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _local_only(ray) -> None:
    """Make the Ray instance ``--ray local`` starts listen on 127.0.0.1 only.

    Ray (2.60) turns a node address of 127.0.0.1 into the host's own and binds its GCS,
    raylet and workers to every interface, unless its "single machine" switch is off
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what it does on macOS and Windows): set in
    the environment its processes inherit, and in the constant this process read at
    import. Checked by reading the listening sockets of the processes started
    (tests/batch/test_ray_local.py)."""
    os.environ[LOCAL_ONLY_ENV] = "0"
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def _gcs_address(ray) -> str | None:
    try:
        return ray._private.worker.global_worker.node.gcs_address
    except AttributeError:
        return None


class RaySession:
    """A connection to a cluster (or a Ray instance started for the run); a context manager."""

    def __init__(self, address: str, *, num_cpus: int | None = None) -> None:
        self.address = address
        self.ray = _import_ray()
        began = time.monotonic()
        kwargs = {"logging_level": logging.WARNING, "include_dashboard": False} if address == "local" else \
            {"logging_level": logging.WARNING}
        if address == "local":  # a new instance, even where RAY_ADDRESS names a cluster
            _local_only(self.ray)
            kwargs.update(address="local", num_cpus=num_cpus or os.cpu_count() or 1)
        else:
            target = resolve(address)
            probe(target)
            if "://" not in target:
                check_token(target)
            kwargs["address"] = target
        try:
            self.ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds: one clear line
            raise CamvideoError(f"--ray {address}: cannot connect ({describe(exc)}); a cluster with token "
                                f"authentication needs {TOKEN_HELP}") from None
        self.start_s = time.monotonic() - began  # what Ray costs before the first file
        self.gcs_address = _gcs_address(self.ray) or kwargs.get("address", "")

    def head_answers(self) -> bool:
        """Whether the head's GCS accepts a TCP connection (within ``HEAD_CHECK_S``)."""
        target = _host_port(self.gcs_address)
        if target is None:
            return True  # nothing to check against: Ray's own errors tell
        try:
            with socket.create_connection(target, timeout=HEAD_CHECK_S):
                return True
        except OSError:
            return False

    def resources(self) -> dict[str, float]:
        return dict(self.ray.cluster_resources())

    def close(self) -> None:
        if self.ray.is_initialized() and not self.lost:
            self.ray.shutdown()
        # a lost cluster: no shutdown (it would wait on the GCS); the process ends soon after

    lost = False  # set by RayPool when the head stopped answering

    def __enter__(self) -> RaySession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
                result = failed(job, f"its Ray worker died while processing it ({reason(exc)})",
                                worker=slot.name, started=slot.started, frames=slot.frames)
                if self.session.head_answers():  # else the next head check ends the run
                    self._replace_if_dead(slot)
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
            if slot.job is not None:
                reporter.finished(failed(slot.job, f"{where} while it was processed; its outputs are partial",
                                         frames=slot.frames, worker=slot.name, started=slot.started))
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
        for slot in self._slots:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(slot.handle, no_restart=True)
        self._slots.clear()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

