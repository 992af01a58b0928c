"""Where the clips' mean IoU is lost: per clip and shot, the top-1 box against the truth.

``python bench/motion_diagnose.py --split tune [--set NAME=V,...] [--json F]``

Replays ``balanced``'s cached forward passes (``bench/motion_extent.py``'s pickle, every
clip of the split) through the product's in-order half and sorts each frame's loss of
IoU: **too large** / **too small**
(the box's area over 1.5x / under 1/1.5x the true box's), **off centre** (the areas
agree but the centres are more than 0.25 of the true diagonal apart), else **fit**; each
also marked when the top-1 class is wrong. Per
shot (the truth's class changes mark the cuts): frames, mean IoU, the median area ratio
and centre offset, the class-right share and the IoU lost (1 - IoU summed) by kind.
Results: docs/eval.md ("Where the clips' IoU is lost").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.motion_extent as me  # noqa: E402
from camvideo.cam import extent  # noqa: E402
from camvideo.cam.boxes import iou as box_iou  # noqa: E402
from camvideo.models import load_model  # noqa: E402
from camvideo.presets import quality_settings  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings  # noqa: E402

KINDS = tuple(k + w for w in ("", " (wrong class)") for k in ("too large", "too small", "off centre", "fit"))


def _geometry(box, true_box) -> tuple[float, float, float]:
    """(IoU, area ratio, centre offset over the true diagonal)."""
    if not box:
        return 0.0, 0.0, 1.0
    area = lambda b: max(1e-9, (b[2] - b[0]) * (b[3] - b[1]))  # noqa: E731
    centre = lambda b: np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])  # noqa: E731
    diag = float(np.hypot(true_box[2] - true_box[0], true_box[3] - true_box[1]))
    return box_iou(box, true_box), area(box) / area(true_box), float(np.linalg.norm(centre(box) - centre(true_box)) / diag)


def kind(iou: float, ratio: float, offset: float) -> str:
    if ratio > 1.5:
        return "too large"
    if ratio < 1 / 1.5:
        return "too small"
    return "off centre" if offset > 0.25 else "fit"


def frame_rows(pred: dict, truth: dict) -> list[dict]:
    """One row per truth frame with a box: shot, IoU, area ratio, offset, class right, kind."""
    rows, shot, last = [], 0, None
    for index in sorted(truth):
        det = truth[index]["detections"][0]
        if det.get("box") is None:
            continue
        classes = det.get("class_ids") or [det.get("class_id")]
        key = tuple(classes)
        if last is not None and key != last:
            shot += 1
        last = key
        top = [d for d in pred.get(index, {}).get("detections", []) if d["rank"] == 1]
        box = top[0]["box"] if top else None
        right = bool(top) and top[0]["class_id"] in classes
        iou, ratio, offset = _geometry(box, det["box"])
        rows.append({"frame": index, "shot": shot, "iou": iou, "ratio": ratio, "offset": offset,
                     "right": right, "kind": kind(iou, ratio, offset) + ("" if right else " (wrong class)")})
    return rows


def shot_table(rows: list[dict]) -> list[dict]:
    out = []
    for shot in sorted({r["shot"] for r in rows}):
        sel = [r for r in rows if r["shot"] == shot]
        lost = Counter()
        for r in sel:
            lost[r["kind"]] += 1 - float(r["iou"])
        out.append({"shot": shot, "frames": len(sel), "iou": float(np.mean([r["iou"] for r in sel])),
                    "ratio": float(np.median([r["ratio"] for r in sel])),
                    "offset": float(np.median([r["offset"] for r in sel])),
                    "class": float(np.mean([r["right"] for r in sel])),
                    "lost": {k: round(v, 2) for k, v in lost.items()}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout"))
    ap.add_argument("--shots", type=int, default=3)
    ap.add_argument("--shot-frames", type=int, default=30)
    ap.add_argument("--set", default="", help="NAME=VALUE,... constants of camvideo.cam.extent")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    cache = Path(f"/tmp/camvideo_extent_{args.split}_all_{args.shots}x{args.shot_frames}.pkl")
    clips = me.passes(args.split, True, args.shots, args.shot_frames, cache)
    for item in filter(None, args.set.split(",")):
        key, value = item.split("=")
        kind = type(getattr(extent, key))
        setattr(extent, key, value in ("1", "true", "True") if kind is bool else kind(value))
    me.replay.loc = FrameLocalizer(load_model("lite0", device="cpu"),
                                   quality_settings("balanced", LocalizeSettings(smoothing=SmoothingSettings())))
    report = []
    for name, _frames, truth, raws in clips:
        scores, pred = me.replay(raws, truth)
        rows = frame_rows(pred, truth)
        total = Counter()
        for r in rows:
            total[r["kind"]] += 1 - r["iou"]
        print(f"{name}: IoU {scores['mean_iou']:.3f}; IoU lost by kind (frames' 1 - IoU summed): "
              + ", ".join(f"{k} {total[k]:.1f}" for k in KINDS if total[k]))
        for s in shot_table(rows):
            print(f"  shot {s['shot']}: {s['frames']:3d} frames IoU {s['iou']:.3f} area x{s['ratio']:.2f} "
                  f"offset {s['offset']:.2f} class {s['class']:.2f} lost {s['lost']}")
        report.append({"clip": name, **scores, "shots": shot_table(rows), "frames": rows})
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
