"""A batch's run with its output folder locked: what is complete from an earlier run,
the jobs on their backend (long files in segments), the closing table, the dataset
and the exit status."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

from camvideo.cli.batch_report import Driver, announce, print_table, say_text, skip_complete, stopping

EXIT_FAILED = 1  # some files failed


@dataclasses.dataclass(frozen=True)
class BatchRun:
    """What every job of a run shares: the command line, the jobs' options (``common``:
    ``JobOptions``' fields but the threads), their config id, and what a Ray job reserves."""

    args: argparse.Namespace
    common: dict
    config: str
    cpus: float
    gpus: float


def run_locked(run: BatchRun, plan, summary=None, sizes=None) -> int:
    """The run, with the output folder's lock held: what is complete, the jobs, the table.
    ``summary``: (its local copy, its URL) for a run into a bucket; ``sizes``: the sizes
    of the objects there."""
    from camvideo.batch.job import BackendLost, earlier_attempts
    from camvideo.batch.resume import kept_note, kept_partials, split_resumed, stale_note, stale_partials
    from camvideo.batch.summary import SummaryWriter, Totals, compact, read_records
    from camvideo.runtime.signals import Aborted

    path, shown_path = summary or (plan.summary_path, plan.summary_path)
    records = compact(path, read_records(path))  # one line a file (s28)
    todo, complete = split_resumed(plan, records, run.config, overwrite=run.args.overwrite, sizes=sizes)
    local = sizes is None  # a store's objects are never partial
    announce(plan, complete, stale_note(stale_partials(plan) if local else []),
             kept_note(kept_partials(todo) if local else []))
    totals = Totals(files=len(plan.jobs))
    began = time.monotonic()
    lost = None
    if summary:
        from camvideo.batch.bucket import BucketSummary
    with (BucketSummary(*summary) if summary else SummaryWriter(path)) as writer:
        skip_complete(writer, complete, run.config, totals)
        try:
            stopped = _run_jobs(run, todo, writer, totals, earlier_attempts(records)) if todo else None
        except Aborted as exc:  # a signal before the first file (Ray starting): nothing started
            say_text(f"camvideo: interrupted ({exc}) {getattr(exc, 'where', 'before the first file')}; nothing written")
            return 128 + exc.signum
        except BackendLost as exc:  # every file has its record: the table, then the error line (exit 2)
            lost, stopped = exc, None
    print_table(totals, time.monotonic() - began, shown_path)
    if lost is not None:
        raise lost
    return _finish(run.args, plan, totals, stopped)


def _finish(args, plan, totals, stopped) -> int:
    """The dataset (a run not stopped), the interrupted line, and the exit status."""
    if args.dataset and stopped is None:
        _build_dataset(args, plan)
    if stopped is not None:
        say_text(f"camvideo: interrupted ({stopped.name}); the files in flight are kept as playable .partial files; "
                 "the same command again finishes the rest")
        return stopped.exit_code
    return EXIT_FAILED if totals.counts.get("failed") else 0


def _build_dataset(args, plan) -> None:
    """``--dataset``: the done files' data as Parquet, and the line that says how many."""
    from camvideo.batch.dataset import build
    from camvideo.batch.summary import read_records

    written, fresh = build(plan.output_dir, args.dataset, read_records(plan.summary_path),
                           "camvideo process " + " ".join(map(str, args.sources)))
    say_text(f"camvideo: dataset {args.dataset}: {written} file{'s' * (written != 1)} written"
             + (f", {fresh} up to date" if fresh else ""))


def _run_jobs(run: BatchRun, todo, writer, totals, earlier=None):
    """Run ``todo`` on the chosen backend, long files in segments where workers would
    otherwise idle; the StopSignals when a signal stopped it, else None."""
    from camvideo.cli.batch_backend import backend
    from camvideo.runtime.signals import StopSignals

    args = run.args
    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(StopSignals(stopping))  # not armed yet: a signal is Aborted
        from camvideo.batch.progress import BatchProgress
        from camvideo.batch.segments import SegmentedReporter, Units

        workers, start_pool = backend(run, stack)
        units = Units(todo, workers, args.segment_seconds, run.config, max_frames=args.max_frames)
        if units.parts:
            say_text(f"camvideo: {len(units.parts)} long file{'s' * (len(units.parts) != 1)} in "
                     f"{sum(len(p) for p in units.parts.values())} segments of about {args.segment_seconds:g} s")
        progress = stack.enter_context(BatchProgress(len(todo)))
        reporter = SegmentedReporter(Driver(progress, writer, totals, run.config, earlier), units, progress)
        for index in units.ready():  # every segment done by an earlier run: only the join is left
            reporter.settle(index)
        if units.jobs:
            pool = stack.enter_context(start_pool(min(workers, len(units.jobs))))
            stop.arm()
            pool.run(units.jobs, reporter, stop.event)
        return stop if stop.event.is_set() else None
