"""Photo top-1 localization of the development set when the class and the map come
from different passes or models (issue 25: the photos' still-image analysis).

``python bench/photo_classes.py --json F [--grid] [--split tune|holdout|both]``

A CAM can be made for any class, so the class may come from one model (or the mean
of several models' probabilities) and the map of that class from another. Each
photo goes once through each model's ``balanced`` pass (aspect kept; torch, CPU,
one thread) and lite0's 448 pass (the ``split`` rule of ``bench/photo_split.py``);
every (class source, map source, level) is then scored as ``camvideo eval``
scores photos (ILSVRC top-1 localization: the top-1 class right and its one box at
IoU >= 0.5 with any true box; GT-known: the best true class's box; mean IoU of the
top-1 class's box).

Class sources: ``l0``, ``l1``, ``l2`` (lite0/1/2's balanced pass) and means of
their probabilities (``l0+l1`` ...). Map sources: ``l0``, ``l1``, ``l2`` (that
model's balanced map of the chosen class), ``l0&l1`` (the mean of both min-max
normalized maps at the finer one's cells), ``l0 split`` (lite0's coarse box unless
its 448 map at 30% splits into >= 2 regions peaking at >= 70%: then the largest).

``--grid`` prints every candidate on the tune split only (choose there); the JSON
holds the candidates named by ``--report`` on the splits asked for.
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
BAL, FINE = MapSettings(input="aspect"), MapSettings(input="aspect", map_side=448)
INSET = 0.04  # BOX_INSET of balanced and best
MODELS = ("lite0", "lite1", "lite2")
CLASS_SOURCES = ("l0", "l1", "l2", "l0+l1", "l0+l2", "l1+l2", "l0+l1+l2")
MAP_SOURCES = ("l0", "l1", "l2", "l0&l1", "l0&l2", "l0 split", "l1 split")


def passes_of(names, anns, images) -> dict:
    """Per model key ("l0", "l1", "l2", "l0_448"): per photo, (probs (C,), a maps(class ids) function)."""
    out = {}
    with torch.inference_mode():
        for name in names:
            model = load_model(name, device="cpu")
            method = cam_method(model)
            passes = ScaledPasses(method)
            for key, ms in ((f"l{name[-1]}", BAL), (f"l{name[-1]}_448", FINE)):
                if key.endswith("_448") and name == "lite2":
                    continue
                request = LocalizeSettings(topk=1, maps=ms)
                evs = [passes.evidence([im], request)[0] for im in images]
                out[key] = [(ev.probs.cpu().numpy(), lazy_maps(method, ev)) for ev in evs]
    return out


def lazy_maps(method, ev):
    """``maps(class_id)``: ``ev``'s raw map of one class, made on first asking."""
    @cache
    def maps(class_id: int) -> np.ndarray:
        with torch.inference_mode():
            return method.maps(ev, [class_id]).cpu().numpy()[0]
    return maps


def class_of(found, source: str, i: int) -> np.ndarray:
    """The class probabilities of ``source`` (one model, or the mean of several) for photo ``i``."""
    keys = [f"l{k}" if not k.startswith("l") else k for k in source.split("+")]
    return np.mean([found[k][i][0] for k in keys], axis=0)


def _mean_maps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean of two min-max normalized maps at the finer one's cells."""
    if a.size > b.size:
        a, b = b, a
    h, w = b.shape
    return 0.5 * (cv2.resize(normalize(a), (w, h), interpolation=cv2.INTER_LINEAR) + normalize(b))


def box_of(found, source: str, i: int, c: int, w: int, h: int, level: float) -> list:
    """The one box of class ``c`` on photo ``i`` from map source ``source``."""
    rule = BoxRule(threshold=level, inset=INSET)
    if source.endswith(" split"):
        key = source.split()[0]
        fine = normalize(found[f"{key}_448"][i][1](c))
        regions = region_boxes(fine, w, h, BoxRule(threshold=0.3, inset=INSET), least_peak=0.7)
        if len(regions) >= 2:
            return regions[:1]
        return boxes_from_cam(normalize(found[key][i][1](c)), w, h, rule)[:1]
    if "&" in source:
        a, b = source.split("&")
        cam = _mean_maps(found[a][i][1](c), found[b][i][1](c))
    else:
        cam = found[source][i][1](c)
    return boxes_from_cam(normalize(cam), w, h, rule)[:1]


