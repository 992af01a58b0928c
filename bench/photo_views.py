"""Why the photos' default misses, and what more views of a photo do (issue 25, session 15).

``python bench/photo_views.py --split tune [--diagnose] [--grid] [--json F] [--cache DIR]``

Each photo of the split goes once through every pass below (kept in a pickle under
``--cache``); the candidates then combine them without running the network again:

- ``A``: ``balanced``'s pass (the frame's aspect kept, 288x224 on 4:3): today's
  default, its classes and its map;
- ``Am``: the same pass of the mirrored photo (its features flipped back);
- ``S``: the whole photo squashed to 224x224 (plain CAM's pass), ``Sm`` mirrored;
- ``C``: the 224x224 centre crop (the short side's central 87.5%: the model's own
  evaluation practice), ``Cm`` mirrored (classes only: the crop does not cover the
  whole photo);
- ``l1A``, ``l2A``: lite1's and lite2's aspect-kept passes (classes and maps).

``--diagnose``: today's default photo by photo (class right?, the true class's rank,
the top-1 box's IoU, its area against the true box's, GT-known IoU). ``--grid``: the
candidates (few free choices each) scored by top-1 localization, GT-known, class
accuracy and mean IoU, as ``camvideo eval`` scores the photos (``balanced``'s box rule:
the largest region at 20% of the maximum, inset 0.04; ``A (today)`` with ``A 20%``
gives ``camvideo eval --devset``'s photo figures exactly). ``--check``: only the
pairs of ``CHECKED``, the holdout split's one run under the rule fixed before it
(``GAIN``). ``--cost``: CPU ms of each pass on a 640x480 photo.

Tune split for choosing; the holdout split only with ``--check``, once.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.boxes import boxes_from_cam, normalize  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import quality_maps  # noqa: E402
from camvideo.settings import LocalizeSettings, MapSettings  # noqa: E402
from camvideo.tools.annotations import best_iou, fit_boxes  # noqa: E402
from camvideo.tools.devset import MANIFEST, load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

CROP = 0.875  # the centre crop's share of the short side (resize to 256, crop 224)
ASPECT = LocalizeSettings(topk=1, maps=MapSettings(input="aspect"))
SQUASH = LocalizeSettings(topk=1, maps=MapSettings())


def centre(frame: np.ndarray, share: float = CROP) -> np.ndarray:
    """The central square of ``share`` of ``frame``'s short side."""
    h, w = frame.shape[:2]
    side = max(1, round(share * min(h, w)))
    y, x = (h - side) // 2, (w - side) // 2
    return frame[y:y + side, x:x + side]


def passes_of(frame: np.ndarray, l0: ScaledPasses, others: dict) -> dict:
    """name -> (probs (C,) numpy, features (K, h, w) numpy or None) of one photo."""
    out = {}
    mirror = np.ascontiguousarray(frame[:, ::-1])
    for name, (passes, pic, req, keep, flip) in {
        "A": (l0, frame, ASPECT, True, False), "Am": (l0, mirror, ASPECT, True, True),
        "S": (l0, frame, SQUASH, True, False), "Sm": (l0, mirror, SQUASH, True, True),
        "C": (l0, centre(frame), SQUASH, False, False), "Cm": (l0, centre(mirror), SQUASH, False, False),
        **{f"{k}A": (p, frame, ASPECT, True, False) for k, p in others.items()},
    }.items():
        ev = passes.evidence([pic], req)[0]
        feats = ev.features.cpu().numpy() if keep else None
        if feats is not None and flip:
            feats = np.ascontiguousarray(feats[:, :, ::-1])
        out[name] = (ev.probs.cpu().numpy(), feats)
    return out


def collect(split: str, cache: Path) -> dict:
    """Every photo's annotation, size and passes (from ``cache`` when made before)."""
    import torch

    path = cache / f"photo_views_{split}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    torch.set_num_threads(1)
    models = {k: load_model(name, device="cpu") for k, name in (("lite0", "lite0"), ("l1", "lite1"), ("l2", "lite2"))}
    from camvideo.cam.methods import cam_method

    passes = {k: ScaledPasses(cam_method(m)) for k, m in models.items()}
    rows = []
    for ann in load_devset(MANIFEST, imagenet_labels(), split):
        frame = read_image(ann.file)
        with torch.inference_mode():
            views = passes_of(frame, passes["lite0"], {"l1": passes["l1"], "l2": passes["l2"]})
        rows.append({"file": Path(ann.file).name, "classes": ann.classes, "size": frame.shape[1::-1],
                     "gt": fit_boxes(ann, frame.shape[1], frame.shape[0]), "views": views})
        print(f"collected {len(rows)} {rows[-1]['file']}", file=sys.stderr, flush=True)
    data = {"rows": rows, "weights": {k: m.weight.detach().cpu().float().numpy() for k, m in models.items()}}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    return data


