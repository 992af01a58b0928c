"""What a rerun can skip: the summary's lines against the plan's jobs.

A rerun skips a job whose outputs are complete: the summary's last line for it
says done, for the same source size and modification time and the same
settings, and every output is there under its final name, of the size that line
recorded, with no ``.partial`` file beside it. Everything else is redone
(``overwrite`` redoes everything). Another source's results where a job would
write are an error, never replaced silently, and so is a file where a job's
recording or export would go that no camvideo run made (a user's own file).

A ``.partial`` output that a stopped run left where this run writes nothing (its
recording, when this run records none; its data in the other format) is never
touched: ``stale_note`` names it, in one line, with what to do about it. One
where this run writes (a file it redoes) is kept as ``NAME.partial-N.EXT`` by the
job before it writes (``camvideo.batch.job``), as a single ``camvideo process``
keeps it; ``kept_note`` says so, in one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from camvideo.batch import EXPORT_FORMATS
from camvideo.batch.plan import Job, Plan, is_camvideo_recording
from camvideo.errors import OutputError
from camvideo.video.recorder import partial_path


def is_complete(job: Job, record: dict | None, config: str, sizes: Mapping[str, int] | None = None) -> bool:
    """Can a rerun skip ``job``, given the summary's last line for it? Only when that
    line says done for this source's size, time and settings, and the outputs are
    the very files it wrote: each of the size the line recorded (``bytes``; a line
    written before sizes were: the export's lines and the recording's frames against
    its ``frames``), with no ``.partial`` file beside it. ``sizes``: the outputs'
    sizes in a store (``camvideo.batch.storage``, where no object is partial)."""
    if record is None or record.get("status") != "done" or job.kind == "missing":
        return False
    if record.get("size") != job.size or record.get("mtime_ns") != job.mtime_ns or record.get("config") != config:
        return False
    if sizes is not None:
        recorded = dict(zip(record.get("outputs") or (), record.get("bytes") or ()))
        return all(recorded.get(p) is not None and recorded.get(p) == sizes.get(p) for p in job.outputs)
    if not all(os.path.isfile(p) and not partial_path(Path(p)).exists() for p in job.outputs):
        return False
    sizes = record.get("bytes")
    if isinstance(sizes, list):
        recorded = dict(zip(record.get("outputs") or (), sizes))
        return all(recorded.get(p) is not None and recorded.get(p) == _size(p) for p in job.outputs)
    frames = record.get("frames")
    return not isinstance(frames, int) or all(_frames_in(p) in (None, frames) for p in job.outputs)


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _frames_in(path: str) -> int | None:
    """Frames in an output: a JSONL's lines, a recording's video packets (-1 when it
    cannot be read: not to be trusted); None for a CSV (its rows are detections)."""
    import av

    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".jsonl":
            with open(path, "rb") as file:
                return sum(1 for line in file if line.strip())
        if suffix in (".mkv", ".mp4"):
            with av.open(path) as container:
                return sum(1 for packet in container.demux(video=0) if packet.size)
    except (OSError, ValueError, av.FFmpegError):
        return -1
    return None


def split_resumed(plan: Plan, records: Iterable[dict], config: str, *, overwrite: bool = False,
                  sizes: Mapping[str, int] | None = None) -> tuple[list[Job], list[Job]]:
    """(jobs to run, jobs already complete) for this run. ``records`` are the
    summary's lines in file order; a job's last line that ran it counts (a
    ``skipped`` line only repeats the one before it). Outputs of another source at
    the same place (``process day1 --output-dir out`` then ``process day2 --output-dir
    out``) are an ``OutputError`` unless ``overwrite``: never replaced silently."""
    last: dict[str, dict] = {}
    for record in records:
        if record.get("status") != "skipped" and isinstance(record.get("rel"), str):
            last[record["rel"]] = record
    if not overwrite:
        _check_same_sources(plan, last, sizes)
    todo, done = [], []
    for job in plan.jobs:
        (done if not overwrite and is_complete(job, last.get(job.rel), config, sizes) else todo).append(job)
    return todo, done


def _check_same_sources(plan: Plan, last: dict[str, dict], sizes: Mapping[str, int] | None = None) -> None:
    """``OutputError`` when a job's outputs hold another source's results, or where its
    outputs would go files that no camvideo run made (``_strangers``)."""
    clashes = []
    strangers = [found for job in plan.jobs if job.rel not in last and sizes is None
                 for found in _strangers(job)]
    if strangers:
        (path, what), more = strangers[0], f" (and {len(strangers) - 1} more)" if len(strangers) > 1 else ""
        raise OutputError(f"{path} is there and is not a camvideo {what}{more}: give another "
                          f"--output-dir, or --overwrite to replace {'them' if more else 'it'}")
    for job in plan.jobs:
        record = last.get(job.rel) or {}
        other = record.get("source")
        there = (lambda p: p in sizes) if sizes is not None else os.path.exists
        if isinstance(other, str) and other != job.source and any(there(p) for p in job.outputs):
            clashes.append((job, other))
    if clashes:
        job, other = clashes[0]
        more = f" (and {len(clashes) - 1} more files)" if len(clashes) > 1 else ""
        raise OutputError(f"{plan.output_dir} holds the results of {other} where {job.source} would write"
                          f"{more}: give another --output-dir, or --overwrite to replace them")


def _strangers(job: Job) -> list[tuple[str, str]]:
    """``job``'s outputs that are files a camvideo run did not write (a user's own video
    or data of that name), each with what it is not: a run's recordings say so in their
    container (``plan.is_camvideo_recording``), its exports by their first line
    (``made_by_camvideo_export``), those whose summary line a killed driver never wrote too."""
    from camvideo.video.export import made_by_camvideo_export

    found = []
    if job.recording is not None and os.path.isfile(job.recording) and not is_camvideo_recording(job.recording):
        found.append((job.recording, "recording"))
    if job.export is not None and os.path.isfile(job.export) and not made_by_camvideo_export(job.export):
        found.append((job.export, "export"))
    return found


def stale_partials(plan: Plan) -> list[str]:
    """The ``.partial`` files beside ``plan``'s outputs that this run will not write
    (a run stopped part way left them: its recording when this run records none,
    its data in another ``--export-format``). Read with the output folder's lock held,
    so none of them is growing."""
    found = []
    for job in plan.jobs:
        final = job.export or job.recording
        base = final[: -len("_cam.mkv")] if job.export is None else os.path.splitext(final)[0]
        names = [base + "_cam.mkv"] + [f"{base}.{f}" for f in EXPORT_FORMATS if f != "none"]
        found += [str(partial_path(Path(n))) for n in names if n not in job.outputs]
    return [p for p in found if os.path.isfile(p)]


def stale_note(paths: list[str]) -> str | None:
    """One line about ``stale_partials`` (None when there are none): what they are,
    where they come from, that this run keeps them, and what to do."""
    if not paths:
        return None
    if len(paths) > 1:
        more = f"{paths[0]}, {paths[1]}" + (f" and {len(paths) - 2} more" if len(paths) > 2 else "")
        return (f"{len(paths)} outputs of an earlier run that was stopped part way, which this run does not write, "
                f"are kept as they are ({more}; each holds the frames up to the stop, a recording plays): "
                "delete them, or run again with the outputs that run wrote to redo them")
    path = paths[0]
    if path.endswith("_cam.partial.mkv"):
        frames = _frames_in(path)
        what, redo, this = "the recording", "with a recording (without --no-recording)", "records nothing"
        held = f"it plays {frames} frame{'s' * (frames != 1)}" if frames > 0 else "it holds no whole frame"
    else:
        fmt = path.rsplit(".", 1)[-1]
        what, redo, this = "the data", f"with --export-format {fmt}", "writes no ." + fmt
        held = "its frames up to the stop"
    return (f"{path} is {what} of an earlier run that was stopped part way ({held}); this run {this} "
            f"and keeps it as it is: delete it, or run again {redo} to redo it")


def kept_partials(jobs) -> list[str]:
    """The ``.partial`` files beside the outputs of ``jobs`` (whole files this run
    redoes) that a stopped run left: each job keeps them as ``NAME.partial-N.EXT``
    before it writes (``camvideo.batch.job``)."""
    return [p for job in jobs for p in (str(partial_path(Path(o))) for o in job.outputs) if os.path.isfile(p)]


def kept_note(paths: list[str]) -> str | None:
    """One line about ``kept_partials`` (None when there are none)."""
    if not paths:
        return None
    shown = ", ".join(paths[:2]) + (f" and {len(paths) - 2} more" if len(paths) > 2 else "")
    return (f"{shown}, left by an earlier run that was stopped part way, {'is' if len(paths) == 1 else 'are'} kept "
            "as NAME.partial-N.EXT (the frames up to the stop; a recording plays) before the file is redone")
