"""Localization methods beyond plain CAM, measured on the development set.

``python bench/quality.py [--split tune|holdout|all] [--json F] [--cost-frames N]``

Every method is composed of the existing pieces (``preprocess`` at another input
size, the folded lite0 features, ``class_maps``, ``TemporalState``, ``BoxTracker``) and scored on
the photos (class accuracy, mean IoU of the top-1 box, top-1 and GT-known
localization, MaxBoxAccV2) and on the clips (mean IoU, class accuracy, label changes
against the true changes, jitter) of ``tests/data/devset``. The cost of each method
is its inference stage on 640x480 frames (preprocess, forward passes, map, boxes),
measured in one run in interleaved rounds against today's ``FrameLocalizer``.

Inputs (``SIZES``): ``sq224`` squashes the frame to 224x224 (today); ``ar224`` keeps
the aspect ratio at a short side of 224 (298x224 for 4:3); ``areq`` keeps it at
today's pixel count (256x192 for 4:3, 288x160 for 16:9: multiples of the stride 32);
``ar288``: short side 288. A method takes its classes from one input and its map
from the same or another (two scales), optionally averaged with the horizontally
flipped input, or the normalized maps of two inputs averaged (``+``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.cam.boxes import normalize, upsample  # noqa: E402
from camvideo.cam.evidence import Evidence  # noqa: E402
from camvideo.cam.methods import class_maps  # noqa: E402
from camvideo.cam.preprocess import preprocess  # noqa: E402
from camvideo.cam.smoothing import TemporalState  # noqa: E402
from camvideo.cam.tracking import BoxTracker  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings  # noqa: E402
from camvideo.tools.annotations import best_iou, fit_boxes, pick_box  # noqa: E402
from camvideo.tools.clipeval import evaluate_clip  # noqa: E402
from camvideo.tools.devset import devset_clips, load_devset  # noqa: E402
from camvideo.tools.evaluate import default_thresholds, max_box_acc, sweep_ious  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"
MAX_SIDE = 320  # boxes are found at this working resolution, as in camvideo.cam.boxes


def input_size(kind: str, width: int, height: int) -> tuple[int, int]:
    """(height, width) of the model input for a frame of ``width`` x ``height``."""
    if kind.startswith("sq"):
        n = int(kind[2:])
        return n, n
    r = width / height
    if kind == "arcap":  # short side 224, at most 1.3x today's pixels, sides multiples of 32
        cap = 1.3 * 224 * 224
        short = 224 if 224 * 224 * max(r, 1 / r) <= cap else math.sqrt(cap / max(r, 1 / r))
        long_ = short * max(r, 1 / r)
        short32, long32 = 32 * max(1, round(short / 32)), 32 * max(1, round(long_ / 32))
        if short32 * long32 > cap:
            long32 = 32 * max(1, int(cap / short32 // 32))
        return (short32, long32) if r >= 1 else (long32, short32)
    if kind == "areq":  # today's pixel count, aspect kept, multiples of 32
        w = 32 * max(1, round(math.sqrt(224 * 224 * r) / 32))
        h = 32 * max(1, round(224 * 224 / w / 32))
        return h, w
    short = int(kind[2:])
    return (short, round(short * r)) if r >= 1 else (round(short / r), short)


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    cls: str  # input whose probabilities choose the class
    maps: tuple[str, ...]  # inputs whose normalized maps are averaged (one: that input's map)
    flip: bool = False  # average each input with its horizontal flip (features flipped back)


METHODS = (
    Method("plain CAM (today)", "sq224", ("sq224",)),
    Method("aspect kept, short side 224", "ar224", ("ar224",)),
    Method("aspect kept, same pixels", "areq", ("areq",)),
    Method("aspect kept, <= 1.3x pixels (288x224)", "arcap", ("arcap",)),
    Method("flip averaged", "sq224", ("sq224",), flip=True),
    Method("same pixels + flip", "areq", ("areq",), flip=True),
    Method("two scales: classes 224, map ar288", "sq224", ("ar288",)),
    Method("two scales: classes same pixels, map ar288", "areq", ("ar288",)),
    Method("two scales: classes 288x224, map ar288", "arcap", ("ar288",)),
    Method("two scales combined: 288x224 + ar288", "arcap", ("arcap", "ar288")),
    Method("two scales combined: areq + ar288", "areq", ("areq", "ar288")),
    Method("two scales combined + flip", "areq", ("areq", "ar288"), flip=True),
)

# Box rules: (name, kind, parameter). Each works on the map normalized to [0, 1] and
# upsampled to the working resolution.
RULES = (
    ("max 0.2, largest (paper)", "max", 0.2),
    ("max 0.3, largest", "max", 0.3),
    ("max 0.4, largest", "max", 0.4),
    ("max 0.5, largest", "max", 0.5),
    ("mean x1.0, largest", "mean", 1.0),
    ("mean x1.5, largest", "mean", 1.5),
    ("max 0.3, peak's region", "peak", 0.3),
    ("max 0.4, peak's region", "peak", 0.4),
    ("max 0.3, merged near peak", "merge", 0.3),
    ("max 0.4, merged near peak", "merge", 0.4),
    ("Otsu, largest", "otsu", 0.0),
)

LABELS = (  # (name, prob_alpha, margin, hold) of the label hysteresis
    ("today: EMA 0.3, margin 0.15, hold 4", 0.3, 0.15, 4),
    ("EMA 0.2, margin 0.2, hold 8", 0.2, 0.2, 8),
    ("EMA 0.15, margin 0.25, hold 8", 0.15, 0.25, 8),
    ("EMA 0.1, margin 0.3, hold 12", 0.1, 0.3, 12),
    ("EMA 0.15, margin 0.35, hold 15", 0.15, 0.35, 15),
)


def rule_boxes(heat: np.ndarray, kind: str, p: float) -> list[tuple[int, int, int, int]]:
    """Boxes of a [0, 1] map by one rule (the first box is the rule's box)."""
    top = float(heat.max())
    if top <= 0:
        return []
    if kind == "otsu":
        h8 = np.clip(heat * 255 + 0.5, 0, 255).astype(np.uint8)
        _, mask = cv2.threshold(h8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    elif kind == "mean":
        mask = (heat >= p * float(heat.mean())).astype(np.uint8)
    else:
        mask = (heat >= p * top).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []

    def box(i):
        x, y, w, h = (int(v) for v in stats[i, :4])
        return (x, y, x + w, y + h)

    if kind in ("max", "mean", "otsu"):
        i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        return [box(i)]
    py, px = np.unravel_index(int(np.argmax(heat)), heat.shape)
    peak = int(labels[py, px]) or 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if kind == "peak":
        return [box(peak)]
    # merge: regions at least a tenth of the peak's area within a tenth of the frame of it
    x1, y1, x2, y2 = box(peak)
    gap = 0.1 * max(heat.shape)
    area = stats[peak, cv2.CC_STAT_AREA]
    for i in range(1, count):
        if i == peak or stats[i, cv2.CC_STAT_AREA] < 0.1 * area:
            continue
        b = box(i)
        if b[0] - gap <= x2 and x1 - gap <= b[2] and b[1] - gap <= y2 and y1 - gap <= b[3]:
            x1, y1, x2, y2 = min(x1, b[0]), min(y1, b[1]), max(x2, b[2]), max(y2, b[3])
    return [(x1, y1, x2, y2)]


def work_size(width: int, height: int) -> tuple[int, int]:
    s = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * s)), max(1, round(height * s))


