"""``DIR/camvideo-run.jsonl``: one line per file as it finishes, and the closing table.

Each line is a JSON object::

    {"run": "2026-12-01T20:30:00+00:00", "source": "/data/vids/a.mp4", "rel": "a.mp4",
     "status": "done", "frames": 300, "seconds": 10.4, "fps": 28.8,
     "outputs": ["/out/a_cam.mkv", "/out/a.jsonl"], "reason": null,
     "size": 1234567, "mtime_ns": 1764620000000000000, "config": "3f2a9c01d4e5",
     "worker": "node-1:4242", "started": "...", "finished": "..."}

``status`` is ``done`` (a damaged file is done too, every frame that decoded in
its outputs, and its line's ``damaged`` names the frames lost), ``failed`` (``reason`` says why, on one line),
``interrupted`` (a stop signal came while it ran: its outputs are finalized and
playable up to the last frame, and a rerun redoes it) or ``skipped`` (complete
from an earlier run). ``run`` is when the run began: several runs append to the
same file, and a rerun reads it to know what is complete (``resume.split_resumed``).
Each line of a file that ran is flushed and synced as it is written: a batch
killed at any point leaves a summary true up to its last file; a ``skipped`` line
(it only repeats the line before it) is flushed, not synced. A rerun first
compacts the summary (``compact``): one line per file, the last that ran it. A half line (a kill or a full disk
mid-write) is ended with a newline before the next record, and skipped (one
warning) when read. ``bytes`` holds each output's size as written: a rerun skips
a file only when its outputs are still those bytes (``resume.is_complete``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from camvideo.errors import OutputError, reason

log = logging.getLogger(__name__)

STATUSES = ("done", "failed", "interrupted", "skipped")


def timestamp(seconds: float | None = None) -> str:
    """ISO 8601 with the local offset, to the millisecond (``datetime.fromisoformat`` reads it)."""
    moment = datetime.fromtimestamp(seconds, UTC) if seconds is not None else datetime.now(UTC)
    return moment.astimezone().isoformat(timespec="milliseconds")


def read_records(path: str | Path) -> list[dict]:
    """The lines of an existing summary, in order. A line that is not a JSON object
    (a half line left by a run killed mid-write, bytes that are not UTF-8, a line
    nested too deep to read) is skipped, all of them with one warning. No file: no
    records."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutputError(f"{path}: cannot read the run summary ({reason(exc)})") from None
    records, skipped = [], []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped.append(number)
    if skipped:
        log.warning("%s: %d line%s that %s not a summary record skipped (line %s)", path, len(skipped),
                    "s" * (len(skipped) > 1), "are" if len(skipped) > 1 else "is",
                    ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else ""))
    return records


def compact(path: str | Path, records: list[dict]) -> list[dict]:
    """One line per file (``rel``), the last that ran it: ``skipped`` lines and the
    older lines of a file are dropped (``resume.split_resumed`` reads only that last
    line). The file at ``path`` is rewritten (whole, synced, renamed over) only when
    that drops a line; the records kept, in file order."""
    last: dict[object, int] = {}
    for number, record in enumerate(records):
        if record.get("status") != "skipped":
            last[record.get("rel") if isinstance(record.get("rel"), str) else ("?", number)] = number
    kept = [records[n] for n in sorted(last.values())]
    if len(kept) == len(records):
        return records
    partial = Path(path).with_name(Path(path).name + ".compact")
    try:
        with open(partial, "wb") as file:
            file.writelines(json.dumps(r, separators=(", ", ": ")).encode("utf-8") + b"\n" for r in kept)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None
    return kept


class SummaryWriter:
    """Appends one line per finished file to the summary, as a journal: each line is
    written whole and synced; a half line left before (a killed run, a full disk)
    is ended first, so the next record is never glued onto it. A context manager."""

    def __init__(self, path: str | Path, run: str | None = None) -> None:
        self.path = Path(path)
        self.run = run or timestamp()
        try:
            self._file = open(self.path, "ab")
            self._newline_first = self._file.tell() > 0 and _last_byte(self.path) != b"\n"
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from None

    def write(self, record: dict) -> None:
        """Append ``record``; synced unless it is a ``skipped`` line (a repeat: losing it loses nothing)."""
        if record.get("status") not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {record.get('status')!r}")
        line = json.dumps({"run": self.run, **record}, separators=(", ", ": ")).encode("utf-8") + b"\n"
        try:
            self._file.write(b"\n" + line if self._newline_first else line)
            self._newline_first = True  # until this line is known to be whole on disk
            self._file.flush()
            if record["status"] != "skipped":
                os.fsync(self._file.fileno())
            self._newline_first = False
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from None

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:  # a buffered half line that cannot go out (a full disk)
                raise OutputError(f"cannot write {self.path}: {reason(exc)}") from None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


@dataclass
class Totals:
    """What the closing table shows; counts as the run goes."""

    files: int = 0  # planned
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    frames: int = 0  # frames written by this run (done, failed and interrupted files)
    work_s: float = 0.0  # the files' own processing seconds, summed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (rel, reason)
    damaged: list[tuple[str, str]] = field(default_factory=list)  # done files with frames lost: (rel, what)

    def add(self, record: dict) -> None:
        status = record["status"]
        self.counts[status] = self.counts.get(status, 0) + 1
        if status != "skipped":
            self.frames += int(record.get("frames") or 0)
            self.work_s += float(record.get("seconds") or 0.0)
        if status == "done" and record.get("damaged"):
            self.damaged.append((record.get("rel", record.get("source", "?")), str(record["damaged"])))
        if status == "failed":
            self.failures.append((record.get("rel", record.get("source", "?")), record.get("reason") or "?"))

    @property
    def not_started(self) -> int:
        return max(0, self.files - sum(self.counts.values()))


def clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds) + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def format_table(totals: Totals, wall_s: float, summary_path: str | Path, max_failures: int = 20) -> str:
    """The closing table: files per status (the damaged among the done counted apart),
    frames, wall time, the damaged files' losses and the failures' reasons."""
    rows = [(name, totals.counts.get(name, 0)) for name in STATUSES]
    if totals.not_started:
        rows.append(("not started", totals.not_started))
    width = max(len(name) for name, _ in rows)
    fps = totals.frames / wall_s if wall_s > 0 else 0.0
    lines = [f"{name.ljust(width)}  {count:>6}" for name, count in rows]
    if totals.damaged:
        lines[0] += f" (of which damaged: {len(totals.damaged)})"
    lines.append(f"{'total'.ljust(width)}  {totals.files:>6} file{'s' * (totals.files != 1)}, {totals.frames} frame{'s' * (totals.frames != 1)} in {clock(wall_s)} "
                 f"wall time ({fps:.1f} fps)")
    for rel, what in totals.damaged[:max_failures]:
        lines.append(f"damaged: {rel}: {what}")
    if len(totals.damaged) > max_failures:
        lines.append(f"... and {len(totals.damaged) - max_failures} more damaged files (see the summary)")
    for rel, why in totals.failures[:max_failures]:
        lines.append(f"failed: {rel}: {why}")
    if len(totals.failures) > max_failures:
        lines.append(f"... and {len(totals.failures) - max_failures} more failures (see the summary)")
    lines.append(f"summary: {summary_path}")
    return "\n".join(lines)

