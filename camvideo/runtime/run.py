"""One run of a source, the one use case every front end calls: ``run_source``.

``camvideo process``, a batch job, the window's file scan and the benchmark each
describe their run in a ``RunRequest``; ``run_source`` opens the source, checks
that no output is one of its files (when asked), opens the recording and the
export, makes the localizer (``make_localizer(info)``: the caller's model, made
after the source opened, so a bad input fails before a model loads), runs the
``Pipeline`` with one wait loop and closes everything, also when something fails
half way: every output is closed, the source closed. An output takes its final
name only when the run ended well (the source's end, or a stop request where no
earlier file of that name would be replaced by a part of a file source; with
``partial_when_stopped``, none after a stop request before a file's end) and the
output itself was written whole; after a write error or a failed pipeline, every
output stays as its ``.partial`` file and an earlier file of the final name is
left as it was (``RunReport.outputs`` lists the outputs that took their names). What happened comes back in a
``RunReport``: frames, dropped, seconds, damage, why it stopped and the errors;
errors of the run itself are in the report, not raised (what fails before the
first frame, e.g. an input that cannot be opened, is raised).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from camvideo.errors import CamvideoError, OutputError
from camvideo.frames import Annotator, Localizer, Sink
from camvideo.results import FrameResult
from camvideo.video.decoding import Damage
from camvideo.video.reader import Source, SourceInfo

log = logging.getLogger(__name__)

POLL_S = 0.1


@dataclass(frozen=True)
class RunRequest:
    """What to run: ``source`` (a spec ``open_source`` opens, or a ``Source`` the run
    takes over and closes) through the localizer ``make_localizer(info)`` makes, the
    ``annotators`` (none: the frames as they are) and a HUD line when ``hud``, into
    a ``recording`` and/or an ``export`` and the extra ``sinks``. A run with neither a
    recording nor extra sinks (an export alone) draws nothing: no sink takes a picture.

    ``protect_inputs``: no output may be one of the source's files (nor another
    output), checked before anything is written; ``labels`` name the recording and
    the export in that error. ``wrap_output`` wraps each output before it is
    attached (the command line's signal guard)."""

    source: str | Path | Source
    make_localizer: Callable[[SourceInfo], Localizer]
    annotators: tuple[Annotator, ...] = ()
    recording: Path | None = None
    export: Path | None = None
    sinks: tuple[Sink, ...] = ()
    hud: bool = False
    batch_size: int | None = None  # frames per forward pass; None: workers.auto_batch's
    workers: int | None = None
    max_frames: int | None = None
    codec: str = "auto"
    preset: str = "superfast"  # camvideo.video.recorder.PRESET (not imported: OpenCV on the --help path)
    audio: bool = True  # copy a video file's audio into the recording
    protect_inputs: bool = False
    labels: tuple[str, str] = ("the recording", "the export")
    wrap_output: Callable[[Sink], Sink] | None = None
    partial_when_stopped: bool = False  # a stop before a file source's end keeps every output as .partial


@dataclass(frozen=True)
class RunReport:
    """What a run did. ``stop``: "end" (the source ended, or ``max_frames``),
    "requested" (``should_stop`` before the end), "output" (an output failed:
    ``sink_errors``) or "error" (the pipeline failed: ``error``)."""

    source: SourceInfo
    frames: int
    dropped: int
    seconds: float  # from the pipeline's start to every output closed
    stop: str
    damage: tuple[Damage, ...] = ()
    sink_errors: tuple[OutputError, ...] = ()
    error: BaseException | None = None
    recorded: int = 0  # frames in the recording
    exported: int = 0  # frames in the export
    stages: Mapping[str, float] = field(default_factory=dict)  # mean ms per frame of each stage (read-only)
    outputs: tuple[Path, ...] = ()  # the recording and export that took their final names (complete)
    kept: tuple[Path, ...] = ()  # the .partial files an incomplete run left (final names untouched)


def run_source(request: RunRequest, should_stop: Callable[[], bool] = lambda: False,
               on_progress: Callable[[int, int | None], None] | None = None, *,
               on_ready: Callable[[SourceInfo], None] | None = None) -> RunReport:
    """Run ``request`` to the end of its source, a stop request or an error.

    ``on_progress(frames, total)`` comes every ``POLL_S`` and once at the end (total:
    the source's frame count hint); ``on_ready(info)`` just before the first frame
    is read (everything is open then). Both run in the calling thread."""
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(_open(request.source))
        info = source.info
        if request.protect_inputs:
            _check_outputs(request, info)
        files = _open_outputs(request, info, stack)  # (recorder, exporter) as written, each None when not asked
        existing = [f for f in files if f is not None and Path(f.path).exists()]  # an earlier file of that name
        recorder, exporter = (_wrapped(request, f) for f in files)
        sinks = [s for s in (recorder, exporter) if s is not None] + list(request.sinks)
        # No recording and no sink of the caller's: nothing takes a picture (an export
        # alone writes the results), so none is drawn (~0.5-0.9 CPU ms a frame at 640x480).
        pipeline = _pipeline(request, source, sinks, drawn=recorder is not None or bool(request.sinks))
        if on_ready is not None:
            on_ready(info)
        start = time.monotonic()
        stop, closing = "error", []
        try:
            pipeline.start()
            stop = _wait(pipeline, should_stop, on_progress, info)
        finally:
            for file in _incomplete(stop, info, files, existing, request.partial_when_stopped):  # keep .partial
                file.abandon()
            _stop(pipeline, closing)  # joins the threads, closes the source, finalizes the outputs
        seconds = time.monotonic() - start
        stats = pipeline.stats
        if on_progress is not None:
            on_progress(stats.frames, info.frame_count)
        errors = (*pipeline.sink_errors, *(e for e in closing if e not in pipeline.sink_errors))
        return RunReport(info, stats.frames, stats.dropped, seconds,
                         "output" if closing and stop in ("end", "requested") else stop, source.damage,
                         errors, pipeline.error, _written(recorder), _written(exporter),
                         MappingProxyType(dict(stats.stage_ms)),
                         tuple(f.path for f in files if f is not None and f.finalized),
                         tuple(f.partial for f in files if f is not None and not f.finalized and f.partial.exists()))


def _pipeline(request: RunRequest, source: Source, sinks: list, drawn: bool):
    """The run's ``Pipeline``: ``request``'s localizer (made for ``source``) into ``sinks``,
    with its annotators and HUD when the frames are ``drawn`` (none otherwise)."""
    # torch (~1.5 s on two cores) once the source has opened: a file that is no video is one line at once
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.runtime.plain import NoAnnotator
    from camvideo.runtime.workers import localizer_batch

    localizer = request.make_localizer(source.info)
    batch = request.batch_size or localizer_batch(localizer, source.live)
    pipeline = Pipeline(source, localizer, request.annotators if drawn else (), sinks,
                        batch_size=batch, workers=request.workers, max_frames=request.max_frames)
    if request.hud and drawn:  # it draws in place: after an annotator that copies the frame
        pipeline.annotators = (*(request.annotators or (NoAnnotator(),)), stats_hud(lambda: pipeline.stats))
    return pipeline


def _stop(pipeline, closing: list) -> None:
    """``pipeline.stop()``; an output that could not be closed (a full disk while its
    last data were written) goes into ``closing``, to be reported with the files kept
    as the run's other output errors are, not raised past them."""
    try:
        pipeline.stop()
    except CamvideoError as exc:
        closing.append(exc)


def _incomplete(stop: str, info: SourceInfo, files, existing, every_cut: bool = False) -> list:
    """The outputs that must not take their final names: all of them after an error;
    after a stop request on a file or image source (not the whole source), all of them
    when ``every_cut``, else those whose final name holds an earlier file, which a part
    of the source must not replace."""
    if stop in ("output", "error") or (stop == "requested" and not info.live and every_cut):
        return [f for f in files if f is not None]
    if stop == "requested" and not info.live:
        return list(existing)
    return []


def _wait(pipeline, should_stop, on_progress, info: SourceInfo) -> str:
    """The one wait loop: until the pipeline finishes, a stop request or an output fails."""
    while not pipeline.wait(POLL_S):
        if on_progress is not None:
            on_progress(pipeline.stats.frames, info.frame_count)
        if should_stop() and not pipeline.finished:  # it may have ended meanwhile: then it is done
            return "requested"
        if pipeline.sink_errors:
            return "output"
    if pipeline.sink_errors:
        return "output"
    return "error" if pipeline.error is not None else "end"


def _open(source: str | Path | Source):
    if isinstance(source, Source):
        return source  # a context manager itself: closed on the way out
    from camvideo.video.sources import open_source

    return open_source(source)


def _check_outputs(request: RunRequest, info: SourceInfo) -> None:
    """No output is a file the source reads, or another output (also under its temporary name)."""
    from camvideo.video import export as exports
    from camvideo.video.outputs import check_outputs
    from camvideo.video.recorder import partial_path

    files = []
    for label, path, partial in ((request.labels[0], request.recording, partial_path),
                                 (request.labels[1], request.export, exports.partial_path)):
        if path is not None:
            path = Path(path)
            files.append((f"{label} {path}", path))
            files.append((f"{label} {path} (written first as {partial(path).name})", partial(path)))
    check_outputs(info.files, files)


def _open_outputs(request: RunRequest, info: SourceInfo, stack: contextlib.ExitStack):
    """(recorder, exporter), each None when not asked for; each closed on the way out."""
    from camvideo.video.export import open_exporter
    from camvideo.video.recorder import Recorder

    recorder = exporter = None
    if request.recording is not None:
        recorder = Recorder(request.recording, fps_hint=info.rate or 30.0, codec=request.codec,
                            preset=request.preset, audio_from=info.path if request.audio else None)
        stack.callback(_close_quietly, recorder)
    if request.export is not None:
        exporter = open_exporter(request.export)  # NAME.partial.EXT, renamed when closed
        stack.callback(_close_quietly, exporter)
    return recorder, exporter


def _wrapped(request: RunRequest, sink):
    """``sink`` as the pipeline gets it (``request.wrap_output``); None stays None."""
    if sink is None or request.wrap_output is None:
        return sink
    return request.wrap_output(sink)


def _written(sink) -> int:
    return sink.frames_written if sink is not None else 0


def _close_quietly(sink) -> None:
    """Close an output on the way out (the pipeline closed it already on the normal path)."""
    try:
        sink.close()
    except OutputError as exc:
        log.debug("%s", exc)  # the error on its way is the one the front end words


def stats_hud(stats) -> Annotator:
    """The HUD: fps, forward time and latency of ``stats()`` (a ``PipelineStats``),
    on a band at the bottom of the frame."""
    from camvideo.annotate import HudAnnotator

    def text(result: FrameResult) -> str:
        s = stats()
        forward = result.timings.get("forward", 0.0)
        return f"{s.fps:.1f} fps | forward {forward:.0f} ms | latency {s.latency_avg_ms:.0f} ms"
    return HudAnnotator(text)
