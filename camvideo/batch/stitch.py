"""A file's segments joined into its one recording and its one data file.

The recording: the segments' H.264 packets remuxed in order into one Matroska or
fragmented MP4 file (no new encoding: each segment's encoder started on a keyframe
with the same settings, so the packets follow on), the source's audio copied
along, interleaved by time; the timestamps are the source's own, as each segment
wrote them. The data: the segments' JSONL lines (or CSV rows, one header) in order.
Each output is written as ``NAME.partial.EXT``, synced and renamed to its name when
whole, as every output of camvideo: a join that fails leaves an earlier output as it
was and removes its ``.partial`` (the segments stay for the rerun).
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from camvideo.batch.job import JobResult, worker_name
from camvideo.batch.plan import Job
from camvideo.errors import reason

log = logging.getLogger(__name__)


def join_file(job: Job, parts: Sequence[Job], started: float, figures: tuple[dict, ...]) -> JobResult:
    """Join ``parts`` (every segment of ``job``, done) into ``job``'s outputs: the file's result."""
    import av

    t0 = time.monotonic()
    frames = sum(int(f.get("frames") or 0) for f in figures)
    try:
        if job.recording:
            join_recordings([p.recording for p in parts], job.recording, audio_from=job.source)
        if job.export:
            join_exports([p.export for p in parts], job.export)
    except (OSError, ValueError, av.FFmpegError) as exc:
        return JobResult(job, "failed", frames=frames, reason=f"joining its segments failed: {reason(exc)}",
                         worker=worker_name(), started=started, finished=time.time(), segments=figures)
    work = sum(float(f.get("seconds") or 0.0) for f in figures) + time.monotonic() - t0
    damage = "; ".join(f"segment {n} of {len(figures)}: {f['damaged']}" for n, f in enumerate(figures, 1)
                       if f.get("damaged"))
    return JobResult(job, "done", frames=frames, seconds=work, outputs=job.outputs, worker=worker_name(),
                     started=started, finished=time.time(), segments=figures, damage=damage or None)


@contextlib.contextmanager
def _complete(final: str | Path):
    """A ``.partial`` file to write, synced and renamed to ``final`` when the block ends well.
    One that a stopped earlier run left there (its whole-file recording or data) is kept as
    ``NAME.partial-N.EXT`` first, as a whole-file job keeps it (``video.outputs.set_aside``)."""
    from camvideo.video.outputs import partial_path, set_aside

    partial = partial_path(Path(final))
    kept = set_aside(partial)
    if kept is not None:
        log.info("%s, left by an earlier run that stopped, is kept as %s", partial, kept.name)
    try:
        with open(partial, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)


def join_exports(parts: Sequence[str], final: str) -> None:
    """The segments' data files, in order, as one (a CSV keeps its first header only)."""
    csv = final.lower().endswith(".csv")
    with _complete(final) as out:
        for number, part in enumerate(parts):
            with open(part, "rb") as file:
                if csv and number:
                    file.readline()
                while block := file.read(1 << 20):
                    out.write(block)


def _packets(path: str, video: bool) -> Iterator:
    """A container's video (or audio) packets with a time, in file order."""
    import av

    with av.open(path) as container:
        streams = container.streams.video if video else container.streams.audio
        if not streams:
            return
        stream = streams[0]
        for packet in container.demux(stream):
            if packet.dts is None and packet.size == 0:
                continue  # the demuxer's flush packet
            if packet.pts is not None and packet.pts < 0:
                continue  # encoder priming before time 0
            yield packet


def _timed(packets: Iterator, order: int) -> Iterator:
    for number, packet in enumerate(packets):
        pts = packet.pts if packet.pts is not None else packet.dts
        yield (float(pts * packet.time_base) if pts is not None else 0.0), order, number, packet


def join_recordings(parts: Sequence[str], final: str, *, audio_from: str | None = None) -> None:
    """The segments' recordings remuxed into ``final`` (their timestamps kept), with the
    audio of ``audio_from`` (where it has some) interleaved by time."""
    import av

    from camvideo.video.recorder import CONTAINERS, RECORDING_TAG

    fmt, options = CONTAINERS[Path(final).suffix.lower()]
    with av.open(parts[0]) as first:
        template = first.streams.video[0]
        with _complete(final) as file, av.open(file, "w", format=fmt, container_options=dict(options)) as out:
            out.metadata[RECORDING_TAG[0]] = RECORDING_TAG[1]
            video = out.add_stream_from_template(template)
            audio, audio_packets = _audio_stream(out, audio_from)
            videos = (packet for part in parts for packet in _packets(part, video=True))
            last = None
            for _time, order, _n, packet in heapq.merge(_timed(videos, 0), _timed(audio_packets, 1)):
                if order == 0:
                    if last is not None and packet.dts is not None and packet.dts <= last:
                        raise ValueError(f"{final}: the segments overlap in time (at {_time:.3f} s)")
                    last = packet.dts if packet.dts is not None else last
                packet.stream = video if order == 0 else audio
                out.mux(packet)


def _audio_stream(out, source: str | None):
    """(the output's audio stream, the source's audio packets), or (None, nothing)."""
    import av

    if source is None:
        return None, iter(())
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                return None, iter(())
            stream = out.add_stream_from_template(container.streams.audio[0])
    except (av.FFmpegError, ValueError, OSError):
        return None, iter(())  # the recording goes without sound, as a single run's would
    return stream, _packets(source, video=False)


def agreement(whole: str | Path, joined: str | Path) -> dict:
    """How a joined JSONL compares with a whole-file run's, frame by frame: frames (both),
    ``same_frames`` (frame numbers and times equal), ``identical`` (the share of lines
    equal), ``top1`` (the share of frames with the same first class), ``iou`` (the mean
    IoU of their first boxes where the class agrees) and ``differing`` (frame numbers)."""
    import json

    def lines(path):
        with open(path, encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]

    a, b = lines(whole), lines(joined)
    pairs = list(zip(a, b))
    top = [(x["detections"][:1] or [{}])[0] for x in a], [(y["detections"][:1] or [{}])[0] for y in b]
    same_class = [p.get("class_id") == q.get("class_id") for p, q in zip(*top)]
    ious = [_iou(p.get("box"), q.get("box")) for (p, q), same in zip(zip(*top), same_class) if same]
    return {"frames": (len(a), len(b)),
            "same_frames": [(x["frame"], x["time"]) for x in a] == [(y["frame"], y["time"]) for y in b],
            "identical": sum(x == y for x, y in pairs) / max(1, len(pairs)),
            "top1": sum(same_class) / max(1, len(same_class)),
            "iou": sum(ious) / len(ious) if ious else 1.0,
            "differing": [x["frame"] for x, y in pairs if x != y]}


def _iou(p, q) -> float:
    if not p or not q:
        return 1.0 if p == q else 0.0
    width = max(0, min(p[2], q[2]) - max(p[0], q[0]))
    height = max(0, min(p[3], q[3]) - max(p[1], q[1]))
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - width * height
    return width * height / union if union > 0 else 1.0
