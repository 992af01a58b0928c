"""``camvideo process``'s many-files options: declared, told apart from one file's, checked.

``add_batch_options`` declares them (the parser is built without torch: this module
imports nothing heavy); ``wants_batch`` says whether a command line is a batch;
``one_file_outputs`` gives the options that also mean something on one file their
meaning there (and refuses the others); ``check`` refuses a batch's inconsistent
options, one line each, before anything is planned or written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from camvideo.batch import DEFAULT_SEGMENT_S, EXPORT_FORMATS
from camvideo.cli import options as cli
from camvideo.errors import CamvideoError, OutputError, printable

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
                       help="redo every file (default: a rerun skips the files whose outputs are complete); one "
                       "file is always redone: its outputs are replaced, by complete new ones only")
    group.add_argument("--ray", metavar="ADDRESS",
                       help="run the jobs on a Ray cluster: HOST:PORT of its head, auto (RAY_ADDRESS), or local "
                       "(a Ray instance started for the run); needs pip install 'camvideo[ray]'")
    group.add_argument("--cpus-per-job", type=float, metavar="C",
                       help=f"with --ray: CPUs each job reserves (default: {DEFAULT_CPUS_PER_JOB:g})")
    group.add_argument("--gpus-per-job", type=float, metavar="G",
                       help="with --ray: GPUs each job reserves; a fraction shares a GPU (default: 0)")


def wants_batch(args: argparse.Namespace) -> bool:
    """Is this ``camvideo process`` a batch (see ``camvideo.cli.batch``)?"""
    from camvideo.batch.plan import expands_to_videos
    from camvideo.batch.storage import is_url

    if args.from_list or args.output_dir or args.jobs is not None or args.ray:
        return True  # (--overwrite is a batch's or one file's: one file is always redone)
    if any(is_url(s) for s in args.sources):  # an object store's file: a batch into ./camvideo-out
        return True
    sources = args.sources
    return len(sources) > 1 or (len(sources) == 1 and expands_to_videos(sources[0]))


def one_file_outputs(args: argparse.Namespace, recording: Path) -> Path | None:
    """The many-files options on one source (no batch): ``--no-recording`` and
    ``--export-format`` choose its outputs as they do each file's in a batch. Sets
    ``args.export`` (``./NAME.jsonl|.csv`` beside ``recording``, the default
    ``./NAME_cam.mkv``, when they ask for data and --export names none) and returns the
    recording's path, or None. ``--overwrite`` passes: one file is always redone, its
    outputs replaced by complete new ones only, as a batch's files with it. The options
    that mean a batch's run refuse, one line each."""
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


def check(args: argparse.Namespace) -> None:
    """A batch's options checked, one line each, and their defaults set (``--export-format``
    jsonl, ``--segment-seconds``)."""
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
        if "://" not in str(args.dataset):
            _check_dataset_folder(Path(args.dataset))
    _check_reservations(args)


def _check_dataset_folder(folder: Path) -> None:
    """``--dataset`` a folder (made if missing) that can be written: one line now, not after the run."""
    from camvideo.cli.outputs import folder_problem

    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists() or p == p.parent)
    problem = folder_problem(existing)
    if problem:
        raise OutputError(f"--dataset {folder}: {problem}")


def _check_reservations(args: argparse.Namespace) -> None:
    """--cpus-per-job and --gpus-per-job: with --ray, 0 or more, not both 0."""
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
    return f"{what}: leave them out of a batch run (--output-dir, --jobs, --ray); {instead}"
