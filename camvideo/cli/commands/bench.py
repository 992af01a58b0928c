"""``camvideo bench``: the inference stage, end to end and live, against the
forward pass alone (the floor) and the peer libraries, in one interleaved run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from camvideo.cli.options import path_argument
from camvideo.cli.outputs import check_side_file, write_text
from camvideo.cli.parser import exit_status
from camvideo.errors import CamvideoError, flag
from camvideo.runtime.signals import StopSignals, say_line
from camvideo.settings import PRECISIONS

# BenchConfig's fields that an option of the same name sets (a bad value names the option)
OPTION_FIELDS = ("frames", "rounds", "threads", "topk", "batch", "workers", "e2e_frames", "soak", "precision")


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark: forward pass (floor) vs camvideo's inference stage, end to end, live, peers",
        description="Measure, in one run on the same frames with the same threads and interleaved rounds, "
        "the forward pass alone (the floor), camvideo's inference stage (preprocess + forward + top-k CAMs + "
        "boxes + overlay) at 640x480 and 1280x720, a file end to end (decode -> ... -> H.264), live "
        "capture-to-annotated latency, and torchcam / pytorch-grad-cam when installed "
        "(pip install 'camvideo[bench]'). Prints a table; --json writes the figures.",
        epilog=exit_status(),
    )
    p.add_argument("--frames", type=int, default=None, metavar="N", help="frames per contestant and round (default: 24)")
    p.add_argument("--rounds", type=int, default=None, metavar="R", help="interleaved rounds (default: 5)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for every contestant (default: 2)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument("--model", default="lite0", help="model name (default: lite0)")
    p.add_argument("--topk", type=int, default=3, help="classes localized per frame (default: 3)")
    p.add_argument("--batch", type=int, default=None, metavar="N",
                   help="frames a forward pass end to end (default: a file run's own: 4 on OpenVINO, else 1)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="forward threads of the end-to-end pipeline (default: auto, as camvideo process)")
    p.add_argument("--e2e-frames", type=int, default=None, metavar="N",
                   help="frames of the end-to-end clip, a pan with cuts like a video (default: 240); the "
                        "limit table's fraction takes the run's steady rate (the first tenth of the frames "
                        "and the start-up left out), the whole run's fps and fixed cost are beside it; also the "
                        "frames of each round's 640x480 OpenVINO stage as a stream (a file run's path, frames in "
                        "memory) and of its forward pass alone as a stream")
    p.add_argument("--no-peers", action="store_true", help="skip torchcam and pytorch-grad-cam")
    p.add_argument("--no-e2e", action="store_true", help="skip the end-to-end file run")
    p.add_argument("--no-live", action="store_true", help="skip the live latency run")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="also run N frames through the inference stage and report resident-memory growth")
    p.add_argument("--compile", action="store_true", help="also measure the inference stage under torch.compile")
    p.add_argument("--no-openvino", action="store_true",
                   help="skip the OpenVINO contestants (its forward pass, stage, end to end and live)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the OpenVINO contestants' arithmetic: auto (the default, as every command's: bf16 on a CPU "
                   "with native bf16, else f32), f32, bf16 or int8 (see docs/measuring.md)")
    p.add_argument("--no-smooth", action="store_true",
                   help="camvideo's contestants take each frame on its own (default: smoothed across frames, "
                        "as camvideo process runs a video)")
    p.add_argument("--no-presets", action="store_true",
                   help="skip the inference stage of the other --quality presets (fast, best)")
    p.add_argument("--quick", action="store_true", help="2 frames and one round: a smoke test, not a measurement")
    p.add_argument("--json", metavar="FILE", type=path_argument, help="write the report as JSON to FILE ('-' for stdout)")
    p.set_defaults(func=run)


def _interrupted(signum: int) -> None:
    """A bench has nothing to finish: end at once, without raising into the
    pipeline threads that run inside torch and FFmpeg (a KeyboardInterrupt there
    ended the process with SIGABRT or SIGSEGV)."""
    say_line(f"camvideo: bench interrupted ({signal.Signals(signum).name}); no report")
    os._exit(128 + signum)


def run(args: argparse.Namespace) -> int:
    check_side_file(args.json)  # said now, before torch loads, not after minutes of measuring
    if args.no_openvino and args.precision != "auto":
        raise CamvideoError(f"--precision {args.precision} is the OpenVINO contestants' arithmetic, and "
                            "--no-openvino leaves them out: give one of them")
    from camvideo.models import resolve_device
    from camvideo.tools.benchmark import QUICK, BenchConfig, format_table, run_bench

    values = dict(QUICK) if args.quick else {}
    if args.frames is not None:
        values["frames"] = args.frames
    if args.rounds is not None:
        values["rounds"] = args.rounds
    if args.e2e_frames is not None:
        values["e2e_frames"] = args.e2e_frames
    try:
        device = str(resolve_device(args.device))
        config = BenchConfig(
            threads=args.threads, device=device, model=args.model, topk=args.topk, batch=args.batch, workers=args.workers,
            peers=not args.no_peers, end_to_end=not args.no_e2e, live=not args.no_live, soak=args.soak,
            compile=args.compile, openvino=not args.no_openvino, presets=not args.no_presets,
            precision=args.precision, smooth=not args.no_smooth, **values,
        )
    except ValueError as exc:
        from camvideo.cli.options import option_message

        raise option_message(exc, {name: flag(name) for name in OPTION_FIELDS}) from None
    with StopSignals(_interrupted, armed=True):
        report = run_bench(config, progress=lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    text = json.dumps(report, indent=2)
    if args.json == "-":
        print(text)
    else:
        print(format_table(report))
        if args.json:
            write_text(args.json, text + "\n")
    return 0