def cam(weights: np.ndarray, feats: np.ndarray, c: int) -> np.ndarray:
    """Exact CAM of class ``c``: its weights on the (K, h, w) features."""
    return np.tensordot(weights[c], feats, axes=1)


def area(b) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(area(a) + area(b) - inter, 1e-9)


def top_box(heat: np.ndarray, size, rule):
    boxes = boxes_from_cam(heat, size[0], size[1], rule)
    return tuple(boxes[0]) if boxes else None


def score(row: dict, cls: int, box) -> dict:
    """One photo's figures for the class ``cls`` and the box ``box``."""
    right = cls in row["classes"]
    value = best_iou([box], row["gt"]) if box is not None else 0.0
    return {"cls": right, "iou": value, "loc": right and value >= 0.5}


def diagnose(data: dict, labels) -> list[dict]:
    """Today's default (``balanced``'s pass ``A``) photo by photo."""
    w0, rule = data["weights"]["lite0"], quality_maps("balanced")[1]
    out = []
    for row in data["rows"]:
        probs, feats = row["views"]["A"]
        pred = int(probs.argmax())
        best_gt = max(row["classes"], key=lambda c: probs[c])
        box = top_box(cam(w0, feats, pred), row["size"], rule)
        gt_box = top_box(cam(w0, feats, best_gt), row["size"], rule)
        match = max(row["gt"], key=lambda g: iou(box, g)) if box else row["gt"][0]
        rank = int((probs > probs[best_gt]).sum()) + 1
        out.append({"file": row["file"], "pred": labels[pred], "truth": labels[best_gt], "rank": rank,
                    "p": round(float(probs[pred]), 3), "iou": round(best_iou([box], row["gt"]) if box else 0.0, 3),
                    "area_ratio": round(area(box) / max(area(match), 1.0), 2) if box else 0.0,
                    "gt_iou": round(best_iou([gt_box], row["gt"]) if gt_box else 0.0, 3), "n_gt": len(row["gt"])})
    return out


CLASS_SOURCES = {  # name -> the passes whose probabilities are averaged
    "A (today)": ("A",), "A+Am": ("A", "Am"), "A+S": ("A", "S"), "A+C": ("A", "C"), "S": ("S",), "C": ("C",),
    "A+Am+S+Sm": ("A", "Am", "S", "Sm"), "A+Am+C+Cm": ("A", "Am", "C", "Cm"), "A+S+C": ("A", "S", "C"),
    "A+Am+S+Sm+C+Cm": ("A", "Am", "S", "Sm", "C", "Cm"),
    "l1A": ("l1A",), "l2A": ("l2A",), "A+l1A": ("A", "l1A"), "A+l1A+l2A": ("A", "l1A", "l2A"),
}


def maps_of(row: dict, weights: dict, source: str, c: int) -> np.ndarray:
    """Class ``c``'s map by ``source``: one pass's (``A``, ``S``, ``l1A``...), the mean of
    two passes' (``A+Am``: the mirror-averaged map; ``A|S``: the min-max normalized
    maps of the aspect-kept and the squashed pass averaged at ``A``'s cells)."""
    import cv2

    def one(name):
        model = "l1" if name.startswith("l1") else "l2" if name.startswith("l2") else "lite0"
        return cam(weights[model], row["views"][name][1], c)

    if "|" in source:  # min-max normalized maps averaged at the first's cells
        parts = [normalize(one(n)) for n in source.split("|")]
        return sum(cv2.resize(p, parts[0].shape[::-1], interpolation=cv2.INTER_LINEAR) for p in parts) / len(parts)
    return sum(one(n) for n in source.split("+")) / len(source.split("+"))


BOX_SOURCES = {  # name -> (map source, level of the maximum)
    "A 20% (today)": ("A", 0.2), "A+Am 20%": ("A+Am", 0.2), "A+Am 25%": ("A+Am", 0.25), "S 20%": ("S", 0.2),
    "A|S 20%": ("A|S", 0.2), "A 15%": ("A", 0.15), "A 25%": ("A", 0.25), "A 30%": ("A", 0.3),
    "l1A 20%": ("l1A", 0.2), "l2A 20%": ("l2A", 0.2), "A|l1A|l2A 20%": ("A|l1A|l2A", 0.2),
    "A@0.5 20%": ("A@0.5", 0.2), "A@0.25 20%": ("A@0.25", 0.2), "A+Am@0.5 20%": ("A+Am@0.5", 0.2),
    "A-1 20%": ("A-1", 0.2), "A-5 20%": ("A-5", 0.2), "A&S 20%": ("A&S", 0.2), "A~S 20%": ("A~S", 0.2), "A&Am 20%": ("A&Am", 0.2),
}


