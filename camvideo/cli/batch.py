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
found it; a ``--dataset`` file that another run is writing or that holds another
output folder's data, after the files themselves are done); 128 + the signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) when a stop signal ended the run, the
files in flight finalized: the same command again finishes the rest.

This module is the entry (``run``); the options are declared, told apart from one
file's and checked in ``batch_options`` (``add_batch_options``, ``wants_batch``,
``one_file_outputs``: import them from there), the output folder's state before the run is
``batch_folder``'s, the run with the folder locked ``batch_jobs``', the backends
``batch_backend``'s and what the run prints ``batch_report``'s.
"""

from __future__ import annotations

import argparse

from camvideo.cli import options as cli
from camvideo.cli.batch_options import DEFAULT_CPUS_PER_JOB, DEFAULT_OUTPUT_DIR
from camvideo.errors import CamvideoError


def run(args: argparse.Namespace) -> int:
    """The batch ``args`` asks for: checked, planned, run with its output folder locked;
    the exit status (see the module's docstring)."""
    from camvideo.batch.job import JobOptions
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import make_plan, prepare_output_dir
    from camvideo.cli.batch_folder import existing, undo_if_nothing_ran
    from camvideo.cli.batch_jobs import BatchRun, run_locked
    from camvideo.cli.batch_options import check

    check(args)
    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    model = cli.model_options_from_args(args)  # checked before anything is planned or written
    common = dict(model=model, settings=settings, overlay=overlay, batch_size=args.batch_size, hud=args.hud,
                  max_frames=args.max_frames, codec=args.codec, preset=args.preset, audio=not args.no_audio)
    batch = BatchRun(args, common, JobOptions(**common).config_id(),
                     cpus=args.cpus_per_job if args.cpus_per_job is not None else DEFAULT_CPUS_PER_JOB,
                     gpus=args.gpus_per_job or 0.0)
    if _in_store(args):
        return _run_in_store(batch)
    plan = make_plan(args.sources, args.output_dir or DEFAULT_OUTPUT_DIR, from_list=args.from_list,
                     recording=not args.no_recording, export_format=args.export_format)
    _probe_ray(args)
    found = existing(plan)
    prepare_output_dir(plan)
    try:
        with OutputLock(plan.output_dir, "camvideo process " + " ".join(map(str, args.sources))):
            return run_locked(batch, plan)
    finally:
        undo_if_nothing_ran(plan, found)


def _probe_ray(args: argparse.Namespace) -> None:
    """``--ray HOST:PORT`` where nothing listens: the error before the output folder is made."""
    if args.ray and args.ray not in ("local", "auto"):
        from camvideo.batch.ray_session import probe

        probe(args.ray)


def _in_store(args: argparse.Namespace) -> bool:
    from camvideo.batch.plan import read_list
    from camvideo.batch.storage import is_url

    listed = read_list(args.from_list) if args.from_list else []
    return any(is_url(s) for s in (args.output_dir, *args.sources, *listed))


def _run_in_store(batch) -> int:
    """A run whose inputs or output folder are in object storage (``camvideo.batch.storage``):
    its files run whole; a bucket's lock and summary (``camvideo.batch.bucket``)."""
    import dataclasses
    import tempfile

    from camvideo.batch import bucket, storage
    from camvideo.batch.lock import OutputLock
    from camvideo.batch.plan import SUMMARY_NAME, prepare_output_dir, read_list
    from camvideo.cli.batch_jobs import run_locked

    args = batch.args
    if args.dataset:
        raise CamvideoError("--dataset is built from local files: give a local --output-dir, or build it after "
                            "the run from a copy of the bucket's JSONL files")
    args = argparse.Namespace(**{**vars(args), "segment_seconds": 0.0})  # a store's files run whole
    batch = dataclasses.replace(batch, args=args)
    specs = list(args.sources) + (read_list(args.from_list) if args.from_list else [])
    plan = storage.make_plan(specs, args.output_dir or DEFAULT_OUTPUT_DIR, recording=not args.no_recording,
                             export_format=args.export_format)
    what = "camvideo process " + " ".join(map(str, args.sources))
    if not storage.is_url(plan.output_dir):
        prepare_output_dir(plan)
        with OutputLock(plan.output_dir, what):
            return run_locked(batch, plan)
    storage.check_bucket(plan.output_dir)
    url = storage.join(plan.output_dir, SUMMARY_NAME)
    with bucket.BucketLock(plan.output_dir, what), tempfile.TemporaryDirectory(prefix="camvideo-summary-") as tmp:
        local = f"{tmp}/{SUMMARY_NAME}"
        bucket.pull(url, local)
        return run_locked(batch, plan, summary=(local, url), sizes=storage.sizes_under(plan.output_dir))
