"""Progress of a batch on stderr, with tqdm.

On a terminal: one overall bar (files done of the total, frames, frames per
second, time left) and one bar per file in flight (its frames of the file's
count), with a line above the bars for each file as it finishes. Elsewhere (a
log file, CI): plain lines, one when a file starts (with the worker that runs
it) and one when it finishes, and every ``every_s`` seconds a line with the
overall figures. Writing never fails the batch: a terminal that went away
(SIGHUP) only loses the progress.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from camvideo.batch.job import JobResult
from camvideo.batch.plan import Job
from camvideo.batch.summary import clock

# The single file's bar and these write alike: writes that fail are dropped, and a
# terminal that says it has 0 columns (a new pseudo-terminal) still gets bars.
from camvideo.progress import QuietStream, columns, is_terminal

NAME_WIDTH = 40


def short(text: str, width: int = NAME_WIDTH) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def result_line(result: JobResult) -> str:
    job = result.job
    if result.status == "done":
        damaged = f"; damaged: {result.damage}" if result.damage else ""
        return f"done {job.rel}: {result.frames} frame{'' if result.frames == 1 else 's'} in {result.seconds:.1f} s ({result.fps:.1f} fps){damaged}"
    if result.status == "interrupted":
        return f"interrupted {job.rel} after {result.frames} frames (finalized; a rerun redoes it)"
    return f"failed {job.rel}: {result.reason}"


class BatchProgress:
    """The driver's view of a batch; implements ``camvideo.batch.job.Reporter``
    (the caller adds the summary)."""

    def __init__(self, total: int, *, stream=None, tty: bool | None = None, every_s: float = 30.0) -> None:
        stream = stream if stream is not None else sys.stderr
        self.tty = is_terminal(stream) if tty is None else tty
        self.ncols = columns(stream)
        self.stream = QuietStream(stream)
        self.total = total
        self.done = 0
        self.frames_done = 0  # frames of finished files
        self.start = time.monotonic()
        self.every_s = every_s
        self._last_line = self.start
        self._frames: dict[int, int] = {}  # in flight: job index -> frames so far
        self._credited: dict[int, int] = {}  # a segmented file: frames of its finished segments, counted already
        self._bars: dict[int, tqdm] = {}
        self._positions: dict[int, int] = {}
        self._overall = None
        if self.tty:
            # tqdm puts ", " before the postfix: "files: 33%|███   | 4/12 files, 1200 frames, 41.3 fps [..]"
            self._overall = tqdm(total=total, desc="files", unit="file", position=0, file=self.stream,
                                 ncols=self.ncols,
                                 bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} files{postfix} [{elapsed}<{remaining}]")
            self._refresh()

    # -- figures ------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.frames_done + sum(self._frames.values())

    @property
    def fps(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.frames / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        if not self.done:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / self.done * (self.total - self.done)

    def status_line(self) -> str:
        eta = self.eta()
        return (f"{self.done}/{self.total} files, {self.frames} frames, {self.fps:.1f} fps"
                + (f", eta {clock(eta)}" if eta is not None else "") + f", elapsed {clock(time.monotonic() - self.start)}")

    # -- Reporter -----------------------------------------------------------------
    def started(self, job: Job, worker: str) -> None:
        self._frames[job.index] = 0
        if self.tty:
            position = min(set(range(1, len(self._positions) + 2)) - set(self._positions.values()))
            self._positions[job.index] = position
            self._bars[job.index] = tqdm(total=None, desc=short(job.rel), unit="frame", position=position,
                                         leave=False, file=self.stream, ncols=self.ncols)
        else:
            self._say(f"started {job.rel} (worker {worker})")

    def progress(self, job: Job, frames: int, total: int | None) -> None:
        self._frames[job.index] = frames
        bar = self._bars.get(job.index)
        if bar is not None:
            if total and bar.total != total:
                bar.total = total
            bar.n = frames  # a file retried on another worker starts again from 0
            bar.refresh()
            self._refresh()
        elif not self.tty and time.monotonic() - self._last_line >= self.every_s:
            self._say(self.status_line())

    def part_finished(self, part: Job, result: JobResult) -> None:
        """A segment of a file is finished (``camvideo.batch.segments``): its bar goes, its
        frames count; the file is finished (``finished``) when all its segments are."""
        self._frames.pop(part.index, None)
        self.frames_done += result.frames
        parent = part.segment.parent if part.segment is not None else part.index
        self._credited[parent] = self._credited.get(parent, 0) + result.frames
        self._close_bar(part.index)
        self._refresh()

    def _close_bar(self, index: int) -> None:
        bar = self._bars.pop(index, None)
        self._positions.pop(index, None)
        if bar is not None:
            bar.close()

    def finished(self, result: JobResult) -> None:
        index = result.job.index
        self._frames.pop(index, None)
        self.done += 1
        self.frames_done += result.frames - self._credited.pop(index, 0)
        self._close_bar(index)
        line = f"[{self.done}/{self.total}] {result_line(result)}"
        if self._overall is not None:
            tqdm.write(f"camvideo: {line}", file=self.stream)
            self._overall.update(1)
            self._refresh()
        else:
            self._say(line)

    def note(self, text: str) -> None:
        if self._overall is not None:
            tqdm.write(f"camvideo: {text}", file=self.stream)
        else:
            self._say(text)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        if self._overall is not None:
            self._refresh()
            self._overall.close()
            self._overall = None

    def __enter__(self) -> BatchProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- output -------------------------------------------------------------------
    def _refresh(self) -> None:
        if self._overall is not None:
            self._overall.set_postfix_str(f"{self.frames} frames, {self.fps:.1f} fps", refresh=False)
            self._overall.refresh()

    def _say(self, text: str) -> None:
        self._last_line = time.monotonic()
        self.stream.write(f"camvideo: {text}\n")
        self.stream.flush()
