"""``camvideo image PATH...``: annotated image and per-frame JSON for each photo."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.outputs import write_text
from camvideo.errors import OutputError, printable, reason
from camvideo.video.outputs import check_outputs
from camvideo.video.spec import IMAGE_SUFFIXES


def register(sub) -> None:
    p = sub.add_parser(
        "image",
        help="localize classes in photos: annotated image + JSON",
        description="Run the model on each image, write the annotated image (heat map, box, label) "
        "and print or save the per-frame JSON object (frame, time, width, height, detections). "
        "A photo gets more than a video frame (unless --quality fast): with the built-in lite0, "
        "classes from lite0 and lite1 together, and a finer pass that boxes one of several objects "
        "and lists each in the JSON's regions (about 0.25 s of CPU a photo; docs/eval.md).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output image (one input) or folder (default: ./NAME_cam.png)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="print the JSON result, one line per image, or write it to FILE")
    cli.add_model_options(p)
    cli.add_localize_options(p)
    cli.add_overlay_options(p)
    p.set_defaults(func=run)


def output_path(source: Path, output: str | None, many: bool) -> Path:
    if output is None:
        return Path.cwd() / f"{source.stem}_cam.png"
    out = Path(output)
    if not many and out.suffix.lower() in IMAGE_SUFFIXES:
        return out
    return out / f"{source.stem}_cam.png"


def run(args: argparse.Namespace) -> int:
    from camvideo.annotate import FrameAnnotator
    from camvideo.video.images import read_image

    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    images = [(Path(p), read_image(p)) for p in args.paths]  # fail before loading the model
    check_outputs([path for path, _ in images], _outputs(images, args))
    localizer = cli.localizer_from_args(args, settings, live=True)
    still = cli.still_from_args(args, localizer.model)  # the photos' analysis (None: plain --quality fast)
    annotator = FrameAnnotator(overlay)
    lines = []
    for index, (path, image) in enumerate(images):
        with cli.memory_errors(args):
            result = still(localizer, image, index) if still else localizer([image], indices=[index], times=[0.0])[0]
        target = output_path(path, args.output, len(images) > 1)
        _write_image(target, annotator.annotate(image, result))
        lines.append(json.dumps(result.to_dict()))
        if args.json is None:
            top = result.detections[0]
            box = list(top.box) if top.box else None
            print(printable(f"{path}: {top.label} ({top.score:.2f}) box {box} -> {target}"))
    if args.json == "-":
        print("\n".join(lines))
    elif args.json:
        write_text(args.json, "\n".join(lines) + "\n")
    return 0


def _outputs(images, args: argparse.Namespace) -> list[tuple[str, Path]]:
    """The files the command writes (one image per input; the same input given
    twice writes the same file twice, harmlessly), with what asked for each."""
    targets = {}
    for path, _ in images:
        targets.setdefault(os.path.realpath(path), (path, output_path(path, args.output, len(images) > 1)))
    files = [(f"the annotated {path} ({target})", target) for path, target in targets.values()]
    if args.json and args.json != "-":
        files.append((f"--json {args.json}", Path(args.json)))
    return files


def _write_image(path: Path, image) -> None:
    import cv2

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = cv2.imwrite(str(path), image)
    except (OSError, cv2.error) as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None
    if not ok:
        raise OutputError(f"cannot write {path}: unknown image type or the folder is not writable")
