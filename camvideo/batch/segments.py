"""One long video on several workers: the file cut into segments, each a job, joined after.

A video file is split when the run has more than one worker, ``--segment-seconds``
is not 0, the file lasts at least twice that, and it is longer than its fair share
of the run (the duration of every file to run over the workers): so files are split
where workers would otherwise idle (one long recording, or a long one among short
ones), never in an archive of many files of like length. Its segments are stretches
of about ``--segment-seconds`` (the last one runs to the file's end, whatever its
header said), each processed on any worker or Ray actor as a job of its own.

Each segment decodes from ``WARM_UP_FRAMES`` frames before its first (a seek to the
keyframe before them, decoded forward: no frame is skipped), runs them through the
model and the smoothing and drops them before the outputs: the temporal smoothing
(exponential averages of 0.1-0.25 per frame) has forgotten its fresh start by the
first frame written. Frame numbers and times are the file's own (the source's
timestamps; this needs a constant frame rate, as a file's own numbering after a
seek does).

A segment's outputs are written, like any job's, as ``.partial`` files renamed when
complete, in a hidden folder beside the file's outputs (``.NAME.camvideo-segments/``);
when one is done, a marker (``NNNN.json``: the source's size and time, the settings,
the frames and the outputs' sizes) is written beside them, whole or absent. When
every segment of a file is done, ``camvideo.batch.stitch`` joins them into the
file's one recording (the packets remuxed, no new encoding, the source's audio
copied along) and one data file, each complete under its final name or not at all;
the summary gets one line for the file, its segments' figures in ``segments``; then
the folder is removed. A run stopped or killed part way keeps the finished segments:
the rerun redoes only the segments without a valid marker, then joins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from camvideo.batch import DEFAULT_SEGMENT_S  # noqa: F401 - its documented home is here too
from camvideo.batch.job import JobResult, Reporter
from camvideo.batch.plan import Job, Segment
from camvideo.video.files import VideoFileSource, video_duration
from camvideo.video.reader import Frame

log = logging.getLogger(__name__)

WARM_UP_FRAMES = 60  # the smoothing's slowest average (0.1 a frame) keeps 0.9^60 = 0.2 % of its start


# -- in the worker: a segment's frames, its outputs trimmed ------------------------------

class SegmentSource(VideoFileSource):
    """The frames ``warm_from`` up to ``end`` of a video file, numbered and timed as the file's own."""

    def __init__(self, path: str | Path, segment: Segment) -> None:
        super().__init__(path)
        self.segment = segment
        self._start_at = segment.seek_s  # where the reader starts (the keyframe before is found by the decoder)
        if segment.end is not None:
            self.frame_count_hint = segment.end - segment.warm_from
        elif self.frame_count_hint:
            self.frame_count_hint = max(1, self.frame_count_hint - segment.warm_from)

    def _frames(self, start: float) -> Iterator[Frame]:
        first, end = self.segment.warm_from, self.segment.end
        for frame in super()._frames(start):
            if end is not None and frame.index >= end:
                return
            if frame.index >= first:
                yield frame


class _Trimmed:
    """An output that drops the frames before ``first`` (the warm-up); everything else is the output's."""

    def __init__(self, sink, first: int) -> None:
        self._sink, self._first = sink, first

    def write(self, item) -> None:
        if item.index >= self._first:
            self._sink.write(item)

    def close(self) -> None:
        self._sink.close()

    def __getattr__(self, name):
        return getattr(self._sink, name)


def trimmed(first: int):
    """The ``RunRequest.wrap_output`` of a segment starting at frame ``first``."""
    return lambda sink: _Trimmed(sink, first)


# -- in the driver: which files are split, and where ---------------------------------

@dataclasses.dataclass(frozen=True)
class Probe:
    """What a file's header says: its frame count (an estimate), rate and first frame's time."""

    frames: int
    rate: float
    start: float

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def probe(path: str) -> Probe | None:
    """The header's frame count and rate of a video file; None when it does not say them."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0.0)
            frames = stream.frames or 0
            if not frames and rate:
                frames = int(round((video_duration(container, stream) or 0.0) * rate))
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None
    return Probe(frames, rate, start) if frames > 0 and rate > 0 else None


def frame_size(path: str) -> tuple[int, int]:
    """(width, height) of a video file's frames from its header; 64x64 when it does not say."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            return (stream.width or 64, stream.height or 64)
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return (64, 64)


