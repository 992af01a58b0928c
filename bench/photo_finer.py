"""Photos: finer maps and per-photo levels (issue 25, session 16).

``python bench/photo_finer.py --split tune [--grid] [--check] [--json F] [--cache DIR]``

Each photo of the split goes once through the passes below (kept in a pickle under
``--cache``); the candidates combine them without running a network again:

- ``A``: ``balanced``'s pass of lite0 (the photo's aspect kept, 288x224 on 4:3, a 7x9
  map): today's default, its classes and its map; ``Am`` the same of the mirrored photo
  (its features flipped back);
- ``M``, ``L``, ``F``: lite0's map at a short side of 336, 384 and 448 (1.5x to 2x the
  input: 10x14, 12x16 and 14x19 cells on 4:3); their classes are ``A``'s, or as a class
  source their own features' (the linear layer on their spatial mean);
- ``l2A``: lite2's aspect-kept pass (256x352 on 4:3: an 8x10 map), its classes and map;
  ``l2F``: lite2's map at 2x (520: 16x22 cells).

Box sources (each class map min-max normalized; ``balanced``'s rule otherwise: the
largest region, inset 0.04):

- ``X t``: map ``X`` at ``t`` of its maximum (``A 20%`` is today's box);
- ``X|Y t``: the normalized maps of ``X`` and ``Y`` averaged at ``Y``'s cells (``X``
  upsampled); ``X*Y t``: their geometric mean (``sqrt(x*y)``): where the coarse map is
  high and the finer one low (between two animals) the product falls, where both are
  high (one animal) it stays;
- ``X mass t``: every region of ``X`` at ``t``, the one with the largest mass (the sum
  of the map over it) boxed, not the largest by area;
- ``X knee k``: a level per photo: from 20% upwards in steps of 5 points (to 50%), the
  first level whose box is at most ``k`` times the area of the next level's (below it
  the box jumped: regions merged); 20% when none jumps;
- ``X spread Y t s``: ``Y``'s heaviest region at ``t`` where ``Y`` has several regions
  there and that one holds less than ``s`` of their mass (several objects), else ``X``
  at 20%;
- ``X grow k``: the lowest level from 50% downwards (steps of 5 points, to 20%) before
  the box's area grows more than ``k`` times in one step.

``--cost``: CPU ms of each lite0 pass on a 640x480 photo. ``--check``: only the pairs of ``CHECKED``, the holdout split's one run under the rule
fixed before it (``GAIN``). Tune split for choosing; the holdout split only with
``--check``, once.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from photo_views import area, cam, grid_row, photo_parser, print_grid, report_cost  # noqa: E402

from camvideo.cam.boxes import boxes_from_cam, inset_box, normalize, threshold_mask, upsample  # noqa: E402
from camvideo.cam.multiscale import ScaledPasses  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import quality_maps  # noqa: E402
from camvideo.settings import LocalizeSettings, MapSettings  # noqa: E402
from camvideo.tools.annotations import fit_boxes  # noqa: E402
from camvideo.tools.devset import MANIFEST, load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

PASSES = {  # name -> (model key, map short side or None: the aspect-kept pass's own map)
    "A": ("lite0", None), "M": ("lite0", 336), "F": ("lite0", 448), "l2A": ("l2", None), "l2F": ("l2", 520),
    "L": ("lite0", 384), "Am": ("lite0", None),
}
MIRRORED = {"Am"}  # passes of the mirrored photo (their features flipped back)


def request(side: int | None) -> LocalizeSettings:
    return LocalizeSettings(topk=1, maps=MapSettings(input="aspect", map_side=side))


def collect(split: str, cache: Path) -> dict:
    """Every photo's annotation, size and passes (from ``cache`` when made before)."""
    import torch

    path = cache / f"photo_finer_{split}.pkl"
    old = pickle.loads(path.read_bytes()) if path.exists() else {"rows": []}
    if old["rows"] and all(set(PASSES) <= set(r["views"]) for r in old["rows"]) and "biases" in old:
        return old
    torch.set_num_threads(1)
    from camvideo.cam.methods import cam_method

    models = {"lite0": load_model("lite0", device="cpu"), "l2": load_model("lite2", device="cpu")}
    passes = {k: ScaledPasses(cam_method(m)) for k, m in models.items()}
    rows = []
    for i, ann in enumerate(load_devset(MANIFEST, imagenet_labels(), split)):
        frame = read_image(ann.file)
        views = dict(old["rows"][i]["views"]) if old["rows"] else {}
        with torch.inference_mode():
            for name in set(PASSES) - set(views):
                key, side = PASSES[name]
                pic = np.ascontiguousarray(frame[:, ::-1]) if name in MIRRORED else frame
                ev = passes[key].evidence([pic], request(side))[0]
                feats = ev.features.cpu().numpy()
                views[name] = (ev.probs.cpu().numpy(), feats[:, :, ::-1].copy() if name in MIRRORED else feats)
        rows.append({"file": Path(ann.file).name, "classes": ann.classes, "size": frame.shape[1::-1],
                     "gt": fit_boxes(ann, frame.shape[1], frame.shape[0]), "views": views})
        print(f"collected {len(rows)} {rows[-1]['file']}", file=sys.stderr, flush=True)
    data = {"rows": rows, "weights": {k: m.weight.detach().cpu().float().numpy() for k, m in models.items()},
            "biases": {k: m.bias.detach().cpu().float().numpy() for k, m in models.items()}}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    return data


