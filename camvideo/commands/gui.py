"""``camvideo gui [SOURCE]``: the desktop app (``python main.py`` runs it too)."""

from __future__ import annotations

import argparse

from .. import cli


def register(sub) -> None:
    p = sub.add_parser(
        "gui",
        help="the desktop app: live heat maps, labels and boxes; record and snapshot",
        description="Open the window on SOURCE: a camera index, a video file, a folder of images or "
        "a stream URL. With no SOURCE: camera 0 when one opens, else the demo clip (looping).",
    )
    p.add_argument("source", nargs="?", metavar="SOURCE", help="camera index, video file, folder or URL")
    p.add_argument("--loop", action="store_true", help="play a file again from the start when it ends")
    cli.add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check what can be checked before a window opens, then run the app; the
    model itself loads in the background once the window shows."""
    from pathlib import Path

    from ..errors import CamvideoError, ModelLoadError
    from ..models import available_models, resolve_device

    if args.model not in available_models() and not args.model.startswith("timm:"):
        raise ModelLoadError(
            f"unknown model {args.model!r}; choose one of: {', '.join(available_models())}, "
            "or timm:NAME (see `camvideo models`)"
        )
    if args.weights and not Path(args.weights).is_file():
        raise ModelLoadError(f"weights file {args.weights} does not exist")
    try:
        device = str(resolve_device(args.device)) if args.device != "auto" else "auto"
    except ValueError as exc:
        raise CamvideoError(str(exc)) from None
    from ..qt.app import run as run_app

    return run_app(args.source, model=args.model, device=device, loop=args.loop, weights=args.weights)
