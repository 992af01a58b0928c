"""What the model saw in a video file, frame by frame: the store and the scan.

``ScoreTrack`` keeps one result per frame (its classes, scores and boxes, no
maps) from any thread: the window's live frames as they are shown, and a
``FileScan``'s. It answers what a timeline draws: the classes that matter most
over the file, one class's score over time, and the stretches where a class is
the top class; ``save_jsonl`` writes the per-frame JSON Lines of ``camvideo
process --export`` (``camvideo.video.export.JsonlExporter``), complete or not
at all.

``FileScan`` runs the whole file through the engine (``run_source``) at full
speed in the background: a reader and a localizer of its own on the same
model, not those of the view, no overlay, one forward thread (the view keeps
the other core); ``cancel`` stops it within a batch.

Results must come from ranked classes (no ``class_ids``): the rank says which
class was on top. A class outside a frame's kept classes counts as 0 there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from camvideo.errors import CamvideoError, OutputError, describe, reason
from camvideo.frames import ProcessedFrame
from camvideo.results import NO_MAPS, FrameResult
from camvideo.settings import LocalizeSettings

SCAN_TOPK = 5  # classes a scan keeps per frame: the timeline's lines and a One-class score
SCAN_BATCH = 4


def scan_settings(settings: LocalizeSettings) -> LocalizeSettings:
    """``settings`` for a scan: ranked classes (``class_ids`` dropped: who is on top
    must be known), at least ``SCAN_TOPK`` of them; the rest (maps, boxes,
    smoothing) as on screen."""
    if not isinstance(settings, LocalizeSettings):
        raise TypeError(f"settings must be a LocalizeSettings, got {type(settings).__name__}")
    return dataclasses.replace(settings, class_ids=None, topk=max(settings.topk, SCAN_TOPK))


class ScoreTrack:
    """Per-frame results of one video (thread-safe); ``version`` counts changes."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._results: dict[int, FrameResult] = {}
        self._sorted: list[FrameResult] | None = []
        self.version = 0

    def add(self, result: FrameResult) -> None:
        """Keep ``result`` (without its maps) as frame ``result.frame``'s, replacing an earlier one."""
        if not isinstance(result, FrameResult):
            raise TypeError(f"result must be a FrameResult, got {type(result).__name__}")
        light = dataclasses.replace(result, maps=NO_MAPS)
        with self._lock:
            self._results[result.frame] = light
            self._sorted = None
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._sorted = []
            self.version += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)

    def results(self) -> list[FrameResult]:
        """Every frame's result, in frame order."""
        with self._lock:
            if self._sorted is None:
                self._sorted = [self._results[k] for k in sorted(self._results)]
            return self._sorted

    def top_classes(self, count: int = 3) -> list[tuple[int, str]]:
        """(class id, label) of the ``count`` classes with the largest summed score."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        totals: dict[int, float] = {}
        labels: dict[int, str] = {}
        for result in self.results():
            for det in _classes(result):
                totals[det.class_id] = totals.get(det.class_id, 0.0) + det.score
                labels[det.class_id] = det.label
        best = sorted(totals, key=lambda c: -totals[c])[:count]
        return [(c, labels[c]) for c in best]

    def series(self, class_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, scores) of ``class_id`` over the frames kept (0 where it is not among a frame's classes)."""
        results = self.results()
        times = np.array([r.time for r in results], np.float64)
        scores = np.array([next((d.score for d in _classes(r) if d.class_id == class_id), 0.0) for r in results],
                          np.float32)
        return times, scores

    def stretches(self, class_id: int, gap_s: float | None = None) -> list[tuple[float, float]]:
        """(first, last) frame times of each run of kept frames where ``class_id``
        is the top class; a run breaks where it is not, or where no frame was kept
        for more than ``gap_s`` (default: three frame intervals)."""
        results = self.results()
        if gap_s is None:
            steps = np.diff([r.time for r in results])
            gap_s = 3 * float(np.median(steps)) if len(steps) else 0.0
        runs: list[tuple[float, float]] = []
        start = last = None
        for r in results:
            top = next((d.class_id for d in r.detections if d.rank == 1), None)
            if top == class_id and last is not None and r.time - last <= gap_s + 1e-9:
                last = r.time
                continue
            if start is not None:
                runs.append((start, last))
            start = last = (r.time if top == class_id else None)
        if start is not None:
            runs.append((start, last))
        return runs

    def save_jsonl(self, path: str | Path) -> int:
        """Write every frame kept as ``camvideo process --export`` does, to ``path``
        whole or not at all (an existing file is replaced only by a complete one);
        the number of frames written."""
        path = Path(path)
        if path.suffix.lower() != ".jsonl":
            raise OutputError(f"{path}: the per-frame data is saved as .jsonl, got {path.suffix or 'no suffix'!r}")
        results = self.results()
        if not results:
            raise CamvideoError("nothing to save yet: no frame has been analysed")
        from camvideo.video.export import JsonlExporter  # cv2, on first use

        saving = path.with_name(f".{path.stem}.saving{path.suffix}")
        try:
            with JsonlExporter(saving) as exporter:  # itself .partial until closed
                for result in results:
                    exporter.write_result(result)
            os.replace(saving, path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {reason(exc)}") from None
        finally:
            with contextlib.suppress(OSError):
                saving.unlink()
        return len(results)


def _classes(result: FrameResult):
    """One detection per class (a class with several boxes has one entry per box)."""
    seen = set()
    for det in result.detections:
        if det.class_id not in seen:
            seen.add(det.class_id)
            yield det


class _TrackSink:
    """A pipeline sink that keeps each result in the track."""

    def __init__(self, track: ScoreTrack) -> None:
        self.track = track
        self.frames = 0

    def write(self, item: ProcessedFrame) -> None:
        self.track.add(item.result)
        self.frames += 1

    def close(self) -> None:
        pass


class FileScan:
    """Every frame of the video at ``path`` through ``model`` into ``track``, in a
    thread of its own. ``on_done(message)`` comes in that thread at the end: ""
    when the file was scanned to its end, "cancelled", or the error in one line."""

    def __init__(self, path: str | Path, model, settings: LocalizeSettings, track: ScoreTrack, *,
                 on_done: Callable[[str], None] | None = None, batch_size: int = SCAN_BATCH,
                 workers: int = 1) -> None:
        if not isinstance(track, ScoreTrack):
            raise TypeError(f"track must be a ScoreTrack, got {type(track).__name__}")
        self.path = Path(path)
        self.model = model
        self.settings = scan_settings(settings)
        self.track = track
        self.on_done = on_done
        self.batch_size = batch_size
        self.workers = workers
        self.total: int | None = None  # frames in the file (its header's word), once open
        self.message: str | None = None  # None while it runs; then as on_done says
        self._sink = _TrackSink(track)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def frames(self) -> int:
        """Frames scanned so far."""
        return self._sink.frames

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FileScan:
        if self._thread is not None:
            raise RuntimeError("this scan has started already")
        self._thread = threading.Thread(target=self._run, name="camvideo-scan", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop at the next batch (``on_done("cancelled")``)."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the scan's thread has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        message = ""
        try:
            message = self._scan()
        except Exception as exc:  # noqa: BLE001 - one line to on_done, never a dead thread
            message = describe(exc)
        self.message = message
        if self.on_done is not None:
            self.on_done(message)

    def _scan(self) -> str:
        from camvideo.runtime.localizer import FrameLocalizer
        from camvideo.runtime.run import RunRequest, run_source

        if self._cancel.is_set():
            return "cancelled"
        # as fast as the scan takes the frames: nothing dropped; no overlay
        request = RunRequest(self.path, lambda info: FrameLocalizer(self.model, self.settings), sinks=(self._sink,),
                             batch_size=self.batch_size, workers=self.workers)
        report = run_source(request, self._cancel.is_set, on_ready=self._opened)
        if report.stop == "requested":
            return "cancelled"
        if report.error is not None:
            return describe(report.error)
        return "cancelled" if self._cancel.is_set() else ""

    def _opened(self, info) -> None:
        self.total = info.frame_count
