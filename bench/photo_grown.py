"""What each part of the photos' analysis does on the grown development set's tune
split (issue 25, session 14: 32 photos added, mostly ordinary single objects).

``python bench/photo_grown.py [--json F] [--new-only] [--grid] [--cost]``

Runs the tune split's photos (``camvideo eval --devset --split tune`` scores them the
same way: ``evaluate_images`` with ``balanced``'s box rule and maps) under session
13's ``StillSettings`` (``TODAY``: the default before session 14's choice) and with
one part at a time taken out: the split rule, the zoomed pass, the mirror and 25% level
(back to the rule's 20%), the class models (lite0's
classes alone), and no photos' analysis at all (``balanced``'s video pass). Prints
top-1 classification, top-1 localization, GT-known and the mean IoU of the top-1
box for the whole split, its first 29 photos ("old") and the session-14 photos
("new"), and the photos whose top-1 localization differs from ``TODAY``'s. Tune split
only, on purpose: the holdout split checks a choice, it does not make one.

``--grid`` (session 14's choice): every combination of the class source (lite0
alone, + lite1, + lite1 + lite2, each with and without the zoomed crop's
probabilities), the split rule (today's, none, or kept only when its regions look
like separate objects: ``similar`` the second region at least half the largest's
area, ``apart`` a gap between them at least half the largest's side, ``within`` the
largest at most half the coarse box's area) and the zoom (on, off), plus
``balanced``'s pass as the reference; each pass is run once a photo and reused
(``cached``). Sorted by the order fixed before the holdout run: top-1
localization, then GT-known, class accuracy, then the estimated cost (CPU ms of a
640x480 photo from session 11's per-pass timings, ``PASS_MS``). ``--cost`` times
``balanced``'s pass, ``StillSettings()`` and session 13's analysis on one 640x480
photo (CPU ms, torch on one thread, interleaved, the median of 7).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.boxes import boxes_from_cam, normalize  # noqa: E402
from camvideo.cam.evidence import evidence_maps  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.cam.still import StillAnalysis, still_analysis  # noqa: E402
from camvideo.cam.zoom import box_area  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import StillSettings, quality_settings  # noqa: E402
from camvideo.tools.devset import MANIFEST, load_devset  # noqa: E402
from camvideo.tools.evaluate import evaluate_images  # noqa: E402

NEW = ("details_", "monument_", "farm_duck", "farm_owl", "erase_alpaca", "erase_butterfly", "erase_calf",
       "erase_chamaeleon", "erase_cheetah", "erase_gibbon", "erase_gorilla", "erase_gosling", "erase_horse",
       "erase_kitten", "erase_macaque", "erase_penguin", "erase_red_panda")
# session 13's analysis (before session 14's choice, ``StillSettings()`` since): lite1's and
# lite2's classes, every split kept, the zoomed pass with the crop's classes
TODAY = StillSettings(class_models=("lite1", "lite2"), split_similar=0.0, zoom_below=1.0)
VARIANTS = {
    "session 13": TODAY,
    "no split": dataclasses.replace(TODAY, split_side=None),
    "no zoom": dataclasses.replace(TODAY, zoom_below=None),
    "no mirror, 20%": dataclasses.replace(TODAY, mirror=False, level=None),
    "lite0 classes": dataclasses.replace(TODAY, class_models=()),
    "no analysis": None,
}


# CPU ms of a 640x480 photo a pass (bench/results/quality/2026-12-06_photo_still_grid_tune.json);
# the crop's pass is lite0's balanced one on a smaller picture, counted as one.
PASS_MS = {"l0": 31.8, "l0f": 71.4, "l1": 43.3, "l2": 51.4, "448": 172.5, "crop": 31.8}
CLASSES = {"l0": (), "l0+l1": ("lite1",), "l0+l1+l2": ("lite1", "lite2")}


def gap(a, b) -> float:
    """The distance between two boxes (0 when they touch or overlap)."""
    dx, dy = max(0, max(a[0], b[0]) - min(a[2], b[2])), max(0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))


SPLITS = {  # name -> (split_side, which splits are kept: f(regions, coarse box) or None for all)
    "split": (448, None), "no split": (None, None),
    "similar": (448, "split_similar"),  # the product's rule (StillSettings.split_similar 0.5)
    "apart": (448, lambda r, c: gap(r[0], r[1]) >= 0.5 * box_area(r[0]) ** 0.5),
    "within": (448, lambda r, c: c is not None and box_area(r[0]) <= 0.5 * box_area(c)),
}


class Strict(StillAnalysis):
    """The analysis with the split kept only where ``keep(regions, coarse box)``."""

    def __init__(self, method, settings, class_methods, keep) -> None:
        super().__init__(method, settings, class_methods)
        self.keep, self.coarse = keep, {}

    def joined(self, frame, evidence, fine, rule, crops):
        self.coarse[id(fine)] = evidence  # evaluate_images calls this for each photo before its boxes
        return super().joined(frame, evidence, fine, rule, crops)

    def split(self, fine, class_id, width, height, rule):
        regions = super().split(fine, class_id, width, height, rule)
        if not regions or self.keep is None:
            return regions
        heat = normalize(evidence_maps(self.method, self.coarse[id(fine)], [class_id])[0])
        coarse = boxes_from_cam(heat, width, height, self.rule(rule))[:1]
        return regions if self.keep(regions, coarse[0] if coarse else None) else []


def cached() -> None:
    """Make ``ScaledPasses.evidence`` keep each photo's evidence of each request (the
    grid runs the same passes many times; a batch's missing photos still pass together)."""
    original, store = ScaledPasses.evidence, {}

    def evidence(self, frames, settings, timer=None):
        keys = [(self.model.name, frame.shape, hashlib.sha1(frame.tobytes()).hexdigest(), repr(settings))
                for frame in frames]
        missing = [b for b, k in enumerate(keys) if k not in store]
        if missing:
            for b, ev in zip(missing, original(self, [frames[b] for b in missing], settings, timer)):
                store[keys[b]] = ev
        return [store[k] for k in keys]

    ScaledPasses.evidence = evidence


