"""``camvideo image PATH...``: annotated image and per-frame JSON for each photo.

Every input is read before anything else (each bad one named on its own line),
and where each annotated image goes is settled before the model loads:
``-o`` is a folder (made when missing) or, for one input, an image file in a
folder that exists, as ``process`` wants its outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.outputs import check_side_file, folder_problem, whole_file, write_text
from camvideo.cli.parser import exit_status
from camvideo.errors import InputError, OutputError, printable, reason
from camvideo.video.outputs import check_outputs
from camvideo.video.spec import IMAGE_SUFFIXES

SUFFIX = "_cam.png"  # NAME.jpg -> NAME_cam.png in a folder


def register(sub) -> None:
    p = sub.add_parser(
        "image",
        help="localize classes in photos: annotated image + JSON",
        description="Run the model on each image, write the annotated image (heat map, box, label) "
        "and print or save the per-frame JSON object (frame, time, width, height, detections, and the "
        "image's path as source). "
        "With --quality best a photo gets more than a video frame: a box from the map averaged "
        "with the mirrored photo's, and a finer pass that boxes one of several objects of similar size "
        "and lists each in the JSON's regions (about 0.25 s of CPU a photo; on the development set it "
        "gains no photo over the default's pass: docs/eval.md).",
        epilog=f"{exit_status()}. Every input is checked before anything is written: each one that "
        "cannot be read is a line of its own.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", type=cli.path_argument, help="image files")
    p.add_argument("-o", "--output", metavar="OUT", type=cli.path_argument,
                   help=f"a folder for NAME{SUFFIX} of each image (made if missing; with several images -o must be "
                   f"a folder), or with one image the output image itself ({', '.join(IMAGE_SUFFIXES)}) in a folder "
                   f"that exists (default: ./NAME{SUFFIX})")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE", type=cli.path_argument,
                   help="print the JSON result, one line per image, or write it to FILE")
    cli.add_model_options(p)
    cli.add_localize_options(p)
    cli.add_overlay_options(p)
    p.set_defaults(func=run)


def output_paths(sources: list[Path], output: str | None) -> list[Path]:
    """Where each source's annotated image goes; an ``OutputError`` when ``-o`` cannot
    serve (an image name for several images, a file that is not an image, a missing
    folder for a single image file, a folder that cannot be written)."""
    if output is None:
        problem = folder_problem(Path.cwd())
        if problem:
            raise OutputError(f"cannot write {sources[0].stem}{SUFFIX} here: {problem}; choose a folder with -o")
        return [Path.cwd() / f"{s.stem}{SUFFIX}" for s in sources]
    folder = _output_folder(output, many=len(sources) > 1)
    if folder is None:
        return [Path(output)]
    return [folder / f"{s.stem}{SUFFIX}" for s in sources]


def _output_folder(output: str, many: bool) -> Path | None:
    """``-o`` as a folder, or None when it names the one output image."""
    out = Path(output)
    suffix = out.suffix.lower()
    if out.is_dir() or output.endswith(("/", os.sep)):
        problem = folder_problem(out) if out.is_dir() else None
        if problem:
            raise OutputError(f"cannot write into {output}: {problem}")
        return out
    if many:
        if out.exists() or suffix:
            raise OutputError(f"-o {output}: with several images, -o must be a folder (one that exists, or a new "
                              "name without a suffix or ending in /)")
        return out  # a new folder
    if suffix not in IMAGE_SUFFIXES:
        if suffix:
            raise OutputError(f"-o {output}: the annotated image must be {', '.join(IMAGE_SUFFIXES)}, got "
                              f"{suffix!r}; or give a folder")
        if out.exists():
            raise OutputError(f"-o {output}: is a file, not an image ({', '.join(IMAGE_SUFFIXES)}) or a folder")
        return out  # a new folder
    problem = folder_problem(out.parent)
    if problem:
        raise OutputError(f"cannot write {output}: {problem}")
    return None


def read_images(paths: list[str]) -> list:
    """Each path's image; every one that cannot be read is named, on a line of its
    own, and an ``InputError`` ends the command (nothing written)."""
    from camvideo.video.images import read_image

    images, bad = [], []
    for path in paths:
        try:
            images.append(read_image(path))
        except InputError as exc:
            bad.append(exc)
    for exc in bad[:-1]:
        print(f"camvideo: error: {exc}", file=sys.stderr)
    if bad:
        raise bad[-1]
    return images


def run(args: argparse.Namespace) -> int:
    from camvideo.cli.inputs import check_model_name

    check_model_name(args.model)  # before torch: a typo is one line at once
    settings = cli.localize_settings_from_args(args)
    overlay = cli.overlay_settings_from_args(args)
    paths = [Path(p) for p in args.paths]
    images = read_images(args.paths)  # fail before loading the model
    targets = output_paths(paths, args.output)
    check_side_file(args.json)  # said now, not after every image
    check_outputs(paths, _outputs(paths, targets, args.json))
    with contextlib.ExitStack() as stack:
        one = _lock_outputs(stack, targets, args)  # a second run writing them is refused before the model loads
        return _annotate(args, settings, overlay, paths, images, targets, one)


def _lock_outputs(stack: contextlib.ExitStack, targets: list[Path], args) -> bool:
    """Lock ``--json FILE`` and, when there is one, the one annotated image for the rest of the
    run (``OutputLock.for_file``); True when the image is locked (several are each locked while
    written)."""
    from camvideo.batch.lock import OutputLock

    what = "camvideo image " + " ".join(map(str, args.paths))
    if args.json not in (None, "-"):
        stack.enter_context(OutputLock.for_file(args.json, what, "--json"))
    if len(set(targets)) != 1 or not targets[0].parent.is_dir():  # a folder -o is made when the image is written
        return False
    stack.enter_context(OutputLock.for_file(targets[0], what, "-o"))
    return True


def _annotate(args, settings, overlay, paths, images, targets, locked: bool) -> int:
    """Run the model on each image; write its annotated image (under its lock unless ``locked``)
    and its JSON."""
    from camvideo.annotate import FrameAnnotator

    localizer = cli.localizer_from_args(args, settings, live=True)
    still = cli.still_from_args(args, localizer.model)  # the photos' analysis (None: plain --quality fast)
    annotator = FrameAnnotator(overlay)
    lines = []
    for index, (path, image, target) in enumerate(zip(paths, images, targets)):
        with cli.memory_errors(args):
            result = still(localizer, image, index) if still else localizer([image], indices=[index], times=[0.0])[0]
        _write_image(target, annotator.annotate(image, result), None if locked else f"camvideo image {path}")
        lines.append(json.dumps({**result.to_dict(), "source": str(path)}))
        if args.json != "-":  # stdout is the JSON's alone
            top = result.detections[0]
            box = list(top.box) if top.box else None
            print(printable(f"{path}: {top.label} ({top.score:.2f}) box {box} -> {target}"))
    if args.json == "-":
        print("\n".join(lines))
    elif args.json:
        write_text(args.json, "\n".join(lines) + "\n")
    return 0


def _outputs(paths: list[Path], targets: list[Path], json_file: str | None) -> list[tuple[str, Path]]:
    """The files the command writes (one image per input; the same input given
    twice writes the same file twice, harmlessly), with what asked for each."""
    files = {}
    for path, target in zip(paths, targets):
        files.setdefault(os.path.realpath(path), (f"the annotated {path} ({target})", target))
    found = list(files.values())
    if json_file and json_file != "-":
        found.append((f"--json {json_file}", Path(json_file)))
    return found


def _write_image(path: Path, image, lock_as: str | None = None) -> None:
    """Write ``image`` to ``path`` (its folder made when missing), under ``path``'s lock
    taken for ``lock_as`` when that is given (``OutputLock.for_file``); an earlier
    ``path`` is replaced only by the whole new image (``whole_file``)."""
    import cv2

    from camvideo.batch.lock import OutputLock

    try:
        ok, encoded = cv2.imencode(path.suffix, image)
        if not ok:
            raise OutputError(f"cannot write {path}: OpenCV could not encode it as {path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)  # a folder -o: made when missing
        with contextlib.nullcontext() if lock_as is None else OutputLock.for_file(path, lock_as, "-o"):
            with whole_file(path) as target:
                target.write_bytes(encoded.tobytes())
    except (OSError, cv2.error) as exc:
        problem = folder_problem(path.parent) if path.parent.exists() else None
        raise OutputError(f"cannot write {path}: {problem or reason(exc)}") from None