def cut(job: Job, info: Probe, segment_s: float, warm_up: int = WARM_UP_FRAMES) -> tuple[Segment, ...]:
    """The segments of ``job``: about ``segment_s`` seconds each, the last to the file's end."""
    length = max(1, int(round(segment_s * info.rate)))
    count = max(1, math.ceil(info.frames / length - 0.5))  # no stub shorter than half a segment at the end
    segments = []
    for number in range(count):
        first = number * length
        warm_from = max(0, first - warm_up)
        seek = 0.0 if warm_from == 0 else info.start + (warm_from - 0.5) / info.rate
        end = None if number == count - 1 else first + length
        segments.append(Segment(number, count, first, end, warm_from, seek, job.index))
    return tuple(segments)


def folder_of(job: Job) -> Path:
    """The hidden folder beside a file's outputs that holds its segments while they run."""
    final = Path(job.export or job.recording)
    stem = final.name[: -len("_cam.mkv")] if job.export is None else final.stem
    return final.with_name(f".{stem}.camvideo-segments")


def segment_job(job: Job, segment: Segment, index: int) -> Job:
    folder = folder_of(job)
    name = f"{segment.number:04d}"
    return dataclasses.replace(
        job, index=index, segment=segment,
        recording=str(folder / f"{name}_cam{Path(job.recording).suffix}") if job.recording else None,
        export=str(folder / f"{name}{Path(job.export).suffix}") if job.export else None)


def marker_path(part: Job) -> Path:
    return folder_of_part(part) / f"{part.segment.number:04d}.json"


def folder_of_part(part: Job) -> Path:
    return Path(part.outputs[0]).parent


def _marker(part: Job, result: JobResult, config: str) -> dict:
    segment = part.segment
    return {"source": part.source, "size": part.size, "mtime_ns": part.mtime_ns, "config": config,
            "first": segment.first, "end": segment.end, "count": segment.count, "frames": result.frames,
            "seconds": round(result.seconds, 3), "worker": result.worker, "outputs": list(part.outputs),
            "bytes": [os.path.getsize(p) for p in part.outputs],
            **({"damaged": result.damage} if result.damage else {})}


