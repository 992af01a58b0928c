"""A batch's output folder as the run found it: what existed before (``existing``), and
a run that could not start leaving it so (``undo_if_nothing_ran``)."""

from __future__ import annotations

import contextlib
import os

from camvideo.batch.lock import LOCK_NAME


def existing(plan) -> set[str]:
    """The output folder, its summary and lock file, and the jobs' folders that exist before the run."""
    paths = (str(plan.output_dir), str(plan.summary_path), os.path.join(plan.output_dir, LOCK_NAME), *_folders(plan))
    return {p for p in paths if os.path.lexists(p)}


def _folders(plan) -> set[str]:
    """The folders under the output folder that the jobs' outputs go in, and theirs."""
    top, folders = str(plan.output_dir), set()
    for folder in {os.path.dirname(p) for job in plan.jobs for p in job.outputs}:
        while folder.startswith(top + os.sep) and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    return folders


def undo_if_nothing_ran(plan, found: set[str]) -> None:
    """A run that wrote no summary line (it could not start: no cluster, a signal
    while Ray started) leaves the output folder as it found it: the empty summary,
    the lock file and the empty folders it made go. (A run that opened the lock file
    in the instant before it goes could lock a file no longer there: one that
    starts at the same instant into the same folder.)"""
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
