"""Per-frame data files: JSON Lines (one object per frame, the contract in docs/architecture.md) and CSV.

Both are pipeline sinks that write each frame as it happens and flush it, so a
stopped or killed run leaves a file complete up to the last frame written. Like a
recording, an export is written as ``NAME.partial.EXT`` and renamed to its name
when it is closed with every write through and synced: an existing file of that
name is replaced only then. After a write error (a full disk) the old file stays
as it was and the ``.partial`` file keeps what was written (the error names it);
an export that got no frame (a run that failed first) is removed, leaving nothing
behind and an older file untouched.

- JSONL: ``{"frame", "time", "width", "height", "detections": [{"rank",
  "class_id", "label", "score", "box": [x1, y1, x2, y2]}]}``, one line a frame.
- CSV: one row per detection: ``frame,time,width,height,rank,class_id,label,
  score,x1,y1,x2,y2`` (box cells empty when a class has no box).

``write_snapshot`` saves one annotated frame as a PNG and its JSON object (the
same object as a JSONL line), both complete or neither: each is written under a
temporary name in the target folder, then renamed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from camvideo.errors import OutputError, reason
from camvideo.frames import ProcessedFrame
from camvideo.results import FrameResult
from camvideo.video.outputs import kept_note, partial_path

CSV_COLUMNS = ("frame", "time", "width", "height", "rank", "class_id", "label", "score", "x1", "y1", "x2", "y2")
SUFFIXES = (".jsonl", ".csv")


def _open(path: Path, partial: Path):
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name ending in .jsonl or .csv")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        return open(partial, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None


class _FileSink:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self._file = _open(self.path, self.partial)
        self.frames_written = 0
        self.finalized = False  # renamed to its final name: complete and synced
        self._error: OutputError | None = None  # the first write error: the file is not complete
        self._abandoned = False

    def _emit(self, result: FrameResult) -> None:
        raise NotImplementedError

    def write(self, item: ProcessedFrame) -> None:
        """Sink interface: the frame's result."""
        self.write_result(item.result)

    def write_result(self, result: FrameResult) -> None:
        """One frame's data (a frame's result, without its picture)."""
        if self._file is None:
            raise OutputError(f"{self.path}: the export is already closed")
        if self._error is not None:
            raise self._error
        try:
            self._emit(result)
            self._file.flush()
        except OSError as exc:
            self._error = OutputError(f"cannot write {self.partial}: {reason(exc)}")
            raise self._error from None
        self.frames_written += 1

    def abandon(self) -> None:
        """Mark the export incomplete (the run failed elsewhere): ``close`` keeps it
        as its ``.partial`` file and leaves the final name alone."""
        self._abandoned = True

    def close(self) -> None:
        """Close the file and, when every write went through and the file is synced,
        give it its name (it replaces a file of that name now); an export without a
        frame is removed. After a write error (or ``abandon``) the final name is left
        as it was and what was written stays as the ``.partial`` file."""
        if self._file is None:
            return
        file, self._file = self._file, None
        error = self._error
        try:
            if error is None:
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            error = OutputError(f"cannot write {self.partial}: {reason(exc)}")
        finally:
            try:
                file.close()
            except OSError as exc:
                error = error or OutputError(f"cannot finish {self.partial}: {reason(exc)}")
        try:
            if self.frames_written == 0:
                self.partial.unlink(missing_ok=True)
            elif error is None and not self._abandoned:
                os.replace(self.partial, self.path)
                self.finalized = True
        except OSError as exc:
            error = error or OutputError(f"cannot rename {self.partial} to {self.path.name}: {reason(exc)}")
        if error is not None:
            raise OutputError(f"{error}; {kept_note(self.partial, self.path)}")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlExporter(_FileSink):
    """One JSON object per frame and line, exactly the contract of docs/architecture.md
    (``FrameResult.json_line``: a pipeline's writer makes it while the result is in its
    cache, ``takes_lines``)."""

    takes_lines = True

    def _emit(self, result: FrameResult) -> None:
        self._file.write(result.json_line + "\n")