def write_marker(part: Job, result: JobResult, config: str) -> dict:
    """Record a done segment, whole or absent (a temporary file synced, then renamed)."""
    record = _marker(part, result, config)
    path = marker_path(part)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(record, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return record


def read_marker(part: Job, config: str) -> dict | None:
    """A done segment's marker when it matches this run (source, settings, bounds) and its
    outputs are still the bytes it recorded, with no ``.partial`` beside; else None."""
    from camvideo.video.recorder import partial_path

    try:
        record = json.loads(marker_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    segment = part.segment
    expected = {"source": part.source, "size": part.size, "mtime_ns": part.mtime_ns, "config": config,
                "first": segment.first, "end": segment.end, "count": segment.count, "outputs": list(part.outputs)}
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in expected.items()):
        return None
    for path, size in zip(part.outputs, record.get("bytes") or ()):
        if not os.path.isfile(path) or os.path.getsize(path) != size or partial_path(Path(path)).exists():
            return None
    return record if len(record.get("bytes") or ()) == len(part.outputs) else None


def should_split(probes: dict[int, Probe], workers: int, segment_s: float) -> set[int]:
    """The job indices to split (see the module's docstring): none with one worker or ``segment_s`` 0."""
    if workers < 2 or segment_s <= 0:
        return set()
    share = sum(p.seconds for p in probes.values()) / workers
    return {i for i, p in probes.items() if p.seconds >= 2 * segment_s and p.seconds > share}


def remove(job: Job) -> None:
    """Remove a file's segment folder (its segments are joined, or no longer wanted)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder_of(job))


class Units:
    """The work of a run: whole files and segments, and what joins the segments back."""

    def __init__(self, todo: Sequence[Job], workers: int, segment_s: float, config: str, *,
                 max_frames: int | None = None) -> None:
        self.config = config
        self.parts: dict[int, list[Job]] = {}  # file index -> its segment jobs (all of them)
        self.done: dict[int, dict[int, dict]] = {}  # file index -> segment number -> marker
        self.files = {job.index: job for job in todo}
        videos = [j for j in todo if j.kind == "video"] if max_frames is None else []
        probes = {}
        for job in videos:
            if segment_s > 0 and workers > 1 or folder_of(job).is_dir():
                info = probe(job.source)
                if info is not None:
                    probes[job.index] = info
        split = should_split(probes, workers, segment_s)
        split |= {j.index for j in videos if j.index in probes and folder_of(j).is_dir()}  # resume a split
        next_index = 1 << 30  # segment jobs' indices: above every file's
        self.jobs: list[Job] = []
        for job in todo:
            if job.index not in split or segment_s <= 0:
                if job.kind == "video":
                    remove(job)  # leftovers of an earlier split: this run does the file whole
                self.jobs.append(job)
                continue
            parts = [segment_job(job, s, next_index + s.number) for s in cut(job, probes[job.index], segment_s)]
            next_index += len(parts)
            folder_of(job).mkdir(exist_ok=True)
            self.parts[job.index] = parts
            self.done[job.index] = {}
            for part in parts:
                marker = read_marker(part, config)
                if marker is not None:
                    self.done[job.index][part.segment.number] = marker
                else:
                    self.jobs.append(part)

    def ready(self) -> list[int]:
        """Files whose every segment is done already (a run killed before its join)."""
        return [i for i, parts in self.parts.items() if len(self.done[i]) == len(parts)]


class SegmentedReporter:
    """Between a backend and the driver's reporter: whole files pass through; a segment's
    result is recorded (its marker), and when a file's last segment is done the file is
    joined and reported as one result. A failed or interrupted segment makes the file's
    result (its done segments stay for the rerun)."""

    def __init__(self, inner: Reporter, units: Units, display=None) -> None:
        self.inner, self.units, self.display = inner, units, display
        self._results: dict[int, list[JobResult]] = {}
        self._started: dict[int, float] = {}

    def started(self, job: Job, worker: str) -> None:
        if job.segment is None:
            self.inner.started(job, worker)
            return
        self._started.setdefault(job.segment.parent, time.time())
        segment = job.segment
        self.inner.started(dataclasses.replace(job, rel=f"{job.rel} [{segment.number + 1}/{segment.count}]"), worker)

    def progress(self, job: Job, frames: int, total: int | None) -> None:
        self.inner.progress(job, frames, total)

    def finished(self, result: JobResult) -> None:
        part = result.job
        if part.segment is None:
            self.inner.finished(result)
            return
        parent = part.segment.parent
        if self.display is not None:
            self.display.part_finished(part, result)
        if result.status == "done":
            try:
                self.units.done[parent][part.segment.number] = write_marker(part, result, self.units.config)
            except OSError as exc:
                result = dataclasses.replace(result, status="failed", reason=f"cannot record the segment: {exc}")
        self._results.setdefault(parent, []).append(result)
        if result.status != "done" or len(self.units.done[parent]) == len(self.units.parts[parent]):
            self.settle(parent)

    def settle(self, parent: int) -> None:
        """Report the file ``parent``: joined when every segment is done, else failed or interrupted."""
        from camvideo.batch.stitch import join_file

        job = self.units.files[parent]
        parts, done = self.units.parts.pop(parent, None), self.units.done.get(parent, {})
        if parts is None:
            return  # already reported (a second failed segment)
        results = self._results.pop(parent, [])
        bad = [r for r in results if r.status != "done"]
        started = self._started.pop(parent, time.time())
        figures = tuple({"first": p.segment.first, "end": p.segment.end, **_figures(done.get(p.segment.number))}
                        for p in parts)
        if bad:
            worst = next((r for r in bad if r.status == "failed"), bad[0])
            segment = worst.job.segment
            why = worst.reason if worst.status == "failed" else None
            reason = f"segment {segment.number + 1} of {segment.count} (frames from {segment.first}): {why}" \
                if why else None
            frames = sum(m.get("frames", 0) for m in done.values())
            self.inner.finished(JobResult(job, worst.status, frames=frames, reason=reason, worker=worst.worker,
                                          started=started, finished=time.time(), segments=figures,
                                          seconds=time.time() - started))
            return
        self.inner.finished(join_file(job, parts, started, figures))
        remove(job)


def _figures(marker: dict | None) -> dict:
    if marker is None:
        return {"status": "not done"}
    return {"frames": marker.get("frames"), "seconds": marker.get("seconds"), "worker": marker.get("worker"),
            **({"damaged": marker["damaged"]} if marker.get("damaged") else {})}
