"""One job in a worker: the model loaded once, then one file after another.

``JobRunner`` is what a worker process (``camvideo.batch.local``) or a Ray actor
(``camvideo.batch.ray``) holds. ``run(job)`` is a single ``camvideo process``
of that file: the same ``Pipeline``, ``FrameLocalizer``, ``FrameAnnotator``,
``Recorder`` and exporter, with the model this runner loaded. It never raises for
a bad file: everything that goes wrong becomes a ``failed`` ``JobResult`` with a
one-line reason (``camvideo.errors.describe``), so a worker goes on to the next
file. A file that is damaged (frames that do not decode: the source lists them
in ``damage`` and goes on past them) is done, as a single ``camvideo process`` of
it is: its outputs hold every frame that decoded, under their final names, and the
result's ``damage`` names the stretches lost (the summary's ``damaged``); a rerun
skips it like any done file.

Outputs are written under ``.partial`` names and renamed when finished (the
``Recorder`` and the exporters do it themselves); a stop request (``should_stop``)
closes both at the last frame written, playable, and keeps their ``.partial``
names (a part of a file never takes its output's name; the rerun redoes the file
and keeps them as ``NAME.partial-N.EXT``, as a single ``camvideo process`` does),
and the result is ``interrupted``. A
write error or a failed run renames nothing: an earlier attempt's complete outputs
stay as they were, the ``.partial`` files keep what was written, and the result's
``outputs`` lists only the files this run completed (the summary never shows an
old run's outputs as the new one's). Each output is locked while the job runs
(``OutputLock.for_file``): a ``camvideo process -o`` writing the same file fails the
job, naming that run, before its ``.partial`` files are touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from camvideo import is_exported
from camvideo.batch.plan import Job
from camvideo.errors import CamvideoError, OutputError, describe
from camvideo.settings import LocalizeSettings, ModelOptions, OverlaySettings
from camvideo.video.recorder import partial_path

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class JobOptions:
    """How every job of a run is processed: picklable, the same on every worker."""

    model: ModelOptions = ModelOptions()
    settings: LocalizeSettings = LocalizeSettings()
    overlay: OverlaySettings = OverlaySettings()
    batch_size: int | None = None  # None: camvideo.runtime.workers.auto_batch's
    workers: int | None = None  # forward passes side by side in one job (None: the pipeline's auto)
    threads: int | None = None  # torch intra-op threads of the worker process (None: torch's default)
    hud: bool = False
    max_frames: int | None = None
    codec: str = "auto"
    preset: str = "superfast"  # camvideo.video.recorder.PRESET
    audio: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelOptions):
            raise TypeError(f"model must be a ModelOptions, got {type(self.model).__name__}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be None or at least 1, got {self.batch_size}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be None or at least 1, got {self.threads}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be None or at least 1, got {self.max_frames}")

    def config_id(self) -> str:
        """A short hash of every option that changes the outputs (not the device, the
        runtime, the threads or the batch size) and of the contents of the weights,
        checkpoint and labels files given (and of an exported graph): a rerun with other
        settings, a retrained checkpoint or edited labels at the same path redoes the files."""
        parts = {"model": _hashed(self.model), "settings": repr(self.settings), "overlay": repr(self.overlay), "hud": self.hud,
                 "max_frames": self.max_frames, "codec": self.codec, "preset": _hashed_preset(self.preset),
                 "audio": self.audio}
        contents = _file_digests(self.model)
        if contents:  # none given: the key it always was (an archive made before resumes)
            parts["contents"] = contents
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _hashed_preset(preset: str) -> str:
    """The default x264 preset (superfast at CRF 24) hashes as veryfast (at CRF 23),
    the default before it: the two make recordings of the same size and quality
    (docs/measuring.md), so an archive made with either resumes instead of being redone."""
    return "veryfast" if preset == "superfast" else preset


def _file_digests(model: ModelOptions) -> dict[str, str]:
    """SHA-256 of each weights, checkpoint and labels file given, and of an exported
    graph's files (``--model FILE.onnx``, or ``FILE.xml`` with its ``.bin``); those
    that exist (a missing one fails when the model loads)."""
    digests = {}
    files = {name: getattr(model, name) for name in ("weights", "checkpoint", "labels")}
    if is_exported(model.model):
        files["graph"] = model.model
        if str(model.model).lower().endswith(".xml"):
            files["graph_bin"] = str(Path(model.model).with_suffix(".bin"))
    for name, path in files.items():
        if path is None or not os.path.isfile(path):
            continue
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            continue  # unreadable: the model's load says so
        digests[name] = digest.hexdigest()
    return digests


def _hashed(model: ModelOptions) -> dict:
    """The model options as ``config_id`` has hashed them since they were the command
    line's (option, value) pairs, so that an archive made before resumes: every option
    but the device, the runtime (the same outputs on either) and the trust given a
    checkpoint (it loads or it does not), ``mean`` and ``std`` as
    the text R,G,B (their shortest spelling: "0.5,0.5,0.5"; other spellings of the
    same numbers, "0.50", "1" for 1.0, hashed as typed before, redo their files once)."""
    fields = {field.name: getattr(model, field.name) for field in dataclasses.fields(model)}
    record = {key: value for key, value in fields.items() if key not in ("device", "runtime", "trust_checkpoint")}
    if not record.get("bgr"):  # added with exported graphs: archives from before hash without it
        record.pop("bgr", None)
    if record.get("precision") == "auto":  # what it runs here: archives made before resume where it is f32
        from camvideo.runtime.quantize import auto_precision

        record["precision"] = auto_precision()
    if record.get("precision") == "f32":  # added with --precision: f32 hashes as it did before
        record.pop("precision", None)
    for key in ("mean", "std"):
        if record[key] is not None:
            record[key] = ",".join(repr(v) for v in record[key])
    return record


@dataclass(frozen=True)
class JobResult:
    """What became of one job: the summary's line for it (``to_record``)."""

    job: Job
    status: str  # done, failed or interrupted
    frames: int = 0
    seconds: float = 0.0  # from opening the source to the outputs finished
    outputs: tuple[str, ...] = ()  # the final paths this run completed
    reason: str | None = None
    worker: str = ""  # host:pid of the process that ran it
    started: float = 0.0  # time.time()
    finished: float = 0.0
    segments: tuple[dict, ...] = ()  # a file run in segments: each one's figures (camvideo.batch.segments)
    sizes: tuple[int, ...] = ()  # the outputs' sizes where they are not local files (camvideo.batch.storage)
    damage: str | None = None  # a done file's frames that could not be decoded (camvideo.video.describe_damage)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_record(self, config: str) -> dict:
        from camvideo.batch.summary import timestamp

        job = self.job
        return {"source": job.source, "rel": job.rel, "status": self.status, "frames": self.frames,
                "seconds": round(self.seconds, 3), "fps": round(self.fps, 2), "outputs": list(self.outputs),
                "bytes": list(self.sizes) if self.sizes else [_size(p) for p in self.outputs],
                "reason": self.reason, "size": job.size, "mtime_ns": job.mtime_ns, "config": config,
                "worker": self.worker, "started": timestamp(self.started), "finished": timestamp(self.finished),
                **({"damaged": self.damage} if self.damage and self.status == "done" else {}),
                **({"segments": list(self.segments)} if self.segments else {})}


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