def probs_of(row: dict, data: dict, name: str) -> np.ndarray:
    """Pass ``name``'s class probabilities: its own (``A``, ``l2A``), or for a map pass
    (``M``, ``F``, ``L``...) those of its features (softmax of the linear layer on
    their spatial mean: what the network says at that input size)."""
    probs, feats = row["views"][name]
    if PASSES[name][1] is None:
        return probs
    key = PASSES[name][0]
    logits = data["weights"][key] @ feats.mean(axis=(1, 2)) + data["biases"][key]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def one_map(row: dict, weights: dict, name: str, c: int) -> np.ndarray:
    """Class ``c``'s normalized map of pass ``name`` (``X+Y``: passes of one grid, their
    raw maps averaged first: ``A+Am`` is the mirror-averaged map)."""
    return normalize(np.mean([cam(weights[PASSES[n][0]], row["views"][n][1], c) for n in name.split("+")], axis=0))


def joined_map(row: dict, weights: dict, source: str, c: int) -> np.ndarray:
    """``X|Y`` (mean) or ``X*Y`` (geometric mean) of normalized maps at the last one's
    cells (``X+Y``: the raw maps averaged first, e.g. ``A+Am`` the mirror-averaged
    map); a plain pass name gives its own map."""
    for sep in "|*":
        if sep in source:
            maps = [one_map(row, weights, n, c) for n in source.split(sep)]
            shape = maps[-1].shape[::-1]
            maps = [np.clip(cv2.resize(m, shape, interpolation=cv2.INTER_LINEAR), 0.0, 1.0) for m in maps]
            return normalize(np.mean(maps, axis=0) if sep == "|" else np.prod(maps, axis=0) ** (1 / len(maps)))
    return one_map(row, weights, source, c)


def mass_box(heat: np.ndarray, width: int, height: int, rule, spread: float = 0.0):
    """The box of the region (at ``rule``'s level) with the largest sum of the map; with
    ``spread``, None unless there are several regions and that one holds less than
    ``spread`` of the regions' mass (the map's mass spread over several objects)."""
    scale = min(1.0, rule.max_side / max(width, height))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    up = upsample(normalize(heat), work_w, work_h)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(threshold_mask(up, rule), connectivity=8)
    if count <= 1:
        return None
    mass = np.bincount(labels.ravel(), weights=up.ravel(), minlength=count)
    i = 1 + int(np.argmax(mass[1:]))
    if spread and (count <= 2 or mass[i] >= spread * mass[1:].sum()):
        return None
    x, y, w, h = (int(v) for v in stats[i, :4])
    x1, y1, x2, y2 = inset_box((x, y, x + w, y + h), rule.inset) if rule.inset > 0 else (x, y, x + w, y + h)
    sx, sy = width / work_w, height / work_h
    return (max(0, int(np.floor(x1 * sx))), max(0, int(np.floor(y1 * sy))),
            min(width, int(np.ceil(x2 * sx))), min(height, int(np.ceil(y2 * sy))))