class CsvExporter(_FileSink):
    """One row per detection, with a header row."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._writer = csv.writer(self._file)
        try:
            self._writer.writerow(CSV_COLUMNS)
        except OSError as exc:
            with contextlib.suppress(OutputError):
                self.close()  # nothing written: no file left behind
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from None

    def _emit(self, result: FrameResult) -> None:
        d = result.to_dict()
        for det in d["detections"]:
            box = det["box"] or ["", "", "", ""]
            self._writer.writerow([d["frame"], d["time"], d["width"], d["height"], det["rank"],
                                   det["class_id"], det["label"], det["score"], *box])


_READ_FIRST = 64 * 1024  # characters of a file's first line read to tell a camvideo export


def made_by_camvideo_export(path: str | Path) -> bool:
    """Whether the file at ``path`` reads as a camvideo export: a CSV whose first row is
    ``CSV_COLUMNS``, a JSONL whose first line is a frame's object (``frame`` and
    ``detections``; one longer than ``_READ_FIRST``, many classes' detections, by its
    beginning: ``{"frame": N, "time": ``), or an empty file of either (a run that wrote
    no frame)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            first = fh.readline(_READ_FIRST)
    except (OSError, UnicodeDecodeError):
        return False
    if not first:
        return True
    if str(path).lower().endswith(".csv"):
        return next(csv.reader([first]), []) == list(CSV_COLUMNS)
    if len(first) == _READ_FIRST and not first.endswith("\n"):  # cut: what json.dumps of to_dict() begins with
        head = '{"frame": '
        frame, _, rest = first[len(head):].partition(", ")
        return first.startswith(head) and frame.isdigit() and rest.startswith('"time": ')
    try:
        line = json.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and "frame" in line and "detections" in line


def open_exporter(path: str | Path) -> JsonlExporter | CsvExporter:
    """A JSONL or CSV exporter, chosen by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return JsonlExporter(path)
    if suffix == ".csv":
        return CsvExporter(path)
    raise OutputError(f"{path}: an export must end in .jsonl or .csv, got {suffix or 'no suffix'!r}")


def write_snapshot(folder: str | Path, stem: str, image: np.ndarray, result: FrameResult,
                   about: Mapping[str, object] | None = None) -> tuple[Path, Path]:
    """``folder/stem.png`` (``image``, BGR) and ``folder/stem.json`` (``result``, and
    after its keys those of ``about``: e.g. the source and the model that made it):
    both written completely, or neither left behind (OutputError says why). The
    folder is made when missing."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise TypeError("image must be a uint8 numpy array (BGR or grey)")
    if not isinstance(result, FrameResult):
        raise TypeError(f"result must be a FrameResult, got {type(result).__name__}")
    if not stem or Path(stem).name != stem:
        raise ValueError(f"stem must be a plain file name without a folder, got {stem!r}")
    clash = set(about or {}) & set(result.to_dict())
    if clash:
        raise ValueError(f"about must not replace the frame's own keys: {', '.join(sorted(clash))}")
    folder = Path(folder)
    png, js = folder / f"{stem}.png", folder / f"{stem}.json"
    temps = [folder / f".{stem}.png.partial", folder / f".{stem}.json.partial"]
    done: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise OSError(f"cannot encode {png.name}")
        temps[0].write_bytes(encoded.tobytes())
        temps[1].write_text(json.dumps({**result.to_dict(), **dict(about or {})}) + "\n", encoding="utf-8")
        for temp, final in zip(temps, (png, js)):
            os.replace(temp, final)
            done.append(final)
    except OSError as exc:
        for path in (*temps, *done):  # neither file stays: a PNG without its JSON is no snapshot
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise OutputError(f"cannot save the snapshot in {folder}: {exc.strerror or exc}") from None
    return png, js