def score(split_data, cls_src: str, map_src: str, level: float) -> dict:
    anns, sizes, found = split_data["anns"], split_data["sizes"], split_data["found"]
    n, cls, loc, known, ious, missed = len(anns), 0, 0, 0, [], []
    for i, ann in enumerate(anns):
        w, h = sizes[i]
        gts = fit_boxes(ann, w, h)
        probs = class_of(found, cls_src, i)
        top, gt = int(np.argmax(probs)), max(ann.classes, key=lambda c: float(probs[c]))
        right = top in ann.classes
        top_iou = best_iou(box_of(found, map_src, i, top, w, h, level), gts)
        gt_iou = top_iou if gt == top else best_iou(box_of(found, map_src, i, gt, w, h, level), gts)
        cls += right
        loc += right and top_iou >= 0.5
        known += gt_iou >= 0.5
        ious.append(top_iou)
        if not (right and top_iou >= 0.5):
            missed.append(Path(ann.file).stem + ("" if right else " (class)"))
    return {"top1_cls": round(cls / n, 4), "top1_loc": round(loc / n, 4), "gt_known": round(known / n, 4),
            "mean_iou": round(float(np.mean(ious)), 4), "photos": n, "missed": missed}


def cost(names, reps: int = 9) -> dict:
    """Median ms of one 640x480 frame through each model's balanced pass (torch, one thread)."""
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    request, out = LocalizeSettings(topk=1, maps=BAL), {}
    passes = {n: ScaledPasses(cam_method(load_model(n, device="cpu"))) for n in names}
    times = {n: [] for n in names}
    with torch.inference_mode():
        for r in range(reps + 2):  # interleaved: the machine is shared
            for n in names:
                t0 = time.process_time()
                passes[n].evidence([frame], request)
                if r >= 2:
                    times[n].append(1000 * (time.process_time() - t0))
    for n in names:
        out[n] = round(float(np.median(times[n])), 1)
    return out


def load_split(split: str, labels) -> dict:
    anns = load_devset(MANIFEST, labels, split)
    images = [read_image(a.file) for a in anns]
    return {"anns": anns, "sizes": [(im.shape[1], im.shape[0]) for im in images],
            "found": passes_of(MODELS, anns, images)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--grid", action="store_true", help="print every candidate on the tune split")
    ap.add_argument("--split", choices=("tune", "holdout", "both"), default="tune")
    ap.add_argument("--report", nargs="*", default=["l0|l0|0.2"], metavar="CLS|MAP|LEVEL")
    ap.add_argument("--cost", action="store_true", help="also time each model's balanced pass")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels = imagenet_labels()
    splits = ("tune", "holdout") if args.split == "both" else (args.split,)
    data = {s: load_split(s, labels) for s in splits}
    if args.grid:
        for cls_src, map_src, lv in itertools.product(CLASS_SOURCES, MAP_SOURCES, (0.15, 0.2, 0.25)):
            r = score(data["tune"], cls_src, map_src, lv)
            print(f"cls {cls_src:9s} map {map_src:9s} {lv:.2f}: cls {r['top1_cls']:.3f} loc {r['top1_loc']:.3f} "
                  f"gtk {r['gt_known']:.3f} iou {r['mean_iou']:.3f}", flush=True)
    results = {}
    for name in args.report:
        cls_src, map_src, lv = name.split("|")
        results[name] = {s: score(data[s], cls_src, map_src, float(lv)) for s in splits}
        print(name, {s: {k: v for k, v in r.items() if k != "missed"} for s, r in results[name].items()})
    out = {"results": results}
    if args.cost:
        out["ms_640x480_balanced_pass_cpu"] = cost(MODELS)
        print(out["ms_640x480_balanced_pass_cpu"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