LEVELS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def level_boxes(heat: np.ndarray, size, rule) -> list:
    """The largest region's box at each of ``LEVELS``."""
    out = []
    for t in LEVELS:
        boxes = boxes_from_cam(heat, size[0], size[1], dataclasses.replace(rule, threshold=t))
        out.append(tuple(boxes[0]) if boxes else None)
    return out


def knee_box(heat: np.ndarray, size, rule, k: float, upward: bool):
    """A level per photo (``knee`` upward from 20%, ``grow`` downward from 50%; the
    module's docstring)."""
    boxes = level_boxes(heat, size, rule)
    if upward:
        for here, above in zip(boxes, boxes[1:]):
            if here is not None and above is not None and area(here) <= k * area(above):
                return here
        return boxes[0]
    for i in range(len(boxes) - 1, 0, -1):
        lower, here = boxes[i - 1], boxes[i]
        if lower is None or here is None or area(lower) > k * area(here):
            return here
    return boxes[0]


def box_of(row: dict, weights: dict, source: str, c: int, rule):
    """Class ``c``'s top-1 box by ``source`` (``MAP [mass|knee K|grow K] LEVEL``)."""
    parts = source.split()
    if parts[1] == "spread":  # ``X spread Y t s``: Y's heaviest region at t where its mass is spread, else X 20%
        heat = joined_map(row, weights, parts[2], c)
        level = dataclasses.replace(rule, threshold=float(parts[3].rstrip("%")) / 100)
        found = mass_box(heat, row["size"][0], row["size"][1], level, float(parts[4]))
        return found if found is not None else box_of(row, weights, f"{parts[0]} 20%", c, rule)
    heat = joined_map(row, weights, parts[0], c)
    if parts[1] in ("knee", "grow"):
        return knee_box(heat, row["size"], rule, float(parts[2]), parts[1] == "knee")
    level = dataclasses.replace(rule, threshold=float(parts[-1].rstrip("%")) / 100)
    if parts[1] == "mass":
        return mass_box(heat, row["size"][0], row["size"][1], level)
    boxes = boxes_from_cam(heat, row["size"][0], row["size"][1], level)
    return tuple(boxes[0]) if boxes else None


CLASS_SOURCES = {"A (today)": ("A",), "l2A": ("l2A",), "A+l2A": ("A", "l2A"),
                 "M": ("M",), "L": ("L",), "F": ("F",), "A+M": ("A", "M"), "A+L": ("A", "L"), "A+M+F": ("A", "M", "F")}
BOX_SOURCES = (
    "A 20%", "A 25%", "M 20%", "M 25%", "M 30%", "F 20%", "F 25%", "F 30%", "F 35%",
    "A|F 20%", "A|F 25%", "A|F 30%", "A*F 20%", "A*F 25%", "A*F 30%", "A*M 20%", "A*M 25%", "A|M 25%",
    "A mass 20%", "M mass 20%", "M mass 25%", "F mass 20%", "F mass 25%", "F mass 30%", "A*F mass 20%",
    "A*F mass 25%", "A*F mass 30%",
    "A knee 1.5", "A knee 2", "A knee 3", "A grow 1.5", "A grow 2", "F knee 1.5", "F knee 2", "F grow 2",
    "A*F knee 1.5", "A*F knee 2", "A*F grow 2",
    "l2A 20%", "l2A 25%", "l2F 20%", "l2F 25%", "l2F 30%", "l2A*l2F 20%", "l2A*l2F 25%", "l2F mass 25%",
    "l2A knee 2", "l2F knee 2",
    # round 2 (after round 1's figures: the coarse map times a 1.5x map did best)
    "L 20%", "A*L 20%", "A*L 25%", "A*M 15%", "A*M 17.5%", "A*M 22.5%", "A*M*F 20%", "A*M mass 20%",
    "A+Am*M 20%", "A+Am*M 25%", "A*M knee 2", "A+Am 25%",
    # round 3: the finer map's heaviest region only where its mass is spread over regions
    *(f"{x} spread {y} {t} {s}" for x in ("A", "A*M") for y in ("F", "M", "A*F") for t in ("25%", "30%")
      for s in (0.5, 0.6, 0.7)),
)