class Reporter(Protocol):
    """What a backend tells the driver, from the driver's own thread, as jobs go."""

    def started(self, job: Job, worker: str) -> None: ...

    def progress(self, job: Job, frames: int, total: int | None) -> None: ...

    def finished(self, result: JobResult) -> None: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class BackendLost(CamvideoError):
    """The backend went away mid-run (a Ray cluster's head lost): every file already
    has its record (failed with why, or not started); the driver prints the closing
    table, then this one line, and exits 2."""


def earlier_attempts(records: Iterable[dict]) -> dict[str, int]:
    """rel -> how many runs tried the file since its last ``done`` line (``failed``
    and ``interrupted`` lines in the summary ``records``); the summary's ``attempts``
    is this plus one."""
    counts: dict[str, int] = {}
    for record in records:
        rel, status = record.get("rel"), record.get("status")
        if isinstance(rel, str) and status in ("failed", "interrupted"):
            counts[rel] = counts.get(rel, 0) + 1
        elif isinstance(rel, str) and status == "done":
            counts.pop(rel, None)
    return counts


def failed(job: Job, why: str, *, frames: int = 0, worker: str = "", started: float | None = None) -> JobResult:
    """A failed result made outside the job's own process (a dead worker, a lost task)."""
    now = time.time()
    return JobResult(job, "failed", frames=frames, reason=why, worker=worker, started=started or now, finished=now)