def to_frame(boxes, width: int, height: int):
    ww, wh = work_size(width, height)
    sx, sy = width / ww, height / wh
    return [(max(0, int(np.floor(a * sx))), max(0, int(np.floor(b * sy))),
             min(width, int(np.ceil(c * sx))), min(height, int(np.ceil(d * sy)))) for a, b, c, d in boxes]


class Runner:
    """Forward passes at any input size, on the folded, channels-last lite0."""

    def __init__(self, model) -> None:
        self.model = model
        self._shims: dict = {}

    def feats(self, frame: np.ndarray, kind: str, flip: bool) -> torch.Tensor:
        """(K, h, w) features of one frame at input ``kind`` (flip-averaged: the
        flipped input's features flipped back, then the mean of the two)."""
        h, w = frame.shape[:2]
        size = input_size(kind, w, h)
        shim = self._shims.get(size)
        if shim is None:
            prep = dataclasses.replace(self.model.preprocessing, size=size)
            shim = self._shims[size] = types.SimpleNamespace(preprocessing=prep, device=self.model.device)
        x = preprocess([frame], shim).contiguous(memory_format=torch.channels_last)
        if flip:
            x = torch.cat([x, x.flip(3)])
        with torch.inference_mode():
            f = self.model(x).float()
        return (f[0] + f[1].flip(2)) / 2 if flip else f[0]

    def probs(self, feats: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.classify(feats[None]).float().softmax(dim=1)[0]

    def pass_all(self, frame: np.ndarray, method: Method) -> dict:
        return {k: self.feats(frame, k, method.flip) for k in dict.fromkeys((method.cls, *method.maps))}


def heat_for(model, feats_by: dict, method: Method, class_id: int, width: int, height: int) -> np.ndarray:
    """The method's map for one class, normalized and upsampled to the working size."""
    ww, wh = work_size(width, height)
    ids = torch.tensor([[class_id]])
    heats = []
    for k in method.maps:
        with torch.inference_mode():
            cam = class_maps(feats_by[k][None], model.weight, ids)[0, 0].numpy()
        heats.append(upsample(normalize(cam), ww, wh))
    return normalize(np.mean(heats, axis=0))


def eval_photos(runner: Runner, annotations, thresholds) -> dict:
    model = runner.model
    from camvideo.video.sources import read_image

    out = {}
    for method in METHODS:
        rows, sweeps = [], []
        for ann in annotations:
            frame = read_image(ann.file)
            h, w = frame.shape[:2]
            gt = fit_boxes(ann, w, h)
            ww, wh = work_size(w, h)
            gts = [(g[0] * ww / w, g[1] * wh / h, g[2] * ww / w, g[3] * wh / h) for g in gt]
            fb = runner.pass_all(frame, method)
            p = runner.probs(fb[method.cls]).numpy()
            top = int(np.argmax(p))
            gtc = max(ann.classes, key=lambda c: p[c])
            top_heat = heat_for(model, fb, method, top, w, h)
            gt_heat = top_heat if gtc == top else heat_for(model, fb, method, gtc, w, h)
            sweeps.append(sweep_ious(gt_heat, ww, wh, gts, thresholds, MAX_SIDE))
            rows.append({"correct": top in ann.classes, "rules": {
                name: (pick_box(rule_boxes(top_heat, kind, prm), gts)[1], pick_box(rule_boxes(gt_heat, kind, prm), gts)[1])
                for name, kind, prm in RULES}})
        n = len(rows)
        out[method.name] = {
            "top1_cls": sum(r["correct"] for r in rows) / n,
            "maxboxacc_v2": max_box_acc(np.stack(sweeps), thresholds).value,
            "rules": {name: {
                "mean_iou": float(np.mean([r["rules"][name][0] for r in rows])),
                "top1_loc": sum(r["correct"] and r["rules"][name][0] >= 0.5 for r in rows) / n,
                "gt_known_iou": float(np.mean([r["rules"][name][1] for r in rows])),
                "gt_known_loc": sum(r["rules"][name][1] >= 0.5 for r in rows) / n,
            } for name, _, _ in RULES},
        }
        print(f"photos  {method.name:<44} cls {out[method.name]['top1_cls']:.3f}  "
              f"IoU(paper) {out[method.name]['rules'][RULES[0][0]]['mean_iou']:.3f}", flush=True)
    return out


def eval_clips(runner: Runner, clips, methods=METHODS) -> dict:
    """Each method as a video: smoothed features (of the map inputs) and
    probabilities (of the class input), hysteresis, box smoothing per rule."""
    model = runner.model
    out = {}
    for method in methods:
        per_rule: dict = {name: [] for name, _, _ in RULES}
        per_label: dict = {name: [] for name, *_ in LABELS}
        for _spec, frames, truth in clips:
            smoother = TemporalState(SmoothingSettings())
            extra: dict = {}  # EMA of the other map inputs' features
            boxers = {name: BoxTracker(SmoothingSettings()) for name, _, _ in RULES}
            labelers = {name: TemporalState(SmoothingSettings(prob_alpha=a, margin=m, hold=h))
                        for name, a, m, h in LABELS}
            preds = {name: {} for name, _, _ in RULES}
            label_preds = {name: {} for name, *_ in LABELS}
            main = method.maps[0]
            for index, frame in enumerate(frames):
                h, w = frame.shape[:2]
                fb = runner.pass_all(frame, method)
                probs = runner.probs(fb[method.cls])
                stepped = smoother.step(Evidence(probs=probs, logits=probs, features=fb[main]))
                sf, cut = stepped.features, stepped.cut
                if cut:
                    extra.clear()
                    for b in boxers.values():
                        b.reset()
                for k in method.maps[1:]:
                    extra[k] = fb[k].clone() if k not in extra else extra[k].lerp_(fb[k], smoother.settings.map_alpha)
                c = stepped.leader
                heat = heat_for(model, {main: sf, **extra}, method, c, w, h)
                for name, kind, prm in RULES:
                    boxes = to_frame(rule_boxes(heat, kind, prm), w, h)
                    boxes = boxers[name].update({c: boxes}, (w, h)).get(c, [])
                    preds[name][index] = {"frame": index, "detections": [
                        {"rank": 1, "class_id": c, "box": list(b)} for b in boxes] or [{"rank": 1, "class_id": c, "box": None}]}
                for name, lab in labelers.items():
                    lc = lab.step(Evidence(probs=probs, logits=probs, features=fb[method.cls])).leader
                    label_preds[name][index] = {"frame": index, "detections": [{"rank": 1, "class_id": lc, "box": None}]}
            for name in per_rule:
                per_rule[name].append(evaluate_clip(preds[name], truth).to_dict())
            for name in per_label:
                s = evaluate_clip(label_preds[name], truth).to_dict()
                per_label[name].append({k: s[k] for k in ("label_changes", "true_changes", "class_accuracy")})
        out[method.name] = {"rules": {n: _mean(v) for n, v in per_rule.items()},
                            "labels": {n: _mean(v) for n, v in per_label.items()}}
        r0 = out[method.name]["rules"][RULES[0][0]]
        print(f"clips   {method.name:<44} IoU(paper) {r0['mean_iou']:.3f} cls {r0['class_accuracy']:.3f} "
              f"changes {r0['label_changes']:.1f}/{r0['true_changes']:.1f} jitter {r0['jitter_px']:.2f}", flush=True)
    return out


def _mean(rows: list[dict]) -> dict:
    """Means over clips (label and true changes: totals)."""
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))]
    return {k: (sum(r[k] for r in rows) if k.endswith("changes") else float(np.mean([r[k] for r in rows]))) for k in keys}


