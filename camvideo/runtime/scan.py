"""What the model saw in a video file, frame by frame: the store and the scan.

``ScoreTrack`` keeps one result per frame (its classes, scores and boxes, no
maps) from any thread: the window's live frames as they are shown, and a
``FileScan``'s. It answers what a timeline draws: the classes that matter most
over the file, one class's score over time, and the stretches where a class is
the top class. Results of fixed classes (One class) only fill in those
classes' scores (``add_fixed``): they cannot say which class was on top.

It keeps the stretches of the file that could not be decoded too
(``add_damage``): the strip shows them apart from the frames not analysed yet.

``FileScan`` runs the whole file through the engine (``run_source``) at full
speed in the background: a reader and a localizer of its own on the same
model, not those of the view, no overlay, one forward thread (the view keeps
the other core); ``cancel`` stops it within a batch. With ``export`` it is the
window's "Save as JSONL": ``camvideo process --export`` with the window's
settings, the same lines, the file whole or not at all.

Results must come from ranked classes (no ``class_ids``): the rank says which
class was on top. A class outside a frame's kept classes counts as 0 there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from camvideo.errors import OutputError, describe, reason
from camvideo.frames import ProcessedFrame
from camvideo.results import NO_MAPS, FrameResult
from camvideo.settings import LocalizeSettings
from camvideo.video.decoding import Damage

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
        self._fixed: dict[int, dict[int, tuple[float, float]]] = {}  # class -> frame -> (time, score)
        self._damage: tuple[Damage, ...] = ()  # the stretches that could not be decoded, as found
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

    def add_fixed(self, result: FrameResult) -> None:
        """Keep the scores of a result of fixed classes (``class_ids``: One class):
        they fill in those classes' ``series`` where no ranked result was kept, but
        never say which class was on top (``stretches`` read ranked results only)."""
        if not isinstance(result, FrameResult):
            raise TypeError(f"result must be a FrameResult, got {type(result).__name__}")
        with self._lock:
            for det in _classes(result):
                self._fixed.setdefault(det.class_id, {})[result.frame] = (result.time, det.score)
            self.version += 1

    def add_damage(self, damage: Iterable[Damage]) -> None:
        """Keep the stretches of the file that could not be decoded (the source's
        ``Damage``s, as it reads or as a scan found them), each once."""
        damage = tuple(damage)
        if not all(isinstance(d, Damage) for d in damage):
            raise TypeError("damage must be Damage stretches (camvideo.video.decoding)")
        with self._lock:
            new = tuple(d for d in dict.fromkeys(damage) if d not in self._damage)
            if new:
                self._damage = tuple(sorted((*self._damage, *new), key=lambda d: d.first))
                self.version += 1

    @property
    def damage(self) -> tuple[Damage, ...]:
        """The stretches that could not be decoded, in frame order."""
        return self._damage

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._fixed.clear()
            self._damage = ()
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
        """(times, scores) of ``class_id`` over the frames kept, in frame order (0 where
        it is not among a ranked frame's classes; a fixed-class score where only that was kept)."""
        points = {r.frame: (r.time, next((d.score for d in _classes(r) if d.class_id == class_id), 0.0))
                  for r in self.results()}
        with self._lock:
            fixed = dict(self._fixed.get(class_id, {}))
        points = {**fixed, **points}  # a ranked result wins
        order = sorted(points)
        times = np.array([points[f][0] for f in order], np.float64)
        scores = np.array([points[f][1] for f in order], np.float32)
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


def _classes(result: FrameResult):
    """One detection per class (a class with several boxes has one entry per box)."""
    seen = set()
    for det in result.detections:
        if det.class_id not in seen:
            seen.add(det.class_id)
            yield det


class _TrackSink:
    """A pipeline sink that keeps each result in the track (None: only counts them)."""

    def __init__(self, track: ScoreTrack | None) -> None:
        self.track = track
        self.frames = 0

    def write(self, item: ProcessedFrame) -> None:
        if self.track is not None:
            self.track.add(item.result)
        self.frames += 1

    def close(self) -> None:
        pass


class FileScan:
    """Every frame of the video at ``path`` through ``model`` into ``track``, in a
    thread of its own. ``on_done(message)`` comes in that thread at the end: ""
    when the file was scanned to its end, "cancelled", or the error in one line.

    With ``export`` (a .jsonl or .csv path) it is ``camvideo process SOURCE
    --export FILE`` run from the window: ``settings`` as they are (not the scan's),
    the same ``run_source`` and exporter, so the lines are the command line's; the
    track is left alone. A cancelled or failed export leaves no file under that name."""

    def __init__(self, path: str | Path, model, settings: LocalizeSettings, track: ScoreTrack | None, *,
                 on_done: Callable[[str], None] | None = None, batch_size: int = SCAN_BATCH,
                 workers: int = 1, export: str | Path | None = None) -> None:
        if export is None and not isinstance(track, ScoreTrack):
            raise TypeError(f"track must be a ScoreTrack, got {type(track).__name__}")
        if not isinstance(settings, LocalizeSettings):
            raise TypeError(f"settings must be a LocalizeSettings, got {type(settings).__name__}")
        self.path = Path(path)
        self.model = model
        self.export = Path(export) if export is not None else None
        self.settings = settings if self.export is not None else scan_settings(settings)
        self.track = track
        self.on_done = on_done
        self.batch_size = batch_size
        self.workers = workers
        self.total: int | None = None  # frames in the file (its header's word), once open
        self.message: str | None = None  # None while it runs; then as on_done says
        self._sink = _TrackSink(track if self.export is None else None)
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
        export = self.export
        saving = export.with_name(f".{export.stem}.saving{export.suffix}") if export is not None else None
        request = RunRequest(self.path, lambda info: FrameLocalizer(self.model, self.settings), sinks=(self._sink,),
                             batch_size=self.batch_size, workers=self.workers, export=saving,
                             protect_inputs=export is not None)
        try:
            report = run_source(request, self._cancel.is_set, on_ready=self._opened)
            if self.export is None:
                self.track.add_damage(report.damage)  # what the scan could not decode shows on the strip
            stopped = report.stop == "requested" or self._cancel.is_set()
            failed = report.error or (report.sink_errors[0] if report.sink_errors else None)
            if saving is not None and not stopped and failed is None:
                try:  # complete: it replaces a file of that name only now
                    os.replace(saving, export)
                except OSError as exc:
                    failed = OutputError(f"cannot write {export}: {reason(exc)}")
        finally:
            if saving is not None:
                with contextlib.suppress(OSError):
                    saving.unlink()
        if stopped:
            return "cancelled"
        return describe(failed) if failed is not None else ""

    def _opened(self, info) -> None:
        self.total = info.frame_count
