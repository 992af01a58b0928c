"""Photo top-1 localization of the development set under map inputs and box rules
that separate several objects (issue 25, item 2's second half).

``python bench/photo_split.py --json F [--grid]``

Each photo of both splits goes once through each candidate's passes
(``ScaledPasses``, torch on the CPU, one thread) and the maps of the top-1 class
and of the best true class are kept; every box rule is then scored on them as
``camvideo eval`` scores photos (``boxes_from_cam``, ILSVRC: the one box matches
any true box with IoU >= 0.5). Candidates:

- ``coarse`` maps: the default's aspect-kept pass (``bal``, 288x224 for 4:3) or
  ``best``'s combined maps; ``map<S>``: the maps from a second pass at a short
  side of S (the class from the default's pass), at thresholds of the maximum;
- ``split``: the coarse map's box, unless a finer map (a pass at short side S)
  thresholded at T splits into two or more regions whose peaks reach P of the
  maximum: then its largest region (``region_boxes``' first) is the box.

``--grid`` prints every candidate on the tune split (choose there); the JSON holds
both splits of the few candidates docs/eval.md reports. The cost column is the
median CPU time of the candidate's passes on a 640x480 frame against the default's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.boxes import boxes_from_cam, normalize  # noqa: E402
from camvideo.cam.evidence import evidence_maps  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.cam.regions import region_boxes  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings  # noqa: E402
from camvideo.tools.annotations import best_iou, fit_boxes  # noqa: E402
from camvideo.tools.devset import load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

MANIFEST = ROOT / "tests/data/devset/manifest.json"
PASSES = {"bal": MapSettings(input="aspect"), "best": MapSettings(input="aspect", map_side=288, combine=True),
          **{f"map{s}": MapSettings(input="aspect", map_side=s) for s in (288, 320, 384, 448)}}
INSET = 0.04  # BOX_INSET of balanced and best


def maps_of(passes, anns, images, settings: MapSettings) -> list[tuple[bool, np.ndarray]]:
    """Per photo: the top-1 class right, and the (2, h, w) maps of the top-1 and the best true class."""
    request = LocalizeSettings(topk=1, maps=settings)
    out = []
    with torch.inference_mode():
        for ann, image in zip(anns, images):
            ev = passes.evidence([image], request)[0]
            probs = ev.probs.cpu().numpy()
            top, gt = int(np.argmax(probs)), max(ann.classes, key=lambda c: float(probs[c]))
            out.append((top in ann.classes, evidence_maps(passes.method, ev, [top, gt])))
    return out


def split_box(coarse, fine, w, h, level: float, peak: float, coarse_level: float = 0.2) -> list:
    """The ``split`` rule's box for one map (see the module docstring)."""
    regions = region_boxes(normalize(fine), w, h, BoxRule(threshold=level, inset=INSET), least_peak=peak)
    if len(regions) >= 2:
        return regions[:1]
    return boxes_from_cam(normalize(coarse), w, h, BoxRule(threshold=coarse_level, inset=INSET))[:1]


def score(data, split: str, boxes) -> dict:
    """Class accuracy, top-1 localization and GT-known localization of ``boxes(i, k, w, h)``."""
    anns, found = data[split]["anns"], data[split]["maps"]
    n, cls, loc, known, missed = len(anns), 0, 0, 0, []
    for i, ann in enumerate(anns):
        w, h = data[split]["sizes"][i]
        gts = fit_boxes(ann, w, h)
        right = found["bal"][i][0]
        top, gt = best_iou(boxes(i, 0, w, h), gts), best_iou(boxes(i, 1, w, h), gts)
        cls += right
        loc += right and top >= 0.5
        known += gt >= 0.5
        if right and top < 0.5:
            missed.append(Path(ann.file).stem)
    return {"top1_cls": round(cls / n, 4), "top1_loc": round(loc / n, 4), "gt_known": round(known / n, 4),
            "photos": n, "missed_with_class_right": missed}


def candidates(data):
    """name -> boxes(split)(i, k, w, h) for every candidate of the grid."""
    def plain(cfg, level):
        return lambda s: lambda i, k, w, h: boxes_from_cam(
            normalize(data[s]["maps"][cfg][i][1][k]), w, h, BoxRule(threshold=level, inset=INSET))[:1]

    def split(coarse, fine, level, peak):
        return lambda s: lambda i, k, w, h: split_box(
            data[s]["maps"][coarse][i][1][k], data[s]["maps"][fine][i][1][k], w, h, level, peak)

    out = {f"{cfg} max {lv}": plain(cfg, lv) for cfg in PASSES for lv in (0.15, 0.2, 0.25, 0.3)}
    for coarse, fine, lv, pk in itertools.product(("bal", "best"), ("map288", "map384", "map448"), (0.2, 0.3, 0.4),
                                                  (0.5, 0.7)):
        out[f"{coarse} split {fine} {lv} {pk}"] = split(coarse, fine, lv, pk)
    return out


def cost(passes, settings: MapSettings, reps: int = 15) -> float:
    """Median ms of one 640x480 frame through ``settings``' passes (torch, one thread)."""
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    request, times = LocalizeSettings(topk=1, maps=settings), []
    with torch.inference_mode():
        for r in range(reps + 2):
            t0 = time.perf_counter()
            passes.evidence([frame], request)
            if r >= 2:
                times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


REPORTED = ("bal max 0.2", "bal max 0.25", "best max 0.2", "map288 max 0.15", "map288 max 0.2",
            "map448 max 0.15", "bal split map448 0.3 0.7", "best split map448 0.3 0.7")
COSTS = ("bal", "best", "map288", "map448")  # each with its class pass; "bal split map448" costs map448's


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--grid", action="store_true", help="print every candidate on the tune split")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model("lite0", device="cpu")
    from camvideo.cam.methods import cam_method

    passes = ScaledPasses(cam_method(model))
    labels = model.labels or imagenet_labels()
    data = {}
    for split in ("tune", "holdout"):
        anns = load_devset(MANIFEST, labels, split)
        images = [read_image(a.file) for a in anns]
        data[split] = {"anns": anns, "sizes": [(im.shape[1], im.shape[0]) for im in images],
                       "maps": {name: maps_of(passes, anns, images, ms) for name, ms in PASSES.items()}}
    found = candidates(data)
    if args.grid:
        for name, boxes in found.items():
            r = score(data, "tune", boxes("tune"))
            print(f"{name:32s} tune loc {r['top1_loc']:.3f} gt-known {r['gt_known']:.3f}")
    results = {name: {s: score(data, s, found[name](s)) for s in ("tune", "holdout")} for name in REPORTED}
    base = cost(passes, PASSES["bal"])
    costs = {name: round(cost(passes, PASSES[name]) / base, 2) for name in COSTS}
    costs["best split map448"] = round(costs["best"] + costs["map448"] - 1.0, 2)  # one class pass
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"model": "lite0", "results": results, "cost_vs_default": costs,
                                     "default_ms_640x480": round(base, 1)}, indent=1))
    for name, r in results.items():
        print(f"{name:28s} " + "  ".join(f"{s}: cls {v['top1_cls']:.3f} loc {v['top1_loc']:.3f} "
                                          f"gtk {v['gt_known']:.3f}" for s, v in r.items()))
    print("cost vs default:", costs)


if __name__ == "__main__":
    main()