def floored(heat: np.ndarray, share: float) -> np.ndarray:
    """``heat`` with its ``share`` quantile as the floor: the level then counts from
    the map's typical value, not its minimum (a spread map gets a higher level)."""
    floor = float(np.quantile(heat, share))
    return np.clip(heat - floor, 0.0, None)


def box_of(row: dict, weights: dict, source: str, c: int, rule):
    """``X@q``: the map of ``X`` floored at its ``q`` quantile (``floored``).
Class ``c``'s top-1 box by ``source``: a map's (``maps_of``), or two maps' boxes
    joined: ``X&Y`` their intersection, ``X~Y`` the mean of their sides."""
    if "-" in source:  # ``X-k``: class c's map less the mean of the next k classes' (X's probabilities)
        name, k = source.split("-")
        probs = row["views"][name][0]
        others = [int(o) for o in np.argsort(-probs) if int(o) != c][: int(k)]
        heat = maps_of(row, weights, name, c) - np.mean([maps_of(row, weights, name, o) for o in others], axis=0)
        return top_box(heat, row["size"], rule)
    if "@" in source:
        name, share = source.split("@")
        return top_box(floored(maps_of(row, weights, name, c), float(share)), row["size"], rule)
    for sep in "&~":
        if sep in source:
            a, b = (top_box(maps_of(row, weights, n, c), row["size"], rule) for n in source.split(sep))
            if a is None or b is None:
                return a or b
            if sep == "~":
                return tuple(0.5 * (x + y) for x, y in zip(a, b))
            inter = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
            return inter if inter[2] > inter[0] and inter[3] > inter[1] else a
    return top_box(maps_of(row, weights, source, c), row["size"], rule)


# The rule fixed on the tune split before the holdout run (committed first): the order is
# top-1 localization, then GT-known, class accuracy, mean IoU of the top-1 box; a
# candidate replaces the default only when it gains at least GAIN photos of the tune
# split's top-1 localization (4 of 45: +0.089, the size of the tune gain that session 14
# saw turn into a holdout loss) with class accuracy no lower. The holdout split is
# then run once on CHECKED (the default, the tune's best, one of each family), for the
# record: it decides nothing.
GAIN = 4
CHECKED = (("A (today)", "A 20% (today)"), ("A (today)", "A&Am 20%"), ("A+Am+C+Cm", "A 20% (today)"),
           ("l1A", "l1A 20%"), ("A (today)", "A|S 20%"), ("A (today)", "A@0.25 20%"))


def grid_row(data: dict, names: tuple[str, str], probs_of, box_at, ious: bool = False) -> dict:
    """One (class source, box source) pair (``names``) scored over the split's photos:
    ``probs_of(row)`` a photo's class probabilities, ``box_at(row, c)`` its top-1 box
    of class ``c`` (None: no box); ``ious``: each photo's IoU too (file -> IoU)."""
    per = []
    for row in data["rows"]:
        probs = probs_of(row)
        c = int(probs.argmax())
        per.append({"file": row["file"], **score(row, c, box_at(row, c))})
        best = max(row["classes"], key=lambda k: probs[k])
        box = box_at(row, best)
        per[-1]["gt_known"] = box is not None and best_iou([box], row["gt"]) >= 0.5
    n = len(per)
    out = {"classes": names[0], "boxes": names[1], "top1_loc": sum(p["loc"] for p in per) / n,
           "gt_known": sum(p["gt_known"] for p in per) / n, "top1_cls": sum(p["cls"] for p in per) / n,
           "mean_iou": statistics.fmean(p["iou"] for p in per), "misses": [p["file"] for p in per if not p["loc"]]}
    if ious:
        out["ious"] = {p["file"]: round(p["iou"], 3) for p in per}
    return out


def print_grid(rows: list[dict], width: int, order: tuple[str, ...]) -> None:
    """The grid's rows, best first by the figures of ``order`` (each the higher the
    better), each with the photos it gains (+) and loses (-) against the first row."""
    base = set(rows[0]["misses"])
    for r in sorted(rows, key=lambda r: tuple(-r[k] for k in order)):
        m = set(r["misses"])
        print(f"{r['classes']:{width}s} {r['boxes']:14s} loc {r['top1_loc']:.3f} gtk {r['gt_known']:.3f} "
              f"cls {r['top1_cls']:.3f} iou {r['mean_iou']:.3f}  +{sorted(x[:14] for x in base - m)} "
              f"-{sorted(x[:14] for x in m - base)}")


