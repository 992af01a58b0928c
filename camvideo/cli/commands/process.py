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
terminal or ssh session went away) stop cleanly: the recording is closed and
playable, the export complete to the last frame written (a file's or a folder's
outputs keep their ``.partial`` names: a part of the source never takes an
output's name; a camera's or a stream's take their names), and the exit status is 128 + the signal's number (130, 143, 129), as a shell reports a
process the signal ended. A second signal aborts at once, with 128 + its number,
closing the outputs between two frames (``camvideo.runtime.signals``). A signal that
was ignored when camvideo started (``nohup``) stays ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.batch_options import add_batch_options, one_file_outputs, wants_batch
from camvideo.cli.exit import allow_quick_exit
from camvideo.cli.inputs import check_model_name, check_source
from camvideo.cli.outputs import check_folders, check_names
from camvideo.cli.parser import exit_status
from camvideo.cli.progress import Progress
from camvideo.cli.signals import GuardedSinks
from camvideo.errors import CamvideoError, printable, reason
from camvideo.runtime.signals import Aborted, StopSignals, say, say_line
from camvideo.video.spec import SourceSpec

log = logging.getLogger(__name__)

# frames per forward pass: past a few the CPU gains nothing (docs/bench.md) and each
# frame holds its features until the batch is done; 64 bounds the memory a typo costs
MAX_BATCH = 64


def register(sub) -> None:
    from camvideo.video.recorder import PRESET, X264_PRESETS

    p = sub.add_parser(
        "process",
        help="annotated recording + per-frame JSONL/CSV for a camera, stream, video or folder",
        description="Run the model on every frame of SOURCE (camera index, rtsp/http URL, video file, "
        "folder or glob of images); write the annotated video (heat map, boxes, labels) and/or the "
        "per-frame data (frame, time, width, height, detections). No output may be the source, or the "
        "other output (the files are compared, not their names); the recording and the export are written "
        "as NAME.partial.EXT and take their names when complete (one that an earlier run left is kept as "
        "NAME.partial-N.EXT).",
        epilog=exit_status(batch=True, outputs=True),
    )
    p.add_argument("sources", metavar="SOURCE", type=cli.path_argument, nargs="*",
                   help="camera index (0), stream URL, video file, folder or glob ('frames/*.png'); several files, "
                   "a folder or a glob of videos make a batch (see 'many files')")
    p.add_argument("-o", "--output", metavar="OUT", type=cli.path_argument,
                   help="annotated recording, .mkv (default) or .mp4 (fragmented); default ./NAME_cam.mkv unless --export alone")
    p.add_argument("--export", metavar="FILE", type=cli.path_argument, help="per-frame data: FILE.jsonl (one JSON object a frame) or FILE.csv (a row a detection)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help=f"frames per forward pass for files, 1-{MAX_BATCH} (default: 4 on OpenVINO's throughput mode, "
                        "a file on the CPU; else 1)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="files and folders: forward passes run side by side, each at one torch thread on a CPU "
                   "(default: auto, min(cores, 2) on a CPU, 1 on a GPU or for Grad-CAM models); "
                   "cameras and streams always keep one frame in flight")
    p.add_argument("--codec", choices=("auto", "libx264", "h264_nvenc"), default="auto",
                   help="H.264 encoder (default: auto, NVENC where an NVIDIA GPU is present)")
    p.add_argument("--preset", choices=X264_PRESETS, default=PRESET,
                   help=f"encoder speed/size trade-off (default: {PRESET} at CRF 24: veryfast's bytes and "
                   "quality at ~0.6x its CPU time; other presets at CRF 23: ultrafast ~2.5x the bytes, "
                   "veryfast/faster/medium slower; on NVENC the same scale maps to p1-p7)")
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
    from camvideo.settings import MAX_WORKERS

    if args.batch_size is not None and not 1 <= args.batch_size <= MAX_BATCH:
        raise CamvideoError(f"--batch-size must be between 1 and {MAX_BATCH}, got {args.batch_size}")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise CamvideoError(f"--workers must be between 1 and {MAX_WORKERS}, got {args.workers}")
    if args.max_frames is not None and args.max_frames < 1:
        raise CamvideoError(f"--max-frames must be at least 1, got {args.max_frames}")
    check_model_name(args.model)  # before torch (a batch's too): a typo is one line at once
    if wants_batch(args):
        from camvideo.cli import batch

        _check_codec(args, recording=not args.no_recording and not args.ray)  # Ray: the nodes' GPUs
        return batch.run(args)
    if len(args.sources) != 1:
        raise CamvideoError("give a SOURCE (a file, camera, stream, folder or pattern), or --from-list FILE")
    args.source = args.sources[0]
    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    output = one_file_outputs(args, default_output(args.source))  # sets args.export too
    _check_codec(args, recording=output is not None)
    check_source(args.source, videos=True)  # before torch: a typo is one line at once
    check_names(output, args.export)  # before torch: `-o out.avi` is one line at once
    check_folders([output, args.export])  # before the model loads and the source opens

    sinks = GuardedSinks()  # what a second signal closes before it ends the process
    # ending: the outputs are complete when the run returns, and the process ends then
    live: list[bool] = []  # the source's kind, once open
    stop = StopSignals(lambda signum: _stopping(signum, sinks, live), sinks=sinks, ending=True)
    try:
        with stop:
            stopped, kept = _process(args, output, settings, overlay, stop, sinks, live)
    except Aborted as exc:
        say(f"camvideo: interrupted ({signal.Signals(exc.signum).name}) before the first frame; nothing written\n")
        return 128 + exc.signum
    if stopped:
        say(f"camvideo: interrupted ({stop.name}); "
            + ("a part of the source stays in the .partial files: it never takes an output's name\n" if kept else
               "the output is complete up to the last frame written\n"))
        return stop.exit_code
    return 0


def _check_codec(args: argparse.Namespace, *, recording: bool) -> None:
    """``--codec h264_nvenc`` for a recording made here, on a machine without an NVIDIA
    GPU (Linux; elsewhere the encoder tells): one line before torch (the encoder would
    refuse it after the model loaded)."""
    from camvideo.video.recorder import nvenc_surely_absent

    if recording and args.codec == "h264_nvenc" and nvenc_surely_absent():
        raise CamvideoError("--codec h264_nvenc needs an NVIDIA GPU, and this machine has none (no /dev/nvidia0): "
                            "use --codec auto (NVENC where there is one) or libx264")


def _stopping(signum: int, sinks: GuardedSinks, live: list[bool]) -> None:
    if live and not live[0]:  # a file: a part of it must not replace an earlier output
        sinks.keep_partial()
    say_line(f"camvideo: {signal.Signals(signum).name}: stopping; finishing the recording (again to abort)")


def _process(args, output, settings, overlay, stop: StopSignals, guard: GuardedSinks,
             live: list[bool]) -> tuple[bool, bool]:
    """Run the source to its end, ``--max-frames`` or a stop signal (``run_source``);
    (a signal stopped it, outputs were kept as .partial files). ``live`` gets the
    source's kind once it is open."""
    from camvideo.annotate import FrameAnnotator
    from camvideo.runtime.run import RunRequest, run_source
    from camvideo.video.sources import describe_damage

    def localizer(info):  # the model loads after the source opened: bad input fails first
        # Files: OpenVINO's throughput mode (several requests in flight); live: latency mode.
        # Only the input sizes the source's frames need are compiled (a 4:3 file: 224x288).
        return cli.localizer_from_args(args, settings, live=info.live, frame_size=info.size)

    request = RunRequest(args.source, localizer, (FrameAnnotator(overlay),), recording=output,
                         export=Path(args.export) if args.export else None, hud=args.hud,
                         batch_size=args.batch_size, workers=args.workers, max_frames=args.max_frames,
                         codec=args.codec, preset=args.preset, audio=not args.no_audio, protect_inputs=True,
                         labels=("-o", "--export"), wrap_output=guard.guard, partial_when_stopped=True)
    with contextlib.ExitStack() as stack:
        _lock_outputs(stack, args.source, ((output, "-o"), (request.export, "--export")))
        _keep_earlier_partials(args.source, (output, request.export))
        bar: list[Progress] = []

        def ready(info) -> None:
            live.append(info.live)
            bar.append(stack.enter_context(Progress(info.frame_count, limit=args.max_frames, enabled=args.progress)))
            stop.arm()  # from here a signal finishes the recording instead of abandoning it

        report = run_source(request, stop.event.is_set, lambda frames, _total: bar[0].update(frames), on_ready=ready)
        allow_quick_exit()  # the run has ended, its outputs closed (named or kept), even when it failed
        bar[0].close(report.frames, finished=not (stop.event.is_set() or report.sink_errors or report.error))
        if report.kept:  # incomplete: the final names were left as they were
            left = [Path(p).name for p in (output, args.export) if p and Path(p).exists() and Path(p) not in report.outputs]
            say(printable(f"camvideo: what was written is kept in {', '.join(map(str, report.kept))}"
                          + (f"; {', '.join(left)} left as it was" if left else " (playable)")) + "\n")
        if report.sink_errors:
            raise report.sink_errors[0]
        if report.error is not None:
            raise _user_error(report.error, args)
        written = [str(p) for p in (*report.outputs, *report.kept)]  # the files that hold the frames now
        elapsed = report.seconds
        say(f"camvideo: {report.frames} frame{'' if report.frames == 1 else 's'} in {elapsed:.1f} s ({report.frames / max(elapsed, 1e-9):.1f} fps)"
            + (f", {report.dropped} dropped" if report.dropped else "")
            + (f" -> {printable(', '.join(written))}" if written else "") + "\n")
        if report.damage:  # the frame numbers keep the gaps; the line says where they are
            say(f"camvideo: warning: {printable(report.source.name)}: {describe_damage(report.damage)}\n")
    return stop.event.is_set(), bool(report.kept)


def _lock_outputs(stack: contextlib.ExitStack, source: str, outputs) -> None:
    """Lock each output, (path, option) pairs (None: not written), for the rest of the run
    (``OutputLock.for_file``): a run already writing one refuses this one at once, before
    its ``.partial`` files are looked at; a ``.partial`` file found afterwards was left by
    a run that stopped."""
    from camvideo.batch.lock import OutputLock

    for path, option in outputs:
        if path is not None and "://" not in str(path):
            stack.enter_context(OutputLock.for_file(path, f"camvideo process {source}", option))


def _keep_earlier_partials(source: str, outputs) -> None:
    """An earlier run of these outputs that stopped left its ``.partial`` files: each is
    renamed ``NAME.partial-N.EXT``, with a line that says so, before this run writes
    its own (a camera's recording cannot be made again)."""
    from camvideo.video.outputs import partial_path, set_aside

    for partial in (partial_path(Path(p)) for p in outputs if p is not None):
        kept = set_aside(partial, source)
        if kept is not None:
            say(printable(f"camvideo: {partial.name}, left by an earlier run that stopped, is kept as {kept.name}")
                + "\n")


def _user_error(exc: BaseException, args: argparse.Namespace) -> BaseException:
    if isinstance(exc, CamvideoError):
        return exc
    if cli.out_of_memory(exc):
        return CamvideoError(f"processing failed: {cli.memory_message(exc, args)}")
    if isinstance(exc, RuntimeError):
        return CamvideoError(f"processing failed: {reason(exc)}")
    return exc
