"""``camvideo eval``: localization accuracy on annotated images, or of a clip's boxes.

``camvideo eval MANIFEST.json`` (or VOC XML files) writes ``summary.json``,
``images.csv`` and ``maxboxacc.png`` to ``--out`` and prints a short table.
``camvideo eval --clip PRED.jsonl --truth TRUTH.jsonl`` compares per-frame boxes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from camvideo.cli import options as cli
from camvideo.cli.outputs import write_file
from camvideo.errors import InputError, OutputError, reason


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="localization accuracy on annotated images (top-1, GT-known, MaxBoxAccV2) or clips",
        description="Measure how well the CAM boxes localize. With MANIFEST (a JSON manifest, a VOC XML "
        "file or a folder of them): top-1 localization, GT-known localization and MaxBoxAccV2 "
        "(Choe et al., CVPR 2020). With --clip and --truth: mean IoU, frames with IoU >= 0.5, "
        "box jitter and label changes of a per-frame JSONL export against the true boxes.",
        epilog='manifest: {"images": [{"file": "cat.png", "boxes": [[x1, y1, x2, y2]], "classes": [281, 285]}]} '
        "(file relative to the manifest; classes: ImageNet ids or labels counted as correct)",
    )
    p.add_argument("manifest", nargs="?", metavar="MANIFEST",
                   help="JSON manifest, Pascal VOC .xml file, or a folder of VOC .xml files")
    p.add_argument("--clip", metavar="PRED.jsonl", help="per-frame predictions (camvideo process --export)")
    p.add_argument("--truth", metavar="TRUTH.jsonl", help="per-frame true boxes, same format (one detection a frame)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for summary.json, the per-image/per-frame CSV and the plot (default: ./NAME_eval)")
    cli.add_model_options(p)
    group = p.add_argument_group("boxes (top-1 and GT-known localization; MaxBoxAccV2 sweeps its own thresholds)")
    cli.add_box_options(group)
    group.add_argument("--step", type=float, default=0.01, help="MaxBoxAccV2 threshold step (default: 0.01)")
    group.add_argument("--batch-size", type=int, default=16, help="images per forward batch (default: 16)")
    p.set_defaults(func=run, topk=1, class_ids=None)


def run(args: argparse.Namespace) -> int:
    if args.clip or args.truth:
        if not (args.clip and args.truth):
            raise InputError("clip evaluation needs both --clip PRED.jsonl and --truth TRUTH.jsonl")
        if args.manifest:
            raise InputError("give either MANIFEST or --clip/--truth, not both")
        return run_clip(args)
    if not args.manifest:
        raise InputError("nothing to evaluate: give MANIFEST.json (or VOC XML), or --clip PRED.jsonl --truth TRUTH.jsonl")
    return run_images(args)


def run_images(args: argparse.Namespace) -> int:
    from camvideo.models import imagenet_labels
    from camvideo.tools.evaluate import (
        IMAGE_CSV_FIELDS,
        default_thresholds,
        draw_curves,
        evaluate_images,
        image_rows,
        load_annotations,
    )

    rule = cli.localize_settings_from_args(args).box_rule
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        thresholds = default_thresholds(args.step)
    except ValueError as exc:
        raise InputError(f"--step: {exc}") from None
    annotations = load_annotations(args.manifest, imagenet_labels())  # fail before loading the model
    model = cli.load_model_from_args(args)
    forward = cli.forward_from_args(args, model)
    try:
        scores, summary = evaluate_images(model, annotations, rule, thresholds, batch_size=args.batch_size,
                                          forward=forward)
    except ValueError as exc:
        raise InputError(str(exc)) from None

    out = _out_dir(args.out, Path(args.manifest))
    data = {"manifest": str(args.manifest), **summary.to_dict()}
    write_file(out / "summary.json", lambda f: json.dump(data, f, indent=1))
    write_file(out / "images.csv", lambda f: _csv(f, IMAGE_CSV_FIELDS, image_rows(scores)))
    _write_png(out / "maxboxacc.png", draw_curves(summary.maxboxacc))

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
            print(f"  {Path(s.file).name}: {s.pred_label} ({s.pred_score:.2f}) IoU {s.pred_iou:.2f}; "
                  f"GT class {s.gt_label} IoU {s.gt_iou:.2f}  {flags.strip() or '-'}")
    print(f"-> {out}/summary.json, images.csv, maxboxacc.png")
    return 0


def run_clip(args: argparse.Namespace) -> int:
    from camvideo.tools.evaluate import evaluate_clip, read_frames_jsonl

    result = evaluate_clip(read_frames_jsonl(args.clip), read_frames_jsonl(args.truth))
    out = _out_dir(args.out, Path(args.clip))
    data = {"clip": str(args.clip), "truth": str(args.truth), **result.to_dict()}
    write_file(out / "clip_summary.json", lambda f: json.dump(data, f, indent=1))
    rows = [
        {**row, "true_box": _box(row["true_box"]), "pred_box": _box(row["pred_box"]), "iou": round(row["iou"], 4)}
        for row in result.per_frame
    ]
    fields = ("frame", "true_box", "pred_box", "iou", "pred_class", "true_class")
    write_file(out / "frames.csv", lambda f: _csv(f, fields, rows))
    print(f"{result.frames} frames ({result.missing} missing from the predictions)")
    print(f"  {'mean IoU':<24}{result.mean_iou:8.3f}")
    print(f"  {'frames with IoU >= 0.5':<24}{100 * result.iou50:7.1f}%")
    print(f"  {'box jitter':<24}{result.jitter_px:8.2f} px")
    print(f"  {'label changes':<24}{result.label_changes:8d}")
    if result.class_accuracy is not None:
        print(f"  {'top-1 class correct':<24}{100 * result.class_accuracy:7.1f}%")
    print(f"-> {out}/clip_summary.json, frames.csv")
    return 0


def _box(box) -> str:
    return "" if box is None else " ".join(f"{v:g}" for v in box)


def _out_dir(out: str | None, source: Path) -> Path:
    path = Path(out) if out else Path.cwd() / f"{source.stem}_eval"
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
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OutputError(f"cannot write {path}")