def run_grid(data: dict, pairs=None) -> list[dict]:
    """Each (class source, box source) of ``pairs`` (default: every one), scored over the split."""
    rule = quality_maps("balanced")[1]
    rows = []
    for cname, bname in pairs or list(itertools.product(CLASS_SOURCES, BOX_SOURCES)):
        views, (msource, level) = CLASS_SOURCES[cname], BOX_SOURCES[bname]
        r = dataclasses.replace(rule, threshold=level)
        rows.append(grid_row(data, (cname, bname),
                             lambda row, views=views: np.mean([row["views"][v][0] for v in views], axis=0),
                             lambda row, c, msource=msource, r=r: box_of(row, data["weights"], msource, c, r)))
    return rows


def cost(reps: int = 7) -> dict:
    """Median CPU ms of each pass (and of the candidates' passes together) on one
    640x480 photo, torch on one thread, interleaved, the first round not counted."""
    import cv2
    import torch

    from camvideo.cam.methods import cam_method

    torch.set_num_threads(1)
    frame = cv2.resize(read_image(ROOT / "tests/data/coffee.png"), (640, 480), interpolation=cv2.INTER_AREA)
    mirror = np.ascontiguousarray(frame[:, ::-1])
    l0, l1, l2 = (ScaledPasses(cam_method(load_model(n, device="cpu"))) for n in ("lite0", "lite1", "lite2"))
    runs = {"A": lambda: l0.evidence([frame], ASPECT), "Am": lambda: l0.evidence([mirror], ASPECT),
            "S": lambda: l0.evidence([frame], SQUASH), "C": lambda: l0.evidence([centre(frame)], SQUASH),
            "l1A": lambda: l1.evidence([frame], ASPECT), "l2A": lambda: l2.evidence([frame], ASPECT)}
    times: dict = {k: [] for k in runs}
    with torch.inference_mode():
        for r in range(reps + 1):
            for key, run in runs.items():
                t0 = time.process_time()
                run()
                if r:
                    times[key].append(1000 * (time.process_time() - t0))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def photo_parser(doc: str, cache: str, cost_help: str) -> argparse.ArgumentParser:
    """The options of a photo grid script (its docstring ``doc``; ``cache`` its passes' folder)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--split", choices=("tune", "holdout"), default="tune")
    parser.add_argument("--cache", type=Path, default=Path(cache))
    parser.add_argument("--grid", action="store_true", help="every class source x box source")
    parser.add_argument("--check", action="store_true", help="only the pairs of CHECKED (the holdout's run)")
    parser.add_argument("--cost", action="store_true", help=cost_help)
    parser.add_argument("--json", type=Path)
    return parser


def report_cost(ms: dict, path: Path | None) -> int:
    """``--cost``'s figures (CPU ms of each pass) printed, and written to ``path``."""
    print(json.dumps(ms))
    if path:
        path.write_text(json.dumps({"cost_ms": ms, "photo": "tests/data/coffee.png at 640x480"}) + "\n")
    return 0


def main() -> int:
    parser = photo_parser(__doc__, "/tmp/camvideo_photo_views", "CPU ms of each pass on a 640x480 photo")
    parser.add_argument("--diagnose", action="store_true")
    args = parser.parse_args()
    if args.cost:
        return report_cost(cost(), args.json)
    t0 = time.process_time()
    data = collect(args.split, args.cache)
    print(f"passes ready ({time.process_time() - t0:.1f} CPU s)", file=sys.stderr)
    labels, report = imagenet_labels(), {"split": args.split}
    if args.diagnose:
        rows = report["diagnose"] = diagnose(data, labels)
        for r in rows:
            ok = "LOC" if r["pred"] == r["truth"] and r["iou"] >= 0.5 else ("cls" if r["pred"] == r["truth"] else "---")
            print(f"{ok} {r['file'][:34]:34s} pred {r['pred'][:22]:22s} p {r['p']:.2f} truth {r['truth'][:20]:20s} "
                  f"rank {r['rank']:3d} iou {r['iou']:.2f} area x{r['area_ratio']:.2f} gt_iou {r['gt_iou']:.2f} "
                  f"n_gt {r['n_gt']}")
    if args.grid or args.check:
        rows = report["grid"] = run_grid(data, CHECKED if args.check else None)
        print_grid(rows, 16, ("top1_loc", "gt_known", "top1_cls"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
