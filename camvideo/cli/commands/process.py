"""``camvideo process SOURCE``: annotated recording + per-frame data for a video.

SOURCE is a camera index, a stream URL, a video file, a folder or a glob of
images. ``-o OUT.mkv|.mp4`` writes the annotated recording (crash-safe),
``--export FILE.jsonl|.csv`` the per-frame data; with neither, the recording
goes to ``./NAME_cam.mkv``. On a terminal a progress bar on stderr shows frames,
fps and, when the frame count is known, the time left (``camvideo.cli.progress``).

No output may replace an input: the outputs are compared with the source's files
(and with each other) as files, whatever their names. The recording and the export
are written under temporary names and renamed when complete; a run that fails
before its first frame leaves nothing behind.

Ctrl-C, SIGTERM (``kill``, systemd, ``docker stop``, CI timeouts) and SIGHUP (the
terminal or ssh session went away) stop cleanly: the recording is finalized under
its final name and playable, the export complete to the last frame written, and
the exit status is 128 + the signal's number (130, 143, 129), as a shell reports a
process the signal ended. A second signal aborts at once, with 128 + its number,
closing the outputs between two frames (``camvideo.runtime.signals``). A signal that
was ignored when camvideo started (``nohup``) stays ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import time
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.batch import add_batch_options
from camvideo.cli.outputs import check_outputs
from camvideo.cli.parser import EXIT_STATUS
from camvideo.cli.progress import Progress
from camvideo.cli.signals import GuardedSinks
from camvideo.errors import CamvideoError, OutputError, reason
from camvideo.runtime.signals import Aborted, StopSignals, say
from camvideo.video.spec import SourceSpec

log = logging.getLogger(__name__)

# frames per forward pass: past a few the CPU gains nothing (docs/bench.md) and each
# frame holds its features until the batch is done; 64 bounds the memory a typo costs
MAX_BATCH = 64


def register(sub) -> None:
    from camvideo.video.recorder import X264_PRESETS

    p = sub.add_parser(
        "process",
        help="annotated recording + per-frame JSONL/CSV for a camera, stream, video or folder",
        description="Run the model on every frame of SOURCE (camera index, rtsp/http URL, video file, "
        "folder or glob of images); write the annotated video (heat map, boxes, labels) and/or the "
        "per-frame data (frame, time, width, height, detections). No output may be the source, or the "
        "other output (the files are compared, not their names); the recording and the export are written "
        "as NAME.partial.EXT and take their names when complete.",
        epilog=f"{EXIT_STATUS}. Several files (a batch): 1 when some files failed (the others are done; the "
        "summary names each with its reason)",
    )
    p.add_argument("sources", metavar="SOURCE", nargs="*",
                   help="camera index (0), stream URL, video file, folder or glob ('frames/*.png'); several files, "
                   "a folder or a glob of videos make a batch (see 'many files')")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="annotated recording, .mkv (default) or .mp4 (fragmented); default ./NAME_cam.mkv unless --export alone")
    p.add_argument("--export", metavar="FILE", help="per-frame data: FILE.jsonl (one JSON object a frame) or FILE.csv (a row a detection)")
    p.add_argument("--batch-size", type=int, default=1, help=f"frames per forward pass for files, 1-{MAX_BATCH} (default: 1)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="files and folders: forward passes run side by side, each at one torch thread on a CPU "
                   "(default: auto, min(cores, 2) on a CPU, 1 on a GPU or for Grad-CAM models); "
                   "cameras and streams always keep one frame in flight")
    p.add_argument("--codec", choices=("auto", "libx264", "h264_nvenc"), default="auto",
                   help="H.264 encoder (default: auto, NVENC where an NVIDIA GPU is present)")
    p.add_argument("--preset", choices=X264_PRESETS, default="veryfast",
                   help="encoder speed/size trade-off (default: veryfast; superfast encodes ~10%% more "
                   "frames per second into a ~30%% larger file, faster/medium the other way; on NVENC "
                   "the same scale maps to p1-p7)")
    p.add_argument("--no-audio", action="store_true", help="do not copy the source's audio into the recording")
    p.add_argument("--hud", action="store_true", help="draw fps and timings on the recording")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (e.g. for a camera)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: on when stderr is a terminal)")
    cli.add_model_options(p)
    cli.add_localize_options(p, smooth=True)
    cli.add_overlay_options(p)
    add_batch_options(p)
    p.set_defaults(func=run)


def default_output(source: str) -> Path:
    text = source.rstrip("/\\")
    spec = SourceSpec.parse(text, probe=False)
    if spec.kind == "camera":
        stem = f"camera{spec.text}"
    elif spec.kind == "stream":
        stem = "stream"
    else:
        stem = Path(text).stem.replace("*", "").replace("?", "") or "frames"
    return Path.cwd() / f"{stem}_cam.mkv"


def run(args: argparse.Namespace) -> int:
    from camvideo.runtime.workers import MAX_WORKERS

    if not 1 <= args.batch_size <= MAX_BATCH:
        raise CamvideoError(f"--batch-size must be between 1 and {MAX_BATCH}, got {args.batch_size}")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise CamvideoError(f"--workers must be between 1 and {MAX_WORKERS}, got {args.workers}")
    if args.max_frames is not None and args.max_frames < 1:
        raise CamvideoError(f"--max-frames must be at least 1, got {args.max_frames}")
    from camvideo.cli import batch

    if batch.wants_batch(args):
        return batch.run(args)
    if len(args.sources) != 1:
        raise CamvideoError("give a SOURCE (a file, camera, stream, folder or pattern), or --from-list FILE")
    args.source = args.sources[0]
    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    output = Path(args.output) if args.output else (None if args.export else default_output(args.source))

    sinks = GuardedSinks()  # what a second signal closes before it ends the process
    # ending: the outputs are complete when the run returns, and the process ends then
    stop = StopSignals(_stopping, sinks=sinks, ending=True)
    try:
        with stop:
            stopped = _process(args, output, settings, overlay, stop, sinks)
    except Aborted as exc:
        say(f"camvideo: interrupted ({signal.Signals(exc.signum).name}) before the first frame; nothing written\n")
        return 128 + exc.signum
    if stopped:
        say(f"camvideo: interrupted ({stop.name}); the output is complete up to the last frame written\n")
        return stop.exit_code
    return 0


def _stopping(signum: int) -> None:
    say(f"\ncamvideo: {signal.Signals(signum).name}: stopping; finishing the recording (again to abort)\n")


def _outputs(output: Path | None, export: str | None) -> list[tuple[str, Path]]:
    """Every file the run writes, with the option that asked for it (a recording
    and an export are written under a temporary name first)."""
    from camvideo.video import export as exports
    from camvideo.video.recorder import partial_path

    files = []
    for option, path, partial in (("-o", output, partial_path), ("--export", export, exports.partial_path)):
        if path is not None:
            path = Path(path)
            files.append((f"{option} {path}", path))
            files.append((f"{option} {path} (written first as {partial(path).name})", partial(path)))
    return files


def _inputs(source) -> list[Path]:
    """The files a source reads: a video file, or the images of a folder or glob."""
    path = getattr(source, "path", None)
    return [Path(path)] if path is not None else [Path(p) for p in getattr(source, "paths", ())]


def _process(args, output, settings, overlay, stop: StopSignals, guard: GuardedSinks) -> bool:
    """Run the pipeline to the end of the source, ``--max-frames`` or a stop signal;
    True when a signal stopped it."""
    from camvideo.annotate import FrameAnnotator
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.video.export import open_exporter
    from camvideo.video.recorder import Recorder
    from camvideo.video.sources import VideoFileSource, describe_damage, open_source

    with contextlib.ExitStack() as stack:
        source = stack.enter_context(open_source(args.source))  # bad input fails before the model loads
        check_outputs(_inputs(source), _outputs(output, args.export))  # before anything is written
        sinks = []
        recorder = None
        if output is not None:
            is_file = isinstance(source, VideoFileSource)
            recorder = Recorder(output, fps_hint=(source.rate if is_file and source.rate else 30.0), codec=args.codec,
                                preset=args.preset, audio_from=source.path if is_file and not args.no_audio else None)
            recorder = guard.guard(recorder)
            stack.callback(_close_quietly, recorder)
            sinks.append(recorder)
        exporter = None
        if args.export:
            exporter = guard.guard(open_exporter(args.export))
            stack.callback(_close_quietly, exporter)
            sinks.append(exporter)
        # Files: OpenVINO's throughput mode (several requests in flight); live: latency mode.
        localizer = cli.localizer_from_args(args, settings, live=source.live, stream=source.live)
        pipeline = Pipeline(source, localizer, FrameAnnotator(overlay), sinks,
                            batch_size=args.batch_size, hud=args.hud, workers=args.workers,
                            max_frames=args.max_frames)
        progress = stack.enter_context(Progress(source.frame_count_hint, limit=args.max_frames, enabled=args.progress))
        start = time.monotonic()
        stop.arm()  # from here a signal finishes the recording instead of abandoning it
        pipeline.start()
        try:
            while not pipeline.wait(0.2):
                progress.update(pipeline.stats.frames)
                if stop.event.is_set() or pipeline.sink_errors:
                    break
        finally:
            pipeline.stop()  # joins the threads, finalizes the recording and the export
        stats = pipeline.stats
        progress.close(stats.frames, finished=not (stop.event.is_set() or pipeline.sink_errors or pipeline.error))
        if pipeline.sink_errors:
            raise pipeline.sink_errors[0]
        if pipeline.error is not None:
            raise _user_error(pipeline.error, args)
        written = [str(output)] if recorder is not None and recorder.frames_written else []
        written += [str(args.export)] if exporter is not None and exporter.frames_written else []
        elapsed = time.monotonic() - start
        say(f"camvideo: {stats.frames} frames in {elapsed:.1f} s ({stats.frames / max(elapsed, 1e-9):.1f} fps)"
             + (f", {stats.dropped} dropped" if stats.dropped else "")
             + (f" -> {', '.join(written)}" if written else "") + "\n")
        if source.damage:  # the frame numbers keep the gaps; the line says where they are
            say(f"camvideo: warning: {source.name}: {describe_damage(source.damage)}\n")
    return stop.event.is_set()


def _close_quietly(sink) -> None:
    """Close a sink on the way out (already closed by the pipeline on the normal path)."""
    try:
        sink.close()
    except OutputError as exc:
        log.error("%s", exc)


def _user_error(exc: BaseException, args: argparse.Namespace) -> BaseException:
    if isinstance(exc, CamvideoError):
        return exc
    if cli.out_of_memory(exc):
        return CamvideoError(f"processing failed: {cli.memory_message(exc, args)}")
    if isinstance(exc, RuntimeError):
        return CamvideoError(f"processing failed: {reason(exc)}")
    return exc
