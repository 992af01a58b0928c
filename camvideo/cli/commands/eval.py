"""``camvideo eval``: localization accuracy on annotated images, or of a clip's boxes.

``camvideo eval MANIFEST.json`` (or VOC XML files) writes ``summary.json``,
``images.csv`` and ``maxboxacc.png`` to ``--out`` and prints a short table.
``camvideo eval --clip PRED.jsonl --truth TRUTH.jsonl`` compares per-frame boxes.
``camvideo eval --devset [MANIFEST]`` runs the development set: its photos, and the
clips made from them (``camvideo.tools.devset``) played as video; it writes
``devset_summary.json``, ``images.csv``, ``maxboxacc.png`` and ``frames.csv`` (a row
a clip frame). The photos and the clip frames count on stderr as they go
(``camvideo.cli.progress.Counting``).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.outputs import folder_problem, whole_file, write_file
from camvideo.cli.parser import exit_status
from camvideo.cli.progress import Counting
from camvideo.errors import InputError, OutputError, printable, reason
from camvideo.video.outputs import check_outputs

MAX_BATCH = 256  # images per forward batch: a bound on what a typo can allocate
IMAGE_OUTPUTS = ("summary.json", "images.csv", "maxboxacc.png")
CLIP_OUTPUTS = ("clip_summary.json", "frames.csv")
DEVSET_OUTPUTS = ("devset_summary.json", "images.csv", "maxboxacc.png", "frames.csv")
FRAME_FIELDS = ("frame", "true_box", "pred_box", "iou", "pred_class", "true_class")


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="localization accuracy on annotated images (top-1, GT-known, MaxBoxAccV2) or clips",
        description="Measure how well the CAM boxes localize. With MANIFEST (a JSON manifest, a VOC XML "
        "file or a folder of them): top-1 localization, GT-known localization and MaxBoxAccV2 "
        "(Choe et al., CVPR 2020). With --clip and --truth: mean IoU, frames with IoU >= 0.5, "
        "box jitter and label changes of a per-frame JSONL export against the true boxes.",
        epilog='manifest: {"images": [{"file": "cat.png", "boxes": [[x1, y1, x2, y2]], "classes": [281, 285]}]} '
        "(file relative to the manifest; classes: ImageNet ids or labels counted as correct). " + exit_status(),
    )
    p.add_argument("manifest", nargs="?", metavar="MANIFEST", type=cli.path_argument,
                   help="JSON manifest, Pascal VOC .xml file, or a folder of VOC .xml files")
    p.add_argument("--clip", metavar="PRED.jsonl", type=cli.path_argument, help="per-frame predictions (camvideo process --export)")
    p.add_argument("--truth", metavar="TRUTH.jsonl", type=cli.path_argument, help="per-frame true boxes, same format (one detection a frame)")
    p.add_argument("--devset", action="store_true",
                   help="the development set: MANIFEST's photos (default: the checkout's "
                   "tests/data/devset/manifest.json, from any folder) "
                   "and clips made from them, run as video (mean IoU, class accuracy, label changes, jitter, ms/frame)")
    p.add_argument("--split", choices=("tune", "holdout", "all"), default="all",
                   help="with --devset: the photos and clips of this split (default: all)")
    p.add_argument("--shots", type=int, default=5, metavar="N",
                   help="with --devset: shots per clip (default: 5; a cut between each two)")
    p.add_argument("--shot-frames", type=int, default=40, metavar="N",
                   help="with --devset: frames per shot (default: 40)")
    p.add_argument("--extent", action=argparse.BooleanOptionalAction, default=True,
                   help="with --devset: the clips' boxes fitted to what moves against the camera where the map "
                   "agrees (as process's --extent; default: on)")
    p.add_argument("--out", metavar="DIR", type=cli.path_argument,
                   help=f"folder for the results (default: ./NAME_eval): {', '.join(IMAGE_OUTPUTS)} for MANIFEST; "
                   f"{', '.join(CLIP_OUTPUTS)} for --clip; {', '.join(DEVSET_OUTPUTS)} (a row a clip frame) for "
                   "--devset")
    cli.add_model_options(p)
    group = p.add_argument_group("boxes (top-1 and GT-known localization; MaxBoxAccV2 sweeps its own thresholds)")
    cli.add_box_options(group)
    group.add_argument("--step", type=float, default=0.01, help="MaxBoxAccV2 threshold step (default: 0.01)")
    group.add_argument("--batch-size", type=int, default=16, metavar="N", help=f"images per forward batch, 1-{MAX_BATCH} (default: 16)")
    p.set_defaults(func=run, topk=1, class_ids=None)


def run(args: argparse.Namespace) -> int:
    if args.devset:
        if args.clip or args.truth:
            raise InputError("give either --devset or --clip/--truth, not both")
        return run_devset(args)
    if args.clip or args.truth:
        if not (args.clip and args.truth):
            raise InputError("clip evaluation needs both --clip PRED.jsonl and --truth TRUTH.jsonl")
        if args.manifest:
            raise InputError("give either MANIFEST or --clip/--truth, not both")
        return run_clip(args)
    if not args.manifest:
        raise InputError("nothing to evaluate: give MANIFEST.json (or VOC XML), --clip PRED.jsonl --truth TRUTH.jsonl, "
                         "or --devset (the development set)")
    return run_images(args)


def _photo_options(args: argparse.Namespace):
    """The photos' --batch-size, checked, and --step's thresholds (both photo runs)."""
    from camvideo.tools.evaluate import default_thresholds

    if not 1 <= args.batch_size <= MAX_BATCH:
        raise InputError(f"--batch-size must be between 1 and {MAX_BATCH}, got {args.batch_size}")
    try:
        return default_thresholds(args.step)
    except ValueError as exc:
        raise cli.option_message(exc, {"step": "--step"}) from None


def run_images(args: argparse.Namespace) -> int:
    from camvideo.models import imagenet_labels
    from camvideo.tools.evaluate import evaluate_images, load_annotations

    settings = cli.localize_settings_from_args(args)
    rule = settings.box_rule
    thresholds = _photo_options(args)
    annotations = load_annotations(args.manifest, imagenet_labels())  # fail before loading the model
    out = _out_dir(args.out, Path(args.manifest), IMAGE_OUTPUTS, [args.manifest])
    model = cli.load_model_from_args(args)
    forward = cli.forward_from_args(args, model)
    still = cli.still_from_args(args, model)  # the photos' analysis, as `camvideo image` runs it
    try:
        with Counting("photos", len(annotations), "images") as count:
            scores, summary = evaluate_images(model, annotations, rule, thresholds, batch_size=args.batch_size,
                                              forward=forward, maps=settings.maps, still=still, progress=count.update)
    except ValueError as exc:
        raise InputError(str(exc)) from None

    _make(out)
    data = {"manifest": str(args.manifest), **summary.to_dict()}
    write_file(out / "summary.json", lambda f: json.dump(data, f, indent=1))
    _write_photo_files(out, scores, summary)

    m = summary.maxboxacc
    r = summary.box_rule
    parts = "the largest component" if r.components == "largest" else "all components"
    print(f"{summary.images} images, model {summary.model}, boxes: {r.method} {r.threshold:g}, "
          f"{parts}; {summary.seconds:.1f} s")
    print(f"  {'top-1 classification':<24}{100 * summary.top1_cls:6.1f}%")
    print(f"  {'top-1 localization':<24}{100 * summary.top1_loc:6.1f}%")
    print(f"  {'GT-known localization':<24}{100 * summary.gt_known_loc:6.1f}%")
    parts = ", ".join(f"IoU {d:g}: {100 * a:.1f}% at t={t:.2f}" for d, (a, t) in m.best.items())
    print(f"  {'MaxBoxAccV2':<24}{100 * m.value:6.1f}%  ({parts})")
    if len(scores) <= 20:
        for s in scores:
            flags = ("top-1 loc" if s.top1_loc else "") + (" GT-known" if s.gt_known_loc else "")
            print(printable(f"  {Path(s.file).name}: {s.pred_label} ({s.pred_score:.2f}) IoU {s.pred_iou:.2f}; "
                            f"GT class {s.gt_label} IoU {s.gt_iou:.2f}  {flags.strip() or '-'}"))
    print(f"-> {printable(str(out))}/summary.json, images.csv, maxboxacc.png")
    return 0


def run_clip(args: argparse.Namespace) -> int:
    from camvideo.tools.clipeval import mismatch_line, source_mismatch
    from camvideo.tools.evaluate import evaluate_clip, read_frames_jsonl

    pred, truth = read_frames_jsonl(args.clip), read_frames_jsonl(args.truth)
    result = evaluate_clip(pred, truth)
    out = _make(_out_dir(args.out, Path(args.clip), CLIP_OUTPUTS, [args.clip, args.truth]))
    mismatch = source_mismatch(pred, truth)
    if mismatch:
        print(f"camvideo: warning: {mismatch_line(mismatch)}", file=sys.stderr)
    data = {"clip": str(args.clip), "truth": str(args.truth), **result.to_dict(), "mismatch": mismatch}
    write_file(out / "clip_summary.json", lambda f: json.dump(data, f, indent=1))
    write_file(out / "frames.csv", lambda f: _csv(f, FRAME_FIELDS, _frame_rows(result)))
    print(f"{result.frames} frames ({result.missing} missing from the predictions)")
    print(f"  {'mean IoU':<24}{result.mean_iou:8.3f}")
    print(f"  {'frames with IoU >= 0.5':<24}{100 * result.iou50:7.1f}%")
    print(f"  {'box jitter':<24}{result.jitter_px:8.2f} px ({result.jitter_shot_px:.2f} without the cuts)")
    print(f"  {'label changes':<24}{result.label_changes:8d}")
    if result.class_accuracy is not None:
        print(f"  {'top-1 class correct':<24}{100 * result.class_accuracy:7.1f}%")
    print(f"-> {printable(str(out))}/clip_summary.json, frames.csv")
    return 0


def _box(box) -> str:
    return "" if box is None else " ".join(f"{v:g}" for v in box)


def _frame_rows(result, **extra) -> list[dict]:
    """The rows of frames.csv for a clip's ``ClipSummary`` (``extra``: columns put first)."""
    return [{**extra, **row, "true_box": _box(row["true_box"]), "pred_box": _box(row["pred_box"]),
             "iou": round(row["iou"], 4)} for row in result.per_frame]


