"""What a batch says as it runs: its lines on stderr, the reporter the backends call
(``Driver``: progress, summary, totals), the skipped files' records and the closing
table.

The summary keeps each name as it is; the display and the closing table show it
``printable`` (a name with a newline or a terminal escape prints as one line)."""

from __future__ import annotations

import dataclasses
import signal

from camvideo.errors import printable
from camvideo.runtime.signals import say, say_line


def say_text(text: str) -> None:
    """``text`` as one line on stderr."""
    say(text + "\n")


def stopping(signum: int) -> None:
    """The line a stop signal prints (the files in flight are finished)."""
    say_line(f"camvideo: {signal.Signals(signum).name}: stopping; finishing the files in flight (again to abort)")


class Driver:
    """The reporter the backends call: the progress display, the summary, the totals."""

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
        self.totals.add(shown_record(record))
        self.display.finished(dataclasses.replace(result, job=_shown(result.job),
                                                  reason=result.reason and printable(result.reason)))


def _shown(job):
    """``job`` with its name as the display prints it (``printable``)."""
    shown = printable(job.rel)
    return job if shown == job.rel else dataclasses.replace(job, rel=shown)


def shown_record(record: dict) -> dict:
    """A summary record with its name and reason as the closing table prints them."""
    return {**record, **{key: printable(record[key]) for key in ("rel", "reason") if isinstance(record.get(key), str)}}


def announce(plan, complete, stale: str | None = None, kept: str | None = None) -> None:
    """The plan's notes, the ``.partial`` files of a stopped run that this one keeps
    (``stale``: where it writes nothing; ``kept``: as ``NAME.partial-N.EXT``, where it
    redoes the file), and the one line that says how many files go where."""
    for note in (*plan.notes, *(n for n in (stale, kept) if n)):
        say_text(f"camvideo: note: {printable(note)}")
    say_text(f"camvideo: {len(plan.jobs)} file{'s' * (len(plan.jobs) != 1)} -> {printable(str(plan.output_dir))}"
             + (f" ({len(complete)} complete from an earlier run, skipped; --overwrite redoes them)" if complete else ""))


def skip_complete(writer, complete, config, totals) -> None:
    """A "skipped" record for each file complete from an earlier run."""
    for job in complete:
        record = {"source": job.source, "rel": job.rel, "status": "skipped", "frames": 0, "seconds": 0.0,
                  "fps": 0.0, "outputs": list(job.outputs), "reason": "complete from an earlier run",
                  "size": job.size, "mtime_ns": job.mtime_ns, "config": config}
        writer.write(record)
        totals.add(shown_record(record))


def print_table(totals, seconds: float, summary_path) -> None:
    """The closing table on stdout (a reader gone: nothing)."""
    from camvideo.batch.summary import format_table

    try:
        print(format_table(totals, seconds, summary_path), flush=True)
    except (OSError, ValueError):
        pass
