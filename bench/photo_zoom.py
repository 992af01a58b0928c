"""A zoomed second pass on the photos' box (``camvideo.cam.zoom``) under variations,
on the development set (issue 25, photos: small objects).

``python bench/photo_zoom.py --json F [--grid] [--split tune|holdout|both]
[--report NAME ...]``

Each photo goes through today's photos' analysis (``camvideo.cam.still``, its
default ``StillSettings``: the classes of lite0+lite1+lite2, lite0's mirror-averaged
coarse map at 25%, the split rule), as ``camvideo eval --devset`` scores it; then
the primary box of a class may be replaced by the zoomed pass's box on it. A
candidate is ``BELOW|SCALE|LEAST|LEVEL|FLIP|ON|CLS``:

- ``BELOW``: zoom when the primary box's area is under this fraction of the photo's
  (``never``: today's);
- ``SCALE``, ``LEAST``: the window, the box enlarged ``SCALE`` times a side, at least
  ``LEAST`` of the photo's short side;
- ``LEVEL``: the crop map's threshold (fraction of its maximum; the balanced inset);
- ``FLIP``: ``f`` the crop's pass mirror-averaged, ``no`` not;
- ``ON``: ``coarse`` zooms the coarse box only, ``all`` the split's largest region too;
- ``CLS``: ``full`` today's classes, ``join`` the crop's lite0 probabilities joined
  to the class mean where a crop was made (the top-1 class's window), ``join3`` the
  crop's lite0, lite1 and lite2 probabilities joined (the mean of six).

Scored as ``camvideo eval`` scores photos (top-1 localization: the top-1 class right
and its box at IoU >= 0.5 with a true box; GT-known: the best true class's box; mean
IoU of the top-1 box); ``zoomed`` is the share of photos whose top-1 box was zoomed.
``--grid`` prints every candidate on the tune split only, best first by the order
fixed before it ran: top-1 loc, GT-known, class accuracy, mean IoU, then fewer
photos zoomed (cheaper). ``--cost`` times the product's ``StillAnalysis`` on the
shared coffee photo resized to 640x480 with the zoom off and on (CPU ms, one
thread, interleaved, median of 7).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.boxes import boxes_from_cam, normalize  # noqa: E402
from camvideo.cam.evidence import evidence_maps  # noqa: E402
from camvideo.cam.methods import cam_method  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.cam.still import CLASS_PASS, StillAnalysis, still_analysis  # noqa: E402
from camvideo.cam.zoom import crop_evidence, wanted, zoom_box, zoom_window  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import StillSettings, quality_rule  # noqa: E402
from camvideo.settings import LocalizeSettings, MapSettings  # noqa: E402
from camvideo.tools.annotations import best_iou, fit_boxes  # noqa: E402
from camvideo.tools.devset import load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

MANIFEST = ROOT / "tests/data/devset/manifest.json"
TODAY = "never|2|0.25|0.25|no|coarse|full"
BELOWS = ("0.05", "0.1", "0.2", "0.35", "0.5", "1.0")
SCALES = ("1.5", "2", "3")
LEASTS = ("0.25", "0.5")
LEVELS = ("0.2", "0.25", "0.3", "0.4")
FLIPS = ("no", "f")
ONS = ("coarse", "all")
CLSS = ("full", "join", "join3")


class Photos:
    """One split's photos through today's analysis, with the zoomed passes cached."""

    def __init__(self, split: str, labels) -> None:
        self.anns = load_devset(MANIFEST, labels, split)
        self.images = [read_image(a.file) for a in self.anns]
        self.sizes = [(im.shape[1], im.shape[0]) for im in self.images]
        self.gts = [fit_boxes(a, w, h) for a, (w, h) in zip(self.anns, self.sizes)]
        model = load_model("lite0", device="cpu")
        self.method = cam_method(model)
        self.passes = ScaledPasses(self.method)
        self.still = still_analysis(model, StillSettings())
        self.rule = quality_rule("balanced")
        self.found, self.fines = [], []
        with torch.inference_mode():
            for im in self.images:
                ev = self.passes.evidence([im], LocalizeSettings(topk=1, maps=MapSettings(input="aspect")))[0]
                self.found.append(self.still.mirrored(im, self.still.classes(im, ev)))
                self.fines.append(self.still.fine(im))
        self.primary = cache(self._primary)
        self.crop = cache(self._crop)
        self.crop_classes = cache(self._crop_classes)

    def _primary(self, i: int, c: int) -> tuple:
        """(today's primary box of class ``c``, whether it is the split's region)."""
        w, h = self.sizes[i]
        regions = self.still.split(self.fines[i], c, w, h, self.rule)
        if regions:
            return regions[0], True
        heat = normalize(evidence_maps(self.method, self.found[i], np.array([c]))[0])
        boxes = boxes_from_cam(heat, w, h, self.still.rule(self.rule))
        return (boxes[0] if boxes else None), False

    def _crop(self, i: int, window: tuple, flip: bool):
        return crop_evidence(self.passes, self.images[i], window, flip)

    def _crop_classes(self, i: int, window: tuple) -> np.ndarray:
        """The class models' (lite1's, lite2's) probabilities on the crop, stacked."""
        x1, y1, x2, y2 = window
        crop = np.ascontiguousarray(self.images[i][y1:y2, x1:x2])
        with torch.inference_mode():
            return np.stack([p.evidence([crop], LocalizeSettings(topk=1, maps=CLASS_PASS))[0].probs.cpu().numpy()
                             for p in self.still._classes])

    def window(self, i: int, c: int, v: dict) -> tuple | None:
        """The zoom window of class ``c`` under candidate ``v`` (None: no zoom)."""
        box, split = self.primary(i, c)
        w, h = self.sizes[i]
        if (split and v["on"] == "coarse") or not wanted(box, w, h, v["below"]):
            return None
        return zoom_window(box, w, h, v["scale"], v["least"])

    def box(self, i: int, c: int, v: dict) -> tuple:
        """(class ``c``'s box under candidate ``v``, zoomed or not)."""
        win = self.window(i, c, v)
        if win is None:
            return self.primary(i, c)[0], False
        rule = self.rule.__class__(threshold=v["level"], method="max", inset=self.rule.inset)
        zoomed = zoom_box(self.method, self.crop(i, win, v["flip"]), c, win, rule)
        return (zoomed or self.primary(i, c)[0]), True

    def probs(self, i: int, v: dict) -> np.ndarray:
        probs = self.found[i].probs.cpu().numpy()
        if v["cls"] == "full":
            return probs
        win = self.window(i, int(np.argmax(probs)), v)
        if win is None:
            return probs
        crop = self.crop(i, win, v["flip"]).probs.cpu().numpy()
        if v["cls"] == "join":
            return (3 * probs + crop) / 4  # one more member in the mean of lite0, lite1, lite2
        return (3 * probs + crop + self.crop_classes(i, win).sum(axis=0)) / 6