class JobRunner:
    """Holds the model for one process and runs jobs one at a time."""

    def __init__(self, options: JobOptions) -> None:
        if not isinstance(options, JobOptions):
            raise TypeError(f"options must be a JobOptions, got {type(options).__name__}")
        self.options = options
        self.model = None
        self.forward = None  # the forward pass --runtime picks (None: torch's), made once with the model
        self.load_s = 0.0
        self._frames = 0

    def load(self) -> None:
        """Load the model (once); ``CamvideoError`` when it cannot be loaded."""
        if self.model is not None:
            return
        from camvideo.runtime.allocator import tune_allocator

        tune_allocator()  # process-wide, as the command line's entry point does it
        import torch

        from camvideo.runtime.loading import forward_for, load_model_from

        if self.options.threads is not None:
            torch.set_num_threads(self.options.threads)
        t0 = time.monotonic()
        model = load_model_from(self.options.model)
        # The runtime (OpenVINO for exact CAM on the CPU): made once, for every file. Its
        # latency mode at the worker's threads when they are set (workers share the
        # cores), else its throughput mode, as `camvideo process` runs a file.
        threads = self.options.threads
        self.forward = forward_for(model, self.options.model, mode="throughput" if threads is None else "latency",
                                   threads=threads)
        self.model = model
        self.load_s = time.monotonic() - t0
        self._warm = False

    def _warm_up(self, job: Job) -> None:
        """Once per process, before its first file, at that file's frame size (a
        size the runtime has not seen makes it compile again: 64x64 first cost a
        second OpenVINO compile): the batch-norm fold (the first ``FrameLocalizer``
        does it to the model, in place) and the first forward pass. Measured on the
        shared 2-core machine: a worker's first 20-frame file took 16.8 s without a
        warm-up, the next ones 2.8 s; with one, 3.6 s and 2.2-2.8 s."""
        if getattr(self, "_warm", True):
            return
        self._warm = True
        import numpy as np

        from camvideo.batch.segments import frame_size
        from camvideo.runtime.localizer import FrameLocalizer

        width, height = frame_size(job.source) if job.kind == "video" else (64, 64)
        localizer = FrameLocalizer(self.model, self.options.settings, forward=self.forward)
        localizer([np.zeros((height, width, 3), np.uint8)], [0], [0.0])

    def run(self, job: Job, should_stop: Callable[[], bool] = lambda: False,
            on_progress: Callable[[int, int | None], None] | None = None) -> JobResult:
        """Process ``job``; never raises for a bad file (a failed result instead). A job in
        object storage runs on local copies (``camvideo.batch.storage.run_staged``)."""
        from camvideo.batch import storage

        if storage.remote(job):
            return storage.run_staged(self._run, job, should_stop, on_progress)
        return self._run(job, should_stop, on_progress)

    def _run(self, job: Job, should_stop: Callable[[], bool] = lambda: False,
             on_progress: Callable[[int, int | None], None] | None = None) -> JobResult:
        started, t0 = time.time(), time.monotonic()
        worker = worker_name()
        if job.kind == "missing":
            return failed(job, "no such file or folder", worker=worker, started=started)
        frames, status, why, damage = 0, "failed", None, ""
        self._frames, self._outputs = 0, ()
        try:
            self.load()
            self._warm_up(job)
            with _locked(job):  # a single-file run writing one of them fails this job, not the other way
                _keep_partials(job)
                frames, stopped, damage = self._process(job, should_stop, on_progress)
            status = "interrupted" if stopped else "done"  # damaged and done: every frame that decodes is kept
        except CamvideoError as exc:
            why = describe(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. out of (GPU) memory: this file fails, the worker goes on
            log.debug("%s failed", job.source, exc_info=True)
            why = describe(exc)
        frames = frames or self._frames  # a failure part-way: what was written
        if why and why.startswith(f"{job.source}: "):  # the summary line names the source already
            why = why[len(job.source) + 2:]
        return JobResult(job, status, frames=frames, seconds=time.monotonic() - t0, outputs=self._outputs, reason=why,
                         worker=worker, started=started, finished=time.time(),
                         damage=damage if status == "done" and damage else None)

    def _process(self, job: Job, should_stop, on_progress) -> tuple[int, bool, str]:
        """Run the whole source (``run_source``): (frames written, stopped by request,
        what of the source could not be decoded: "" when nothing)."""
        from camvideo.annotate import FrameAnnotator
        from camvideo.runtime.localizer import FrameLocalizer
        from camvideo.runtime.run import RunRequest, run_source
        from camvideo.video.sources import describe_damage

        options = self.options
        for path in job.outputs:
            if not os.path.isdir(os.path.dirname(path)):
                raise OutputError(f"{os.path.dirname(path)}: no such folder on {socket.gethostname()} (on a cluster "
                                  "the output folder must be on a filesystem every node sees)")
        source, trim = job.source, None
        if job.segment is not None:  # a stretch of the file: its warm-up frames are not written
            from camvideo.batch.segments import SegmentSource, trimmed

            source, trim = SegmentSource(job.source, job.segment), trimmed(job.segment.first)
        request = RunRequest(
            source, lambda info: FrameLocalizer(self.model, options.settings, forward=self.forward),
            (FrameAnnotator(options.overlay),), recording=Path(job.recording) if job.recording else None,
            export=Path(job.export) if job.export else None, hud=options.hud, batch_size=options.batch_size,
            workers=options.workers, max_frames=options.max_frames, codec=options.codec, preset=options.preset,
            audio=options.audio and job.segment is None, wrap_output=trim, partial_when_stopped=True,
            protect_inputs=True)
        last = [0.0]

        def progress(frames: int, total: int | None) -> None:
            self._frames = frames  # a failure part-way: what was written
            if on_progress is not None and time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                on_progress(frames, total)

        report = run_source(request, should_stop, progress)
        self._frames = report.frames if trim is None else max(report.recorded, report.exported)
        self._outputs = tuple(str(p) for p in report.outputs)
        if on_progress is not None:
            on_progress(report.frames, report.source.frame_count)
        if report.sink_errors:
            raise _naming_kept(report.sink_errors[0], report.kept)
        if report.error is not None:
            raise report.error
        return self._frames, report.stop == "requested", describe_damage(report.damage)


def _naming_kept(error: CamvideoError, kept: Sequence[Path]) -> CamvideoError:
    """The output error a job fails with, naming the ``.partial`` files the run kept
    (a file's reason says where its frames are, as ``camvideo process`` says it)."""
    unnamed = [path.name for path in kept if f"kept in {path.name}" not in str(error)]
    if not unnamed:
        return error
    return OutputError(f"{error}; what was written is kept in {', '.join(unnamed)}")


def _locked(job: Job) -> contextlib.ExitStack:
    """``job``'s outputs locked (``OutputLock.for_file``) in folders that exist (a missing
    one is ``_process``'s error): ``OutputError`` naming the holder when another run writes one."""
    from camvideo.batch.lock import OutputLock

    stack = contextlib.ExitStack()
    with stack:
        for path in job.outputs:
            if os.path.isdir(os.path.dirname(path) or "."):
                stack.enter_context(OutputLock.for_file(path, f"camvideo process {job.source}", "--output-dir"))
        return stack.pop_all()


def release_dead_locks(job: Job) -> None:
    """The lock files of ``job``'s outputs that its dead worker left (SIGKILL, a Ray actor
    lost; the lock itself died with the process) removed by the driver as it records the
    file failed, so a run that ended leaves none behind; one that a live run holds stays
    (``lock.remove_if_free``)."""
    from camvideo.batch.lock import remove_if_free

    for path in output_locks(job):
        remove_if_free(path)


def output_locks(job: Job) -> list[Path]:
    """The lock files of ``job``'s outputs (``OutputLock.for_file``), those in a folder
    that is there: outputs in object storage have none."""
    from camvideo.batch.lock import OutputLock

    return [OutputLock.for_file(path).path for path in job.outputs if os.path.isdir(os.path.dirname(path) or ".")]


def _keep_partials(job: Job) -> None:
    """An earlier attempt's ``.partial`` files of ``job`` out of this run's way: a whole
    file's are kept as ``NAME.partial-N.EXT`` (``video.outputs.set_aside``; what a stopped
    run wrote plays, and a single ``camvideo process`` keeps it so too); a segment's, a
    piece in the hidden folder that the join replaces, are removed. Its final outputs stay
    until this run's complete ones replace them (an earlier complete output is never lost
    to a run that fails)."""
    from camvideo.video.outputs import set_aside

    for path in job.outputs:
        partial = partial_path(Path(path))
        if job.segment is None:
            kept = set_aside(partial, job.source)
            if kept is not None:
                log.info("%s, left by an earlier run that stopped, is kept as %s", partial, kept.name)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)
