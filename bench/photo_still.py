"""The photos' analysis (``camvideo.cam.still``) under test-time variations, on the
development set (issue 25, photos): mirror averaging, multi-scale maps, per-photo
box thresholds, the split rule's region choice, lite2 in the class mean.

``python bench/photo_still.py --json F [--grid] [--split tune|holdout|both]
[--report NAME ...] [--cost]``

Each photo goes once through each pass (torch, CPU, one thread): lite0, lite1 and
lite2's balanced pass (aspect kept, short side 224) with and without the mirror
(``MapSettings.flip``: the mirror's features flipped back and averaged), and
lite0's pass at a short side of 448 (with and without the mirror). A candidate is
``CLS|COARSE|RULE|FINE|PICK``:

- ``CLS``: the class probabilities, the mean of the named passes' (``l0+l1``: today's;
  ``f`` marks the mirrored pass, ``l0f+l1f``);
- ``COARSE``: the map of the box when the fine map does not split: ``l0`` (today's),
  ``l0f``, or ``l0&448`` / ``l0f&448f`` (the mean of the min-max normalized balanced
  and 448 maps at the 448 map's cells: multi-scale);
- ``RULE``: the coarse map's threshold: ``max0.2`` (today's), ``max0.15`` ...,
  ``otsu`` (Otsu's level per photo), ``mean1.0`` (the map's mean);
- ``FINE``: the split rule's map (``448``, ``448f``; ``-``: no split);
- ``PICK``: the split's primary region: ``largest`` (today's) or ``mass`` (the most
  evidence: the sum of the normalized map over the region).

Scored as ``camvideo eval`` scores photos (the CAM paper's top-1 localization: the
top-1 class right and its one box at IoU >= 0.5 with a true box; GT-known: the
best true class's box; mean IoU of the top-1 box). ``--grid`` prints every
candidate on the tune split only, best first by the choice's order (top-1 loc,
GT-known, class accuracy, mean IoU, then the cheaper); ``--report`` scores the
named candidates on the splits asked for; ``--cost`` times each pass (CPU ms of a
640x480 photo, one thread, interleaved, median).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from photo_classes import lazy_maps  # noqa: E402 - its sibling script (bench/)

from camvideo.cam.boxes import boxes_from_cam, normalize  # noqa: E402
from camvideo.cam.methods import cam_method  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.cam.regions import region_boxes  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings  # noqa: E402
from camvideo.tools.annotations import best_iou, fit_boxes  # noqa: E402
from camvideo.tools.devset import load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

MANIFEST = ROOT / "tests/data/devset/manifest.json"
INSET = 0.04  # BOX_INSET of balanced and best
SPLIT_LEVEL, SPLIT_PEAK = 0.3, 0.7  # StillSettings' split rule
PASSES = {  # key -> (model, MapSettings)
    **{f"l{m}{'f' if f else ''}": (f"lite{m}", MapSettings(input="aspect", flip=f))
       for m in (0, 1, 2) for f in (False, True)},
    "448": ("lite0", MapSettings(input="aspect", map_side=448)),
    "448f": ("lite0", MapSettings(input="aspect", map_side=448, flip=True)),
}
CLASS_SOURCES = ("l0+l1", "l0f+l1f", "l0+l1+l2", "l0f+l1f+l2f", "l0f+l1")
COARSE = ("l0", "l0f", "l0&448", "l0f&448f")
RULES = ("max0.15", "max0.2", "max0.25", "max0.3", "otsu", "mean1.0", "mean1.5")
FINES = ("-", "448", "448f")
PICKS = ("largest", "mass")
TODAY = "l0+l1|l0|max0.2|448|largest"


def run_passes(anns, images) -> dict:
    """key -> per photo (probs (C,), maps(class id) -> raw map)."""
    out = {}
    with torch.inference_mode():
        for model_name in dict.fromkeys(m for m, _ in PASSES.values()):
            method = cam_method(load_model(model_name, device="cpu"))
            passes = ScaledPasses(method)
            for key, (name, ms) in PASSES.items():
                if name != model_name:
                    continue
                request = LocalizeSettings(topk=1, maps=ms)
                evs = [passes.evidence([im], request)[0] for im in images]
                out[key] = [(ev.probs.cpu().numpy(), lazy_maps(method, ev)) for ev in evs]
    return out


def rule_of(name: str) -> BoxRule:
    if name == "otsu":
        return BoxRule(method="otsu", inset=INSET)
    method, level = ("max", name[3:]) if name.startswith("max") else ("mean", name[4:])
    return BoxRule(threshold=float(level), method=method, inset=INSET)


def coarse_map(found, source: str, i: int, c: int) -> np.ndarray:
    if "&" not in source:
        return found[source][i][1](c)
    a, b = source.split("&")
    fine = normalize(found[b][i][1](c))
    h, w = fine.shape
    return 0.5 * (cv2.resize(normalize(found[a][i][1](c)), (w, h), interpolation=cv2.INTER_LINEAR) + fine)


def mass_first(cam: np.ndarray, regions: list, width: int, height: int) -> list:
    """``regions`` with the one holding the most evidence (the normalized map's sum
    over its box, at the map's own cells upsampled to the frame) first."""
    heat = cv2.resize(normalize(cam), (width, height), interpolation=cv2.INTER_LINEAR)
    heat = np.where(heat >= SPLIT_LEVEL, heat, 0.0)
    masses = [float(heat[y1:y2, x1:x2].sum()) for x1, y1, x2, y2 in regions]
    best = int(np.argmax(masses))
    return [regions[best]] + regions[:best] + regions[best + 1:]


def make_box(found, sizes):
    @cache
    def box(i: int, c: int, coarse: str, rule: str, fine: str, pick: str):
        w, h = sizes[i]
        if fine != "-":
            cam = found[fine][i][1](c)
            regions = region_boxes(normalize(cam), w, h, BoxRule(threshold=SPLIT_LEVEL, inset=INSET),
                                   least_peak=SPLIT_PEAK)
            if len(regions) >= 2:
                return tuple((mass_first(cam, regions, w, h) if pick == "mass" else regions)[:1])
        return tuple(boxes_from_cam(normalize(coarse_map(found, coarse, i, c)), w, h, rule_of(rule))[:1])
    return box


def class_probs(found, source: str, i: int) -> np.ndarray:
    return np.mean([found[k][i][0] for k in source.split("+")], axis=0)


def score(data, name: str) -> dict:
    cls_src, coarse, rule, fine, pick = name.split("|")
    anns, found, box = data["anns"], data["found"], data["box"]
    n, cls, loc, known, ious, missed = len(anns), 0, 0, 0, [], []
    for i, ann in enumerate(anns):
        gts = data["gts"][i]
        probs = class_probs(found, cls_src, i)
        top, gt = int(np.argmax(probs)), max(ann.classes, key=lambda c: float(probs[c]))
        right = top in ann.classes
        top_iou = best_iou(list(box(i, top, coarse, rule, fine, pick)), gts)
        gt_iou = top_iou if gt == top else best_iou(list(box(i, gt, coarse, rule, fine, pick)), gts)
        cls += right
        loc += right and top_iou >= 0.5
        known += gt_iou >= 0.5
        ious.append(top_iou)
        if not (right and top_iou >= 0.5):
            missed.append(f"{Path(ann.file).stem} " + (f"iou {top_iou:.2f}" if right else "(class)"))
    return {"top1_cls": round(cls / n, 4), "top1_loc": round(loc / n, 4), "gt_known": round(known / n, 4),
            "mean_iou": round(float(np.mean(ious)), 4), "photos": n, "missed": missed}


def passes_used(name: str) -> set:
    cls_src, coarse, _, fine, _ = name.split("|")
    used = set(cls_src.split("+")) | set(coarse.split("&")) | ({fine} - {"-"})
    return used


def candidate_cost(name: str, ms: dict) -> float:
    """CPU ms of a candidate's passes (a mirrored pass costs its own entry)."""
    return round(sum(ms.get(k, 0.0) for k in passes_used(name)), 1)


def cost(reps: int = 7) -> dict:
    """Median CPU ms of one 640x480 photo through each pass (torch, one thread, interleaved)."""
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    methods = {m: ScaledPasses(cam_method(load_model(m, device="cpu"))) for m in ("lite0", "lite1", "lite2")}
    times = {k: [] for k in PASSES}
    with torch.inference_mode():
        for r in range(reps + 1):
            for key, (model_name, ms) in PASSES.items():
                t0 = time.process_time()
                methods[model_name].evidence([frame], LocalizeSettings(topk=1, maps=ms))
                if r >= 1:
                    times[key].append(1000 * (time.process_time() - t0))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def load_split(split: str, labels) -> dict:
    anns = load_devset(MANIFEST, labels, split)
    images = [read_image(a.file) for a in anns]
    sizes = [(im.shape[1], im.shape[0]) for im in images]
    found = run_passes(anns, images)
    return {"anns": anns, "sizes": sizes, "found": found, "box": make_box(found, sizes),
            "gts": [fit_boxes(a, w, h) for a, (w, h) in zip(anns, sizes)]}


def grid_names() -> list[str]:
    names = []
    for cls_src, coarse, rule, fine in itertools.product(CLASS_SOURCES, COARSE, RULES, FINES):
        for pick in (PICKS if fine != "-" else ("largest",)):
            names.append("|".join((cls_src, coarse, rule, fine, pick)))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--grid", action="store_true", help="print every candidate on the tune split")
    ap.add_argument("--split", choices=("tune", "holdout", "both"), default="tune")
    ap.add_argument("--report", nargs="*", default=[TODAY], metavar="CLS|COARSE|RULE|FINE|PICK")
    ap.add_argument("--cost", action="store_true", help="time each pass (CPU ms, 640x480)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels = imagenet_labels()
    out: dict = {"cost_ms": cost() if args.cost else None}
    ms = out["cost_ms"] or {}
    if ms:
        print("pass CPU ms (640x480):", ms, flush=True)
    splits = ("tune", "holdout") if args.split == "both" else (args.split,)
    data = {s: load_split(s, labels) for s in splits}
    if args.grid:
        rows = []
        for name in grid_names():
            r = score(data["tune"], name)
            rows.append((-r["top1_loc"], -r["gt_known"], -r["top1_cls"], -r["mean_iou"], candidate_cost(name, ms), name))
        rows.sort()
        out["grid_tune"] = [{"name": row[-1], "top1_loc": -row[0], "gt_known": -row[1], "top1_cls": -row[2],
                             "mean_iou": -row[3], "cost_ms": row[4]} for row in rows]
        for row in rows:
            print(f"{row[-1]:42s} loc {-row[0]:.3f} gtk {-row[1]:.3f} cls {-row[2]:.3f} iou {-row[3]:.3f} "
                  f"ms {row[4]}", flush=True)
    results = {}
    for name in args.report:
        results[name] = {s: score(data[s], name) for s in splits}
        results[name]["cost_ms"] = candidate_cost(name, ms)
        print(name, json.dumps(results[name]), flush=True)
    out["results"] = results
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