def costs(runner: Runner, frames: list[np.ndarray], rounds: int, rule=RULES[1]) -> dict:
    """Median ms per 640x480 frame of each method's inference stage (one class's
    map and box), interleaved with today's FrameLocalizer, in one run."""
    model = runner.model
    today = FrameLocalizer(model, LocalizeSettings(), fold=False)  # features already folded by the runner's owner

    def method_stage(method):
        def run(frame):
            h, w = frame.shape[:2]
            fb = runner.pass_all(frame, method)
            c = int(torch.argmax(runner.probs(fb[method.cls])))
            return to_frame(rule_boxes(heat_for(model, fb, method, c, w, h), rule[1], rule[2]), w, h)
        return run

    variants = {"today (FrameLocalizer)": lambda f: today([f])}
    variants.update({m.name: method_stage(m) for m in METHODS})
    times: dict = {k: [] for k in variants}
    for f in frames[:2]:
        for fn in variants.values():
            fn(f)  # warm-up: every input size once
    for r in range(rounds):
        names = list(variants)[r % len(variants):] + list(variants)[: r % len(variants)]
        for name in names:
            for f in frames:
                t0 = time.perf_counter()
                variants[name](f)
                times[name].append((time.perf_counter() - t0) * 1000.0)
    base = float(np.median(times["today (FrameLocalizer)"]))
    return {k: {"ms": float(np.median(v)), "ratio": float(np.median(v)) / base} for k, v in times.items()}