def grid(model):
    """name -> (the analysis or None, estimated CPU ms)."""
    out = {"balanced (no analysis)": (None, PASS_MS["l0"])}
    base = still_analysis(model, dataclasses.replace(TODAY, class_models=("lite1", "lite2")))
    methods = {m.model.name: m for m in (p.method for p in base._classes)}
    for (cls, models), split, zoom, crop in itertools.product(CLASSES.items(), SPLITS, (True, False), (True, False)):
        if crop and not zoom:
            continue
        side, keep = SPLITS[split]
        similar, keep = (0.5, None) if keep == "split_similar" else (0.0, keep)
        settings = dataclasses.replace(TODAY, class_models=models, split_side=side, split_similar=similar,
                                       zoom_below=TODAY.zoom_below if zoom else None, zoom_classes=crop)
        name = f"{cls}{'+crop' if crop else ''} | {split} | {'zoom' if zoom else 'no zoom'}"
        ms = sum(PASS_MS[k] for k in ("l0", "l0f", *(f"l{m[-1]}" for m in models))) + PASS_MS["448"] * (side is not None)
        ms += PASS_MS["crop"] * zoom
        out[name] = (Strict(base.method, settings, [methods[m] for m in models], keep), round(ms, 1))
    return out


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
    parser.add_argument("--grid", action="store_true", help="session 14's grid, sorted by the choice's order")
    parser.add_argument("--cost", action="store_true", help="time today's and session 13's analysis (CPU ms)")
    args = parser.parse_args()
    if args.cost:
        ms = cost()
        print("CPU ms a 640x480 photo:", ms)
        if args.json:
            args.json.write_text(json.dumps({"cost_ms": ms, "reps": 7, "photo": "tests/data/coffee.png at 640x480"}) + "\n")
        return 0
    if args.grid:
        return run_grid(args)
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
        changed = sorted(f"{'+' if v else '-'}{k}" for k, v in hits[name].items() if v != hits["session 13"][k])
        print(f"{name:18s} {row}  {' '.join(changed)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"split": "tune", "columns": "top1_cls/top1_loc/gt_known/mean_iou",
                                         **out}, indent=1) + "\n")
    return 0


def cost(reps: int = 7) -> dict:
    """Median CPU ms of one 640x480 photo: ``balanced``'s pass, today's analysis and
    session 13's (interleaved; the first round not counted)."""
    import cv2
    import torch

    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.video.sources import read_image

    torch.set_num_threads(1)
    frame = cv2.resize(read_image(ROOT / "tests/data/coffee.png"), (640, 480), interpolation=cv2.INTER_AREA)
    model = load_model("lite0", device="cpu")
    localizer = FrameLocalizer(model, quality_settings("balanced"))
    runs = {"balanced": lambda: localizer([frame]),
            **{k: (lambda a=still_analysis(model, v): a(localizer, frame))
               for k, v in (("StillSettings()", StillSettings()), ("session 13", TODAY))}}
    times: dict = {k: [] for k in runs}
    for r in range(reps + 1):
        for key, run in runs.items():
            t0 = time.process_time()
            run()
            if r >= 1:
                times[key].append(1000 * (time.process_time() - t0))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def run_grid(args) -> int:
    photos = load_devset(MANIFEST, imagenet_labels(), "tune")
    model = load_model("lite0", device="cpu")
    settings = quality_settings("balanced")
    cached()
    rows = []
    for name, (still, ms) in grid(model).items():
        scores, _ = evaluate_images(model, photos, settings.box_rule, maps=settings.maps, still=still)
        parts = {p: figures([s for s in scores if (p == "all" or (p == "new") == Path(s.file).name.startswith(NEW))])
                 for p in ("all", "old", "new")}
        rows.append({"name": name, "cost_ms": ms, **parts,
                     "misses": sorted(Path(s.file).stem for s in scores if not (s.pred_class in s.gt_classes
                                                                                and s.pred_iou >= 0.5))})
        print(f"{name:38s} " + "  ".join(f"{p} {f['top1_loc']:.3f}/{f['gt_known']:.3f}/{f['top1_cls']:.3f}/"
                                         f"{f['mean_iou']:.3f}" for p, f in parts.items()) + f"  {ms} ms", flush=True)
    rows.sort(key=lambda r: (-r["all"]["top1_loc"], -r["all"]["gt_known"], -r["all"]["top1_cls"], r["cost_ms"]))
    print("\nby the order (top-1 loc, GT-known, class, cost):")
    for r in rows:
        f = r["all"]
        print(f"{r['name']:38s} {f['top1_loc']:.3f} {f['gt_known']:.3f} {f['top1_cls']:.3f} {f['mean_iou']:.3f} "
              f"{r['cost_ms']} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"split": "tune", "order": "top1_loc, gt_known, top1_cls, cost_ms",
                                         "grid": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