def parse(name: str) -> dict:
    below, scale, least, level, flip, on, cls = name.split("|")
    return {"below": None if below == "never" else float(below), "scale": float(scale), "least": float(least),
            "level": float(level), "flip": flip == "f", "on": on, "cls": cls}


def score(photos: Photos, name: str) -> dict:
    v = parse(name)
    n, cls, loc, known, ious, zoomed, missed = len(photos.anns), 0, 0, 0, [], 0, []
    for i, ann in enumerate(photos.anns):
        probs = photos.probs(i, v)
        top, gt = int(np.argmax(probs)), max(ann.classes, key=lambda c: float(probs[c]))
        right = top in ann.classes
        box, z = photos.box(i, top, v)
        top_iou = best_iou([box] if box else [], photos.gts[i])
        gt_box = box if gt == top else photos.box(i, gt, v)[0]
        gt_iou = best_iou([gt_box] if gt_box else [], photos.gts[i])
        cls, zoomed = cls + right, zoomed + z
        loc += right and top_iou >= 0.5
        known += gt_iou >= 0.5
        ious.append(top_iou)
        if not (right and top_iou >= 0.5):
            missed.append(f"{Path(ann.file).stem} " + (f"iou {top_iou:.2f}" if right else "(class)"))
    return {"top1_cls": round(cls / n, 4), "top1_loc": round(loc / n, 4), "gt_known": round(known / n, 4),
            "mean_iou": round(float(np.mean(ious)), 4), "zoomed": round(zoomed / n, 4), "photos": n,
            "missed": missed}


def cost(reps: int = 7) -> dict:
    """Median CPU ms of one 640x480 photo through ``StillAnalysis``, the default
    settings with the zoom off and on (interleaved; the first round not counted)."""
    import cv2

    from camvideo.presets import quality_settings
    from camvideo.runtime.localizer import FrameLocalizer

    frame = cv2.resize(read_image(ROOT / "tests/data/coffee.png"), (640, 480), interpolation=cv2.INTER_AREA)
    model = load_model("lite0", device="cpu")
    localizer = FrameLocalizer(model, quality_settings("balanced"))
    on = still_analysis(model, StillSettings())
    off = StillAnalysis(on.method, dataclasses.replace(on.settings, zoom_below=None), [p.method for p in on._classes])
    runs = {"off": off, "on": on}
    times: dict = {k: [] for k in runs}
    for r in range(reps + 1):
        for key, still in runs.items():
            t0 = time.process_time()
            still(localizer, frame)
            if r >= 1:
                times[key].append(1000 * (time.process_time() - t0))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def grid_names() -> list[str]:
    names = [TODAY]
    for parts in itertools.product(BELOWS, SCALES, LEASTS, LEVELS, FLIPS, ONS, CLSS):
        names.append("|".join(parts))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--grid", action="store_true", help="print every candidate on the tune split")
    ap.add_argument("--split", choices=("tune", "holdout", "both"), default="tune")
    ap.add_argument("--cost", action="store_true", help="time StillAnalysis with the zoom off and on")
    ap.add_argument("--report", nargs="*", default=[TODAY], metavar="BELOW|SCALE|LEAST|LEVEL|FLIP|ON|CLS")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels = imagenet_labels()
    splits = ("tune", "holdout") if args.split == "both" else (args.split,)
    out: dict = {"cost_ms": cost() if args.cost else None}
    if args.cost:
        print("CPU ms a 640x480 photo:", out["cost_ms"], flush=True)
    t0 = time.process_time()
    data = {s: Photos(s, labels) for s in splits}
    if args.grid:
        rows = []
        for name in grid_names():
            r = score(data["tune"], name)
            rows.append((-r["top1_loc"], -r["gt_known"], -r["top1_cls"], -r["mean_iou"], r["zoomed"], name, r))
        rows.sort(key=lambda row: row[:6])
        out["grid_tune"] = [{"name": row[5], **row[6]} for row in rows]
        for row in rows:
            r = row[6]
            print(f"{row[5]:36s} loc {r['top1_loc']:.3f} gtk {r['gt_known']:.3f} cls {r['top1_cls']:.3f} "
                  f"iou {r['mean_iou']:.3f} zoomed {r['zoomed']:.2f}", flush=True)
    out["results"] = {name: {s: score(data[s], name) for s in splits} for name in args.report}
    for name, r in out["results"].items():
        print(name, json.dumps(r), flush=True)
    out["cpu_s"] = round(time.process_time() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