def _write_photo_files(out: Path, scores, summary) -> None:
    """images.csv and maxboxacc.png: the photos' rows and the MaxBoxAccV2 curves."""
    from camvideo.tools.evaluate import IMAGE_CSV_FIELDS, draw_curves, image_rows

    write_file(out / "images.csv", lambda f: _csv(f, IMAGE_CSV_FIELDS, image_rows(scores)))
    _write_png(out / "maxboxacc.png", draw_curves(summary.maxboxacc))


def _out_dir(out: str | None, source: Path, names: tuple[str, ...], inputs: list[str]) -> Path:
    """The folder for the files ``names``; none of them may be one of ``inputs``."""
    path = Path(out) if out else Path.cwd() / f"{source.stem}_eval"
    check_outputs(inputs, [(str(path / name), path / name) for name in names])
    _check_out(path)
    return path


def _check_out(path: Path) -> None:
    """An ``OutputError`` when ``path`` cannot be the results' folder (a file, under a file,
    in a folder that cannot be written), said before the model loads; made by ``_make``."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {path} is a file, not a folder: the results are several files; choose a folder")
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    problem = folder_problem(existing)
    if problem:
        raise OutputError(f"cannot create {path}: {problem}")


def _make(path: Path) -> Path:
    _check_out(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {path}: {reason(exc)}") from None
    return path


def _csv(f, fields, rows) -> None:
    writer = csv.DictWriter(f, fieldnames=list(fields))
    writer.writeheader()
    writer.writerows(rows)


def _write_png(path: Path, image) -> None:
    """``image`` as ``path`` (PNG), taking the name only when written whole (``whole_file``)."""
    import cv2

    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    try:
        if not ok:
            raise OSError("OpenCV could not encode it")
        with whole_file(path) as target:
            target.write_bytes(encoded.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None


def run_devset(args: argparse.Namespace) -> int:
    """Photos (as ``run_images``) and clips (as a video, frame by frame) of one split."""
    from camvideo.models import imagenet_labels
    from camvideo.tools.devset import devset_clips, devset_manifest, load_devset
    from camvideo.tools.evaluate import evaluate_images

    manifest = devset_manifest(args.manifest)
    settings = cli.localize_settings_from_args(args)
    labels = imagenet_labels()
    splits = ("tune", "holdout") if args.split == "all" else (args.split,)
    photos = load_devset(manifest, labels, args.split)  # fail before loading the model
    thresholds = _photo_options(args)
    if args.shots < 1 or args.shot_frames < 2:
        raise InputError(f"--shots must be at least 1 and --shot-frames at least 2, got {args.shots} and {args.shot_frames}")
    by_split = {s: load_devset(manifest, labels, s) for s in splits}
    clips = [c for s in splits for c in devset_clips(by_split[s], s, moving=True, shots=args.shots,
                                                           frames=args.shot_frames)]
    out = _out_dir(args.out, manifest.parent, DEVSET_OUTPUTS, [str(manifest)])  # before the model loads
    model = cli.load_model_from_args(args)
    with Counting("photos", len(photos), "images") as count:
        scores, summary = evaluate_images(model, photos, settings.box_rule, thresholds, batch_size=args.batch_size,
                                          maps=settings.maps, still=cli.still_from_args(args, model),
                                          progress=count.update)
    # The mean IoU of the top-1 box per split (the figure the quality targets are set on)
    by_file = {str(a.file): s for s, chosen in by_split.items() for a in chosen}
    photo_iou = {s: round(statistics.fmean([x.pred_iou for x in scores if by_file.get(str(x.file)) == s]), 4)
                 for s in splits}
    runs = _run_clips(args, model, settings, clips)
    _make(out)
    data = {"manifest": str(manifest), "split": args.split, "photos": summary.to_dict(), "photo_mean_iou": photo_iou,
            "clips": {r.name: {**r.summary.to_dict(), "ms_per_frame": round(r.ms_per_frame, 3)} for r in runs}}
    write_file(out / "devset_summary.json", lambda f: json.dump(data, f, indent=1))
    _write_photo_files(out, scores, summary)
    rows = [row for r in runs for row in _frame_rows(r.summary, clip=r.name)]
    write_file(out / "frames.csv", lambda f: _csv(f, ("clip", *FRAME_FIELDS), rows))
    _print_devset(args.split, summary, photo_iou, runs)
    print(f"-> {printable(str(out))}/{', '.join(DEVSET_OUTPUTS)}")
    return 0


def _run_clips(args: argparse.Namespace, model, settings, clips) -> list:
    """The clips through one localizer, as a video (``--extent`` as given), counted on stderr."""
    import dataclasses

    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import SmoothingSettings
    from camvideo.tools.devset import evaluate_devset_clips

    localizer = FrameLocalizer(model, dataclasses.replace(settings, smoothing=SmoothingSettings(extent=args.extent)))
    with Counting("clips", sum(len(frames) for _, frames, _ in clips), "frames") as count:
        return evaluate_devset_clips(lambda frame: localizer([frame])[0], localizer.reset, clips, progress=count.update)


def _print_devset(split: str, summary, photo_iou: dict, runs) -> None:
    """The photos' line and the clips' table, its first column as wide as the longest name."""
    m = summary.maxboxacc
    print(f"{summary.images} photos ({split}), model {summary.model}: top-1 classification "
          f"{100 * summary.top1_cls:.1f}%, top-1 localization {100 * summary.top1_loc:.1f}% (any region "
          f"{100 * summary.region_loc:.1f}%), "
          f"GT-known {100 * summary.gt_known_loc:.1f}%, MaxBoxAccV2 {100 * m.value:.1f}%; mean IoU of the "
          "top-1 box: " + ", ".join(f"{s} {v:.3f}" for s, v in photo_iou.items()))
    names = [printable(r.name) for r in runs]
    width = max([len("clip"), *map(len, names)]) + 2
    print(f"  {'clip':<{width}}{'frames':>7}{'mean IoU':>10}{'class':>8}{'changes':>9}{'true':>6}{'jitter px':>11}"
          f"{'in shots':>10}{'ms/frame':>10}")
    for name, r in zip(names, runs):
        s = r.summary
        acc = "" if s.class_accuracy is None else f"{100 * s.class_accuracy:.0f}%"
        print(f"  {name:<{width}}{s.frames:>7}{s.mean_iou:>10.3f}{acc:>8}{s.label_changes:>9}"
              f"{'' if s.true_changes is None else s.true_changes:>6}{s.jitter_px:>11.2f}"
              f"{s.jitter_shot_px:>10.2f}{r.ms_per_frame:>10.1f}")
