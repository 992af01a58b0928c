"""What each part of the photos' analysis does on the grown development set's tune
split (issue 25, session 14: 32 photos added, mostly ordinary single objects).

``python bench/photo_grown.py [--json F] [--new-only]``

Runs the tune split's photos (``camvideo eval --devset --split tune`` scores them the
same way: ``evaluate_images`` with ``balanced``'s box rule and maps) under today's
``StillSettings`` and with one part at a time taken out: the split rule, the zoomed
pass, the mirror and 25% level (back to the rule's 20%), the class models (lite0's
classes alone), and no photos' analysis at all (``balanced``'s video pass). Prints
top-1 classification, top-1 localization, GT-known and the mean IoU of the top-1
box for the whole split, its first 29 photos ("old") and the session-14 photos
("new"), and the photos whose top-1 localization differs from today's. Tune split
only, on purpose: the holdout split checks a choice, it does not make one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.still import still_analysis  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import StillSettings, quality_settings  # noqa: E402
from camvideo.tools.devset import MANIFEST, load_devset  # noqa: E402
from camvideo.tools.evaluate import evaluate_images  # noqa: E402

NEW = ("details_", "monument_", "farm_duck", "farm_owl", "erase_alpaca", "erase_butterfly", "erase_calf",
       "erase_chamaeleon", "erase_cheetah", "erase_gibbon", "erase_gorilla", "erase_gosling", "erase_horse",
       "erase_kitten", "erase_macaque", "erase_penguin", "erase_red_panda")
TODAY = StillSettings()
VARIANTS = {
    "today": TODAY,
    "no split": dataclasses.replace(TODAY, split_side=None),
    "no zoom": dataclasses.replace(TODAY, zoom_below=None),
    "no mirror, 20%": dataclasses.replace(TODAY, mirror=False, level=None),
    "lite0 classes": dataclasses.replace(TODAY, class_models=()),
    "no analysis": None,
}


def figures(scores) -> dict:
    n = max(len(scores), 1)
    return {"images": len(scores), "top1_cls": round(sum(s.pred_class in s.gt_classes for s in scores) / n, 4),
            "top1_loc": round(sum(s.pred_class in s.gt_classes and s.pred_iou >= 0.5 for s in scores) / n, 4),
            "gt_known": round(sum(s.gt_iou >= 0.5 for s in scores) / n, 4),
            "mean_iou": round(statistics.fmean(s.pred_iou for s in scores), 4) if scores else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every figure and per-photo row here")
    parser.add_argument("--new-only", action="store_true", help="the session-14 photos of the tune split only")
    args = parser.parse_args()
    photos = load_devset(MANIFEST, imagenet_labels(), "tune")
    if args.new_only:
        photos = [a for a in photos if Path(a.file).name.startswith(NEW)]
    model = load_model("lite0", device="cpu")
    settings = quality_settings("balanced")
    out, hits = {}, {}
    for name, still in VARIANTS.items():
        scores, _ = evaluate_images(model, photos, settings.box_rule, maps=settings.maps,
                                    still=still_analysis(model, still) if still is not None else None)
        new = [s for s in scores if Path(s.file).name.startswith(NEW)]
        old = [s for s in scores if not Path(s.file).name.startswith(NEW)]
        hits[name] = {Path(s.file).name: bool(s.pred_class in s.gt_classes and s.pred_iou >= 0.5) for s in scores}
        out[name] = {"all": figures(scores), "old": figures(old), "new": figures(new),
                     "per_photo": [{"file": Path(s.file).name, "pred_label": s.pred_label, "pred_iou": round(s.pred_iou, 4),
                                    "top1_loc": hits[name][Path(s.file).name]} for s in scores]}
        row = "  ".join(f"{part} {f['top1_cls']:.3f}/{f['top1_loc']:.3f}/{f['gt_known']:.3f}/{f['mean_iou']:.3f}"
                        for part, f in ((p, out[name][p]) for p in ("all", "old", "new")))
        changed = sorted(f"{'+' if v else '-'}{k}" for k, v in hits[name].items() if v != hits["today"][k])
        print(f"{name:18s} {row}  {' '.join(changed)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"split": "tune", "columns": "top1_cls/top1_loc/gt_known/mean_iou",
                                         **out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