def figure(runner: Runner, path: Path, photo: str, picks: dict) -> None:
    """One photo with each chosen (method, rule)'s map and box side by side; the true
    box in green, the method's box in white."""
    model = runner.model
    from camvideo.video.sources import read_image

    ann = next(a for a in load_devset(MANIFEST, imagenet_labels(), "all") if a.file.name == photo)
    frame = read_image(ann.file)
    h, w = frame.shape[:2]
    tiles = []
    for caption, (method, rule) in picks.items():
        fb = runner.pass_all(frame, method)
        c = int(torch.argmax(runner.probs(fb[method.cls])))
        heat = heat_for(model, fb, method, c, w, h)
        box = to_frame(rule_boxes(heat, rule[1], rule[2]), w, h)
        color = cv2.applyColorMap(np.clip(cv2.resize(heat, (w, h)) * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
        tile = cv2.addWeighted(frame, 0.55, color, 0.45, 0.0)
        for g in ann.boxes:
            cv2.rectangle(tile, (int(g[0]), int(g[1])), (int(g[2]) - 1, int(g[3]) - 1), (0, 220, 0), 2)
        value = best_iou(box, ann.boxes)
        for b in box:
            cv2.rectangle(tile, (b[0], b[1]), (b[2] - 1, b[3] - 1), (255, 255, 255), 2)
        bar = np.full((44, w, 3), 255, np.uint8)
        cv2.putText(bar, caption, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(bar, f"{model.labels[c]}, IoU {value:.2f}", (4, 37), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([tile, bar]))
    cv2.imwrite(str(path), np.hstack(tiles), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout", "all"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cost-frames", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--shot-frames", type=int, default=30)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: photos, clips, costs")
    ap.add_argument("--methods", default="", help="comma-separated method numbers (0-based) to run (default: all)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--figure", type=Path, help="write the side-by-side figure to this PNG and stop")
    ap.add_argument("--figure-photo", default="dragon.jpg")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    model = load_model("lite0", device="cpu")
    FrameLocalizer(model)  # folds the batch norms and makes the model channels-last, as the app does
    runner = Runner(model)
    global METHODS
    if args.methods:
        METHODS = tuple(METHODS[int(i)] for i in args.methods.split(","))
    if args.figure:
        by = {m.name: m for m in METHODS}
        rules = {r[0]: r for r in RULES}
        figure(runner, args.figure, args.figure_photo, {
            "fast: plain CAM (224x224)": (by["plain CAM (today)"], rules["max 0.2, largest (paper)"]),
            "balanced: aspect kept (288x224)": (by["aspect kept, <= 1.3x pixels (288x224)"], rules["max 0.2, largest (paper)"]),
            "map from ar288 alone": (by["two scales: classes 288x224, map ar288"], rules["max 0.2, largest (paper)"]),
            "best: 288x224 + ar288 combined": (by["two scales combined: 288x224 + ar288"], rules["max 0.2, largest (paper)"]),
        })
        return
    report: dict = {"split": args.split, "threads": args.threads}
    anns = load_devset(MANIFEST, imagenet_labels(), args.split)
    if "photos" not in skip:
        report["photos"] = eval_photos(runner, anns, default_thresholds(0.01))
    if "clips" not in skip:
        splits = ("tune", "holdout") if args.split == "all" else (args.split,)
        clips = [c for s in splits for c in devset_clips(load_devset(MANIFEST, imagenet_labels(), s), s,
                                                         shots=args.shots, frames=args.shot_frames)]
        report["clips"] = eval_clips(runner, clips, METHODS)
    if "costs" not in skip:
        from camvideo.tools.benchmark import make_frames

        report["costs"] = costs(runner, make_frames(640, 480, args.cost_frames), args.rounds)
        for k, v in report["costs"].items():
            print(f"cost    {k:<44} {v['ms']:7.2f} ms  {v['ratio']:.2f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