# The rule fixed on the tune split before the holdout run (committed before any grid
# figure was seen, as session 15's): the order is top-1 localization, then GT-known,
# class accuracy, mean IoU of the top-1 box; a candidate replaces the default only when
# it gains at least GAIN photos of the tune split's top-1 localization (4 of 45: +0.089)
# with class accuracy no lower. The holdout split is then run once on CHECKED.
#
# Round 3's "A*M spread F 30% 0.6" is the tune's best by that order (+5 photos, class
# unchanged) and the one candidate that meets the rule: it is DECISION, chosen from 36
# variants of one family after rounds 1-2, so the holdout run decides. It becomes the
# photos' default only if on the holdout split it gains at least HOLDOUT_GAIN photos (3 of
# 30: the issue's +0.10) over the default with class accuracy no lower. The other pairs
# of CHECKED are for the record: the product alone, the switch's neighbours, lite2 (d).
GAIN = 4
HOLDOUT_GAIN = 3
DECISION = ("A (today)", "A*M spread F 30% 0.6")
CHECKED: tuple = (("A (today)", "A 20%"), DECISION, ("A (today)", "A*M 20%"), ("A (today)", "A*M spread F 30% 0.5"),
                  ("A (today)", "A*M spread F 25% 0.6"), ("A (today)", "A spread F 30% 0.6"),
                  ("A (today)", "A*F 20%"), ("A (today)", "F mass 20%"), ("l2A", "A*M 20%"), ("l2A", "l2A*l2F 25%"))


def run_grid(data: dict, pairs=None) -> list[dict]:
    """Each (class source, box source) of ``pairs`` (default: every one), scored over the split."""
    rule = quality_maps("balanced")[1]
    rows = []
    for cname, bname in pairs or list(itertools.product(CLASS_SOURCES, BOX_SOURCES)):
        views = CLASS_SOURCES[cname]
        rows.append(grid_row(data, (cname, bname),
                             lambda row, views=views: np.mean([probs_of(row, data, v) for v in views], axis=0),
                             lambda row, c, bname=bname: box_of(row, data["weights"], bname, c, rule), ious=True))
    return rows


def cost(reps: int = 7) -> dict:
    """Median CPU ms of each lite0 pass (``A``, ``M``, ``F``, ``L``) on one 640x480 photo,
    torch on one thread, interleaved, the first round not counted."""
    import torch

    from camvideo.cam.methods import cam_method

    torch.set_num_threads(1)
    frame = cv2.resize(read_image(ROOT / "tests/data/coffee.png"), (640, 480), interpolation=cv2.INTER_AREA)
    l0 = ScaledPasses(cam_method(load_model("lite0", device="cpu")))
    names = [n for n, (key, _) in PASSES.items() if key == "lite0" and n not in MIRRORED]
    times: dict = {n: [] for n in names}
    with torch.inference_mode():
        for r in range(reps + 1):
            for name in names:
                t0 = time.process_time()
                l0.evidence([frame], request(PASSES[name][1]))
                if r:
                    times[name].append(1000 * (time.process_time() - t0))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def verdict(rows: list[dict]) -> dict:
    """DECISION against the default (the first row) by the holdout rule."""
    base, cand = rows[0], next(r for r in rows if (r["classes"], r["boxes"]) == DECISION)
    n = len(base["ious"])
    gain = round((cand["top1_loc"] - base["top1_loc"]) * n)
    holds = gain >= HOLDOUT_GAIN and cand["top1_cls"] >= base["top1_cls"]
    return {"pair": DECISION, "gain_photos": gain, "class_no_lower": cand["top1_cls"] >= base["top1_cls"],
            "holds": holds}


def main() -> int:
    parser = photo_parser(__doc__, "/tmp/camvideo_photo_finer", "CPU ms of each lite0 pass on a 640x480 photo")
    args = parser.parse_args()
    if args.cost:
        return report_cost(cost(), args.json)
    if args.split == "holdout" and not args.check:
        parser.error("the holdout split is run only with --check")
    t0 = time.process_time()
    data = collect(args.split, args.cache)
    print(f"passes ready ({time.process_time() - t0:.1f} CPU s)", file=sys.stderr)
    report = {"split": args.split, "gain": GAIN, "checked": CHECKED}
    rows = report["grid"] = run_grid(data, CHECKED if args.check else None)
    print_grid(rows, 10, ("top1_loc", "gt_known", "top1_cls", "mean_iou"))
    if args.check:
        report["decision"] = verdict(rows)
        print(json.dumps(report["decision"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
