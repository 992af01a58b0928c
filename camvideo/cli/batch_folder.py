"""A batch's output folder as the run found it: what existed before (``existing``), and
a run that could not start leaving it so (``undo_if_nothing_ran``)."""

from __future__ import annotations

import contextlib
import os


def existing(plan) -> set[str]:
    """The output folder, its summary and the jobs' folders that exist before the run."""
    paths = (str(plan.output_dir), str(plan.summary_path), *_folders(plan))
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
    while Ray started) leaves the output folder as it found it: the empty summary
    and the empty folders it made go (the lock file went when the lock was released:
    ``OutputLock``; one there now is another run's)."""
    summary = str(plan.summary_path)
    with contextlib.suppress(OSError):
        if summary in found or os.path.getsize(summary) != 0:
            return
        os.unlink(summary)
    for folder in sorted((_folders(plan) | {str(plan.output_dir)}) - found, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
