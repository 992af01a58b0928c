"""``camvideo process`` over many files: its options and its run (``camvideo.batch``).

``camvideo process`` is a batch when it is given several sources, a folder or a
pattern with videos in it, ``--from-list``, ``--output-dir``, ``--jobs`` or
``--ray``; one file, camera, stream or folder of images alone is the single run
it always was. Every file gets its own recording and data file under
``--output-dir`` (mirroring the input tree), a line in ``DIR/camvideo-run.jsonl``
as it finishes, and the run ends with a table on stdout.

Exit status: 0 when every file is done (or skipped as complete from an earlier
run); 1 when some files failed (the others are done: see the table and the
summary); 2 for a usage error or a run that cannot start (an output folder that
cannot be written or is in use by another run, no cluster at ``--ray``, a model
that cannot load, another source's results where this run would write, a summary
that cannot be written; a run that could not start leaves the output folder as it
found it); 128 + the
signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) when a stop signal ended the run, the
files in flight finalized: the same command again finishes the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import time
from pathlib import Path

from camvideo.batch import DEFAULT_SEGMENT_S, EXPORT_FORMATS
from camvideo.cli import options as cli
from camvideo.errors import CamvideoError, printable
from camvideo.runtime.signals import say, say_line

log = logging.getLogger(__name__)

EXIT_FAILED = 1  # some files failed
DEFAULT_OUTPUT_DIR = "camvideo-out"
DEFAULT_CPUS_PER_JOB = 2.0  # a job is two-way parallel (see camvideo.batch.local)


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "many files", "several SOURCEs, a folder or pattern of videos ('archive/**/*.mp4') or --from-list: "
        "one job per video, outputs under --output-dir; exit status 1 when some files failed")
    group.add_argument("--from-list", metavar="FILE", type=cli.path_argument, help="sources, one path a line (blank lines and # comments skipped)")
    group.add_argument("--output-dir", metavar="DIR", type=cli.path_argument,
                       help=f"where each file's recording and data go, mirroring the input tree, with the run "
                       f"summary DIR/camvideo-run.jsonl (default: ./{DEFAULT_OUTPUT_DIR}); an s3://bucket/prefix URL "
                       "(and SOURCEs too) keeps the archive in object storage (pip install 'camvideo[s3]')")
    group.add_argument("--export-format", choices=EXPORT_FORMATS, default=None,
                       help="each file's per-frame data: jsonl (default), csv or none; on one file without "
                       "--export, the data goes to ./NAME.jsonl|.csv")
    group.add_argument("--no-recording", action="store_true",
                       help="write the data only, no annotated recording (on one file: --export FILE, else "
                       "./NAME.jsonl)")
    group.add_argument("--jobs", type=int, metavar="N",
                       help="files processed at once, each in its own process with the model loaded once "
                       "(default: one per two CPU cores, one on a GPU); with --ray: the number of actors "
                       "(default: as many as the cluster's resources hold)")
    group.add_argument("--segment-seconds", type=float, metavar="S", default=None,
                       help="cut a long video into stretches of about S seconds, processed by several workers "
                       "at once and joined into its one recording and data file, when workers would otherwise "
                       "idle (a file of at least 2 S, longer than its share of the run); 0 never cuts "
                       f"(default: {DEFAULT_SEGMENT_S:g})")
    group.add_argument("--dataset", metavar="DIR", type=cli.path_argument,
                       help="after the run, the per-frame data of every done file as one Parquet dataset in DIR "
                       "(one row per detection; needs pip install 'camvideo[dataset]' and --export-format jsonl)")
    group.add_argument("--overwrite", action="store_true",
                       help="redo every file (default: a rerun skips the files whose outputs are complete)")
    group.add_argument("--ray", metavar="ADDRESS",
                       help="run the jobs on a Ray cluster: HOST:PORT of its head, auto (RAY_ADDRESS), or local "
                       "(a Ray instance started for the run); needs pip install 'camvideo[ray]'")
    group.add_argument("--cpus-per-job", type=float, metavar="C",
                       help=f"with --ray: CPUs each job reserves (default: {DEFAULT_CPUS_PER_JOB:g})")
    group.add_argument("--gpus-per-job", type=float, metavar="G",
                       help="with --ray: GPUs each job reserves; a fraction shares a GPU (default: 0)")


def wants_batch(args: argparse.Namespace) -> bool:
    """Is this ``camvideo process`` a batch (see the module's docstring)?"""
    from camvideo.batch.plan import expands_to_videos
    from camvideo.batch.storage import is_url

    if args.from_list or args.output_dir or args.jobs is not None or args.ray or args.overwrite:
        return True
    if any(is_url(s) for s in args.sources):  # an object store's file: a batch into ./camvideo-out
        return True
    sources = args.sources
    return len(sources) > 1 or (len(sources) == 1 and expands_to_videos(sources[0]))


def one_file_outputs(args: argparse.Namespace, recording: Path) -> Path | None:
    """The many-files options on one source (no batch): ``--no-recording`` and
    ``--export-format`` choose its outputs as they do each file's in a batch. Sets
    ``args.export`` (``./NAME.jsonl|.csv`` beside ``recording``, the default
    ``./NAME_cam.mkv``, when they ask for data and --export names none) and returns the
    recording's path, or None. The options that mean a batch's run refuse, one line each."""
    _refuse_on_one_file(args)
    fmt, given_export = args.export_format, args.export
    if args.no_recording and args.output:
        raise CamvideoError("--no-recording and -o/--output contradict: give one of them")
    if given_export and fmt and Path(given_export).suffix.lower() != f".{fmt}":
        raise CamvideoError(f"--export {printable(str(given_export))} and --export-format {fmt} disagree: "
                            "--export's suffix (.jsonl or .csv) picks the format")
    if fmt == "none" and args.no_recording:
        raise CamvideoError("--no-recording with --export-format none leaves nothing to write")
    if not given_export and (args.no_recording or fmt in ("jsonl", "csv")):
        args.export = str(recording.with_name(recording.name.removesuffix("_cam.mkv") + f".{fmt or 'jsonl'}"))
    if args.no_recording or (given_export and not args.output):
        return None  # --export alone: the data only
    return Path(args.output) if args.output else recording


def _refuse_on_one_file(args: argparse.Namespace) -> None:
    """--segment-seconds, --dataset, --cpus-per-job, --gpus-per-job on one source: one line."""
    if args.segment_seconds is not None:
        raise CamvideoError("--segment-seconds cuts the long files of a batch; one file runs whole "
                            "(--output-dir DIR makes a batch of it)")
    if args.dataset:
        raise CamvideoError("--dataset collects the data of a batch's files: with one file, add --output-dir DIR "
                            "(a batch of one), or read its --export FILE.jsonl")
    for name in ("cpus_per_job", "gpus_per_job"):
        if getattr(args, name) is not None:
            raise CamvideoError(f"--{name.replace('_', '-')} goes with --ray (a batch's jobs on a cluster)")


def _say(text: str) -> None:
    say(text + "\n")


def _stopping(signum: int) -> None:
    say_line(f"camvideo: {signal.Signals(signum).name}: stopping; finishing the files in flight (again to abort)")


def _check(args: argparse.Namespace) -> None:
    args.export_format = args.export_format or "jsonl"
    if args.segment_seconds is None:
        args.segment_seconds = DEFAULT_SEGMENT_S
    if args.output or args.export:
        raise CamvideoError(_one_file_options(args))
    if args.jobs is not None and args.jobs < 1:
        raise CamvideoError(f"--jobs must be at least 1, got {args.jobs}")
    if not args.segment_seconds >= 0 or args.segment_seconds == float("inf"):
        raise CamvideoError(f"--segment-seconds must be a number of seconds, 0 or more, got {args.segment_seconds}")
    if args.dataset:
        from camvideo.batch.dataset import _pyarrow

        _pyarrow()  # missing: one line now, not after the run
        if args.export_format != "jsonl":
            raise CamvideoError("--dataset is built from each file's JSONL: leave --export-format at jsonl")
    for name in ("cpus_per_job", "gpus_per_job"):
        value = getattr(args, name)
        if value is not None and not args.ray:
            raise CamvideoError(f"--{name.replace('_', '-')} goes with --ray (locally, --jobs shares the cores)")
        if value is not None and (value < 0 or value != value):
            raise CamvideoError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if args.cpus_per_job is not None and args.cpus_per_job == 0 and not args.gpus_per_job:
        raise CamvideoError("--cpus-per-job 0 needs --gpus-per-job: a job needs a CPU or a GPU")


def _one_file_options(args: argparse.Namespace) -> str:
    """Why -o/--output and --export refuse a batch, named as the user gave it: a folder,
    a pattern, several files, or an option that makes one file a batch."""
    import os

    from camvideo.batch.storage import is_url

    what = "-o/--output and --export name the outputs of one file"
    instead = "use --output-dir DIR (and --export-format, --no-recording)"
    sources = args.sources
    if len(sources) == 1 and not is_url(sources[0]) and os.path.isdir(sources[0]):
        return f"a folder of videos: {instead}; {what}"
    if len(sources) == 1 and not args.from_list and any(c in sources[0] for c in "*?["):
        return f"a pattern of videos: {instead}; {what}"
    if len(sources) > 1 or args.from_list:
        return f"{what}; with several files {instead}"
    return f"{what}: leave them out of a batch run (--output-dir, --jobs, --ray, --overwrite); {instead}"


class _Driver:
    """The reporter the backends call: the progress display, the summary, the totals.

    The summary keeps each name as it is; the display and the closing table show it
    ``printable`` (a name with a newline or a terminal escape prints as one line)."""

    def __init__(self, display, writer, totals, config: str, earlier: dict[str, int] | None = None) -> None:
        self.display, self.writer, self.totals, self.config = display, writer, totals, config
        self.earlier = earlier or {}  # rel -> runs that tried it since it was last done (job.earlier_attempts)

    def started(self, job, worker: str) -> None:
        self.display.started(_shown(job), worker)

    def progress(self, job, frames: int, total: int | None) -> None:
        self.display.progress(_shown(job), frames, total)

    def finished(self, result) -> None:
        record = {**result.to_record(self.config), "attempts": 1 + self.earlier.get(result.job.rel, 0)}
        self.writer.write(record)  # first: the summary is the record of what is complete
        self.totals.add(_shown_record(record))
        self.display.finished(dataclasses.replace(result, job=_shown(result.job),
                                                  reason=result.reason and printable(result.reason)))


def _shown(job):
    """``job`` with its name as the display prints it (``printable``)."""
    shown = printable(job.rel)
    return job if shown == job.rel else dataclasses.replace(job, rel=shown)


def _shown_record(record: dict) -> dict:
    """A summary record with its name and reason as the closing table prints them."""
    return {**record, **{key: printable(record[key]) for key in ("rel", "reason") if isinstance(record.get(key), str)}}


def run(args: argparse.Namespace) -> int:
    from camvideo.batch.job import JobOptions
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import make_plan, prepare_output_dir

    _check(args)
    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    model = cli.model_options_from_args(args)  # checked before anything is planned or written
    cpus = args.cpus_per_job if args.cpus_per_job is not None else DEFAULT_CPUS_PER_JOB
    gpus = args.gpus_per_job or 0.0
    common = dict(model=model, settings=settings, overlay=overlay, batch_size=args.batch_size, hud=args.hud,
                  max_frames=args.max_frames, codec=args.codec, preset=args.preset, audio=not args.no_audio)
    config = JobOptions(**common).config_id()
    if _in_store(args):
        return _run_in_store(args, common, config, cpus, gpus)
    plan = make_plan(args.sources, args.output_dir or DEFAULT_OUTPUT_DIR, from_list=args.from_list,
                     recording=not args.no_recording, export_format=args.export_format)
    _probe_ray(args)
    found = _existing(plan)
    prepare_output_dir(plan)
    try:
        with OutputLock(plan.output_dir, "camvideo process " + " ".join(map(str, args.sources))):
            return _run_locked(args, plan, common, config, cpus, gpus)
    finally:
        _undo_if_nothing_ran(plan, found)


def _probe_ray(args: argparse.Namespace) -> None:
    """``--ray HOST:PORT`` where nothing listens: the error before the output folder is made."""
    if args.ray and args.ray not in ("local", "auto"):
        from camvideo.batch.ray_session import probe

        probe(args.ray)


def _existing(plan) -> set[str]:
    """The output folder, its summary and lock file, and the jobs' folders that exist before the run."""
    import os

    from camvideo.batch.lock import LOCK_NAME

    paths = (str(plan.output_dir), str(plan.summary_path), os.path.join(plan.output_dir, LOCK_NAME), *_folders(plan))
    return {p for p in paths if os.path.lexists(p)}


def _folders(plan) -> set[str]:
    """The folders under the output folder that the jobs' outputs go in, and theirs."""
    import os

    top, folders = str(plan.output_dir), set()
    for folder in {os.path.dirname(p) for job in plan.jobs for p in job.outputs}:
        while folder.startswith(top + os.sep) and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    return folders


def _undo_if_nothing_ran(plan, found: set[str]) -> None:
    """A run that wrote no summary line (it could not start: no cluster, a signal
    while Ray started) leaves the output folder as it found it: the empty summary,
    the lock file and the empty folders it made go. (A run that opened the lock file
    in the instant before it goes could lock a file no longer there: one that
    starts at the same instant into the same folder.)"""
    import os

    from camvideo.batch.lock import LOCK_NAME

    summary, lock = str(plan.summary_path), os.path.join(plan.output_dir, LOCK_NAME)
    with contextlib.suppress(OSError):
        if summary in found or os.path.getsize(summary) != 0:
            return
        os.unlink(summary)
    if lock not in found:
        with contextlib.suppress(OSError):
            os.unlink(lock)
    for folder in sorted((_folders(plan) | {str(plan.output_dir)}) - found, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _in_store(args: argparse.Namespace) -> bool:
    from camvideo.batch.plan import read_list
    from camvideo.batch.storage import is_url

    listed = read_list(args.from_list) if args.from_list else []
    return any(is_url(s) for s in (args.output_dir, *args.sources, *listed))


def _run_in_store(args, common, config, cpus, gpus) -> int:
    """A run whose inputs or output folder are in object storage (``camvideo.batch.storage``):
    its files run whole; a bucket's lock and summary (``camvideo.batch.bucket``)."""
    import tempfile

    from camvideo.batch import bucket, storage
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import SUMMARY_NAME, prepare_output_dir, read_list

    if args.dataset:
        raise CamvideoError("--dataset is built from local files: give a local --output-dir, or build it after "
                            "the run from a copy of the bucket's JSONL files")
    args = argparse.Namespace(**{**vars(args), "segment_seconds": 0.0})  # a store's files run whole
    specs = list(args.sources) + (read_list(args.from_list) if args.from_list else [])
    plan = storage.make_plan(specs, args.output_dir or DEFAULT_OUTPUT_DIR, recording=not args.no_recording,
                             export_format=args.export_format)
    what = "camvideo process " + " ".join(map(str, args.sources))
    if not storage.is_url(plan.output_dir):
        prepare_output_dir(plan)
        with OutputLock(plan.output_dir, what):
            return _run_locked(args, plan, common, config, cpus, gpus)
    storage.check_bucket(plan.output_dir)
    url = storage.join(plan.output_dir, SUMMARY_NAME)
    with bucket.BucketLock(plan.output_dir, what), tempfile.TemporaryDirectory(prefix="camvideo-summary-") as tmp:
        local = f"{tmp}/{SUMMARY_NAME}"
        bucket.pull(url, local)
        return _run_locked(args, plan, common, config, cpus, gpus, summary=(local, url),
                           sizes=storage.sizes_under(plan.output_dir))


def _run_locked(args, plan, common, config, cpus, gpus, summary=None, sizes=None) -> int:
    """The run, with the output folder's lock held: what is complete, the jobs, the table.
    ``summary``: (its local copy, its URL) for a run into a bucket; ``sizes``: the sizes
    of the objects there."""
    from camvideo.batch.job import BackendLost, earlier_attempts
    from camvideo.batch.resume import split_resumed, stale_note, stale_partials
    from camvideo.batch.summary import SummaryWriter, Totals, compact, format_table, read_records
    from camvideo.runtime.signals import Aborted

    path, shown_path = summary or (plan.summary_path, plan.summary_path)
    records = compact(path, read_records(path))  # one line a file (s28)
    todo, complete = split_resumed(plan, records, config, overwrite=args.overwrite, sizes=sizes)
    _announce(plan, complete, stale_note([] if sizes is not None else stale_partials(plan)))
    totals = Totals(files=len(plan.jobs))
    began = time.monotonic()
    lost = None
    if summary:
        from camvideo.batch.bucket import BucketSummary
    with (BucketSummary(*summary) if summary else SummaryWriter(path)) as writer:
        _skip_complete(writer, complete, config, totals)
        try:
            stopped = _run_jobs(args, todo, common, cpus, gpus, writer, totals, config,
                                earlier_attempts(records)) if todo else None
        except Aborted as exc:  # a signal before the first file (Ray starting): nothing started
            _say(f"camvideo: interrupted ({exc}) {getattr(exc, 'where', 'before the first file')}; nothing written")
            return 128 + exc.signum
        except BackendLost as exc:  # every file has its record: the table, then the error line (exit 2)
            lost, stopped = exc, None
    try:
        print(format_table(totals, time.monotonic() - began, shown_path), flush=True)
    except (OSError, ValueError):
        pass
    if lost is not None:
        raise lost
    return _finish(args, plan, totals, stopped)


def _announce(plan, complete, stale: str | None = None) -> None:
    """The plan's notes, the ``.partial`` files of a stopped run that this one keeps
    (``stale``), and the one line that says how many files go where."""
    for note in (*plan.notes, *((stale,) if stale else ())):
        _say(f"camvideo: note: {printable(note)}")
    _say(f"camvideo: {len(plan.jobs)} file{'s' * (len(plan.jobs) != 1)} -> {printable(str(plan.output_dir))}"
         + (f" ({len(complete)} complete from an earlier run, skipped; --overwrite redoes them)" if complete else ""))


def _skip_complete(writer, complete, config, totals) -> None:
    """A "skipped" record for each file complete from an earlier run."""
    for job in complete:
        record = {"source": job.source, "rel": job.rel, "status": "skipped", "frames": 0, "seconds": 0.0,
                  "fps": 0.0, "outputs": list(job.outputs), "reason": "complete from an earlier run",
                  "size": job.size, "mtime_ns": job.mtime_ns, "config": config}
        writer.write(record)
        totals.add(_shown_record(record))


def _finish(args, plan, totals, stopped) -> int:
    """The dataset (a run not stopped), the interrupted line, and the exit status."""
    if args.dataset and stopped is None:
        from camvideo.batch.dataset import build
        from camvideo.batch.summary import read_records

        written, fresh = build(plan.output_dir, args.dataset, read_records(plan.summary_path),
                               "camvideo process " + " ".join(map(str, args.sources)))
        _say(f"camvideo: dataset {args.dataset}: {written} file{'s' * (written != 1)} written"
             + (f", {fresh} up to date" if fresh else ""))
    if stopped is not None:
        _say(f"camvideo: interrupted ({stopped.name}); the files in flight are kept as playable .partial files; "
             "the same command again finishes the rest")
        return stopped.exit_code
    return EXIT_FAILED if totals.counts.get("failed") else 0


def _run_jobs(args, todo, common, cpus, gpus, writer, totals, config, earlier=None):
    """Run ``todo`` on the chosen backend, long files in segments where workers would
    otherwise idle; the StopSignals when a signal stopped it, else None."""
    from camvideo.runtime.signals import StopSignals

    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(StopSignals(_stopping))  # not armed yet: a signal is Aborted
        from camvideo.batch.progress import BatchProgress
        from camvideo.batch.segments import SegmentedReporter, Units

        workers, start_pool = _backend(args, todo, common, cpus, gpus, stack)
        units = Units(todo, workers, args.segment_seconds, config, max_frames=args.max_frames)
        if units.parts:
            _say(f"camvideo: {len(units.parts)} long file{'s' * (len(units.parts) != 1)} in "
                 f"{sum(len(p) for p in units.parts.values())} segments of about {args.segment_seconds:g} s")
        progress = stack.enter_context(BatchProgress(len(todo)))
        reporter = SegmentedReporter(_Driver(progress, writer, totals, config, earlier), units, progress)
        for index in units.ready():  # every segment done by an earlier run: only the join is left
            reporter.settle(index)
        if units.jobs:
            pool = stack.enter_context(start_pool(min(workers, len(units.jobs))))
            stop.arm()
            pool.run(units.jobs, reporter, stop.event)
        return stop if stop.event.is_set() else None


def _backend(args, todo, common, cpus, gpus, stack):
    """(the most workers this run can use, a function that starts a pool of N of them)."""
    from camvideo.batch.job import JobOptions

    level = logging.getLogger().getEffectiveLevel()
    if args.ray:
        from camvideo.batch.ray import RayPool, actor_count
        from camvideo.batch.ray_session import RaySession
        from camvideo.runtime.signals import Aborted

        try:  # RaySession puts our SIGTERM handler back after ray.init replaced it
            session = stack.enter_context(RaySession(args.ray))
        except Aborted as exc:
            exc.where = "while starting Ray"
            raise
        threads = max(1, int(cpus))
        options = JobOptions(threads=threads, workers=args.workers or (None if threads >= 2 else 1), **common)
        most = actor_count(session.resources(), 1 << 16, cpus, gpus, args.jobs)

        def start_ray(actors: int):
            _say(f"camvideo: Ray at {args.ray} (ready in {session.start_s:.1f} s): {actors} actor"
                 f"{'s' * (actors != 1)} ({cpus:g} CPUs" + (f", {gpus:g} GPUs" if gpus else "") + " each)")
            return RayPool(session, options, actors, cpus_per_job=cpus, gpus_per_job=gpus)
        return most, start_ray
    from camvideo.batch.local import MAX_JOBS, LocalPool, auto_jobs, threads_per_job

    if args.jobs is not None and args.jobs > MAX_JOBS:
        raise CamvideoError(f"--jobs must be at most {MAX_JOBS}, got {args.jobs}")
    most = args.jobs or auto_jobs(MAX_JOBS, args.device)

    def start_local(jobs: int):
        threads = threads_per_job(jobs)
        _say(f"camvideo: {jobs} worker process{'es' * (jobs != 1)} ({threads} torch "
             f"thread{'s' * (threads != 1)} each)")
        options = JobOptions(threads=threads, workers=args.workers or (None if threads >= 2 else 1), **common)
        # the workers' warnings come back in the results: they print errors only, unless -v
        return LocalPool(options, jobs, log_level=level if level < logging.WARNING else logging.ERROR)
    return most, start_local
