"""Localization metrics on annotated images and clips, with the papers' definitions.

Images (a JSON manifest, or Pascal VOC XML files) give, per image, the ground-truth
boxes and the class ids counted as correct. One forward pass per image yields the
top-1 class and the CAMs of two classes: the top-1 class and the *best ground-truth
class* (the ground-truth class with the highest score; the same class when the
top-1 is right). From them:

- **top-1 localization** (CAM paper, ILSVRC): the top-1 class is a ground-truth class
  and a box of its CAM has IoU >= 0.5 with some ground-truth box;
- **GT-known localization**: a box of the best ground-truth class's CAM has
  IoU >= 0.5 with some ground-truth box (the class is given, only the box counts);
- **MaxBoxAccV2** (Choe et al., CVPR 2020): the GT-known class's CAM is min-max
  normalized, upsampled to the image and thresholded at every level of a sweep; all
  connected components give boxes; an image counts at IoU ``delta`` when any box
  matches any ground-truth box with IoU >= delta. The accuracy at the best
  threshold, chosen separately for delta = 0.3, 0.5, 0.7, is averaged.

Top-1 and GT-known boxes come from the same ``BoxRule`` and ``boxes_from_cam`` as
``camvideo image``, so the figures match what the app shows.

Clips compare per-frame JSONL (the export contract) with a per-frame truth JSONL of
the same shape: mean IoU, frames with IoU >= 0.5, box jitter and label changes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from camvideo.cam.boxes import boxes_from_cam, mask_boxes, normalize, upsample
from camvideo.cam.regions import region_boxes
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings
from camvideo.tools.annotations import (  # noqa: F401 (load_annotations, Annotation: this module's API too)
    LOC_IOU,
    Annotation,
    best_iou,
    fit_boxes,
    load_annotations,
    pick_box,
)

log = logging.getLogger(__name__)

DELTAS = (0.3, 0.5, 0.7)


def default_thresholds(step: float = 0.01) -> np.ndarray:
    """The sweep 0, step, 2 step, ... below 1 (Choe et al. use step 0.01)."""
    if not 0.0 < step <= 0.5:
        raise ValueError(f"step must be in (0, 0.5], got {step}")
    return np.round(np.arange(0.0, 1.0 - 1e-9, step), 6)



# --- metric definitions --------------------------------------------------------



def sweep_ious(
    cam: np.ndarray,
    width: int,
    height: int,
    gt_boxes: Sequence[Sequence[float]],
    thresholds: np.ndarray,
    max_side: int = 320,
) -> np.ndarray:
    """MaxBoxAccV2's inner loop for one image: for each threshold t (ascending), the
    best IoU of any connected component's box of ``{heat >= t}`` with any
    ground-truth box; ``heat`` is the min-max normalized map upsampled to the image.

    Like ``boxes_from_cam`` it works on the map upsampled to at most ``max_side``
    pixels on the long side and compares there with the ground truth scaled by the
    same factors (IoU is unchanged by a per-axis scale). The masks of all
    thresholds are made at once; they are nested, so equal pixel counts mean equal
    masks and the components are found once per distinct mask.
    """
    thresholds = np.asarray(thresholds, dtype=np.float32)
    if thresholds.ndim != 1 or np.any(np.diff(thresholds) <= 0):
        raise ValueError("thresholds must be a 1-D ascending sequence")
    scale = min(1.0, max_side / max(width, height))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    heat = normalize(upsample(normalize(cam), work_w, work_h))
    sx, sy = work_w / width, work_h / height
    gts = [(g[0] * sx, g[1] * sy, g[2] * sx, g[3] * sy) for g in gt_boxes]
    masks = (heat[None] >= thresholds[:, None, None]).astype(np.uint8)  # (T, h, w)
    counts = masks.reshape(len(thresholds), -1).sum(axis=1)
    rule = BoxRule(components="all")
    out = np.zeros(len(thresholds), np.float64)
    for t in range(len(thresholds)):
        if counts[t] == 0:
            break  # higher thresholds keep nothing either: IoU 0
        if t and counts[t] == counts[t - 1]:
            out[t] = out[t - 1]
        else:
            out[t] = best_iou(mask_boxes(masks[t], rule), gts)
    return out


@dataclass(frozen=True)
class MaxBoxAcc:
    """MaxBoxAccV2 and its parts: per delta, the accuracy curve over the thresholds,
    the best accuracy and the (lowest) threshold reaching it."""

    value: float
    thresholds: np.ndarray
    curves: dict[float, np.ndarray]
    best: dict[float, tuple[float, float]]  # delta -> (accuracy, threshold)

    def to_dict(self) -> dict:
        return {
            "value": round(self.value, 6),
            "per_iou": {
                f"{d:g}": {"accuracy": round(acc, 6), "threshold": round(thr, 4)} for d, (acc, thr) in self.best.items()
            },
            "thresholds": [round(float(t), 4) for t in self.thresholds],
            "curves": {f"{d:g}": [round(float(a), 6) for a in c] for d, c in self.curves.items()},
        }


def max_box_acc(ious: np.ndarray, thresholds: np.ndarray, deltas: Sequence[float] = DELTAS) -> MaxBoxAcc:
    """From ``ious`` (images x thresholds, as ``sweep_ious`` gives per image):
    accuracy(delta, t) = fraction of images with IoU >= delta at t; the best t per
    delta; MaxBoxAccV2 = the mean over deltas of the best accuracies."""
    ious = np.atleast_2d(np.asarray(ious, dtype=np.float64))
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if ious.shape[1] != len(thresholds) or not len(deltas):
        raise ValueError(f"ious must be (images, {len(thresholds)}) and deltas non-empty, got {ious.shape}")
    curves, best = {}, {}
    for d in deltas:
        curve = (ious >= d).mean(axis=0)
        k = int(np.argmax(curve))
        curves[float(d)], best[float(d)] = curve, (float(curve[k]), float(thresholds[k]))
    return MaxBoxAcc(float(np.mean([a for a, _ in best.values()])), thresholds, curves, best)


# --- image evaluation ----------------------------------------------------------


@dataclass(frozen=True)
class ImageScore:
    """One image's figures: the top-1 class with its box, the best ground-truth
    class with its box, and the sweep's IoU per threshold."""

    file: str
    width: int
    height: int
    gt_classes: tuple[int, ...]
    pred_class: int
    pred_label: str
    pred_score: float
    pred_box: tuple[int, int, int, int] | None
    pred_iou: float
    gt_class: int
    gt_label: str
    gt_score: float
    gt_box: tuple[int, int, int, int] | None
    gt_iou: float
    sweep: np.ndarray = field(repr=False)
    region_iou: float = 0.0  # the best IoU of any region's box of the top-1 class (camvideo.cam.regions)

    @property
    def class_correct(self) -> bool:
        return self.pred_class in self.gt_classes

    @property
    def top1_loc(self) -> bool:
        return self.class_correct and self.pred_iou >= LOC_IOU

    @property
    def gt_known_loc(self) -> bool:
        return self.gt_iou >= LOC_IOU

    @property
    def region_loc(self) -> bool:
        """Top-1 localization had any of the class's region boxes been the guess (an
        upper bound for choosing among the regions, not the ILSVRC measure)."""
        return self.class_correct and max(self.region_iou, self.pred_iou) >= LOC_IOU


@dataclass(frozen=True)
class ImageSummary:
    images: int
    top1_cls: float
    top1_loc: float
    region_loc: float
    gt_known_loc: float
    maxboxacc: MaxBoxAcc
    box_rule: BoxRule
    model: str
    seconds: float
    still: bool = False  # the photos' analysis ran (camvideo.cam.still)

    def to_dict(self) -> dict:
        r = self.box_rule
        return {
            "model": self.model,
            "images": self.images,
            "box_rule": {"threshold": r.threshold, "method": r.method, "components": r.components},
            "top1_cls": round(self.top1_cls, 6),
            "top1_loc": round(self.top1_loc, 6),
            "top1_loc_any_region": round(self.region_loc, 6),
            "gt_known_loc": round(self.gt_known_loc, 6),
            "maxboxacc_v2": self.maxboxacc.to_dict(),
            "seconds": round(self.seconds, 3),
            "still_analysis": self.still,
        }



def evaluate_images(
    model,
    annotations: Sequence[Annotation],
    rule: BoxRule = BoxRule(),
    thresholds: np.ndarray | None = None,
    batch_size: int = 16,
    forward=None,
    maps: MapSettings | None = None,
    still=None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[ImageScore], ImageSummary]:
    """Score every annotated image with one forward pass each (in batches), or the
    passes ``maps`` asks for (default: ``LocalizeSettings().maps``, as ``camvideo
    image`` runs). ``forward``: exact CAM's forward pass on another runtime (None:
    torch); it serves every pass, at every input size. ``still``: the photos'
    analysis (a ``camvideo.cam.still.StillAnalysis`` of the same model, as
    ``camvideo image`` runs it: its classes, its mirror-averaged coarse map at its
    level, and its finer map's box where that splits); MaxBoxAccV2 sweeps the
    coarse map either way. ``progress(images)``:
    the images scored so far, after each batch."""
    from camvideo.cam.methods import cam_method
    from camvideo.cam.multiscale import ScaledPasses

    if not annotations:
        raise ValueError("annotations must not be empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    thresholds = default_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    method = cam_method(model, forward=forward)
    if not method.smoothable:  # the maps of classes chosen after the forward pass: from features
        raise ValueError(f"{model.name} gets Grad-CAM; evaluation needs an exact-CAM model (GAP -> Linear)")
    request = LocalizeSettings(topk=1, maps=LocalizeSettings().maps if maps is None else maps)
    passes = ScaledPasses(method)
    t0 = time.perf_counter()
    scores: list[ImageScore] = []
    # The boxes and the sweep are OpenCV work that releases the GIL: one image a thread.
    with ThreadPoolExecutor(max_workers=max(1, min(batch_size, os.cpu_count() or 1))) as pool:
        for start in range(0, len(annotations), batch_size):
            batch = annotations[start : start + batch_size]
            found = _analysed(batch, passes, request, still, rule)
            score = partial(_image_score, model, found=found, still=still, rule=rule, thresholds=thresholds)
            scores.extend(pool.map(score, batch, range(len(batch))))
            log.info("evaluated %d/%d images", len(scores), len(annotations))
            if progress is not None:
                progress(len(scores))
    return scores, _image_summary(scores, thresholds, rule, model, time.perf_counter() - t0, still is not None)


@dataclass(frozen=True)
class _Analysed:
    """A batch of photos through the model, row ``b`` a photo: its ``images[b]``, its two
    classes ``ids[b]`` (the top-1 class, and the true class the model finds most
    likely), their raw ``maps[b]`` and probabilities ``chosen[b]``, and with the photos'
    analysis its boxes of both classes ``primaries[b]`` (the split's regions, or the
    coarse box zoomed; None without the analysis)."""

    images: list[np.ndarray]
    ids: np.ndarray  # (B, 2) class ids
    maps: list[np.ndarray]  # (2, h, w) a photo
    chosen: np.ndarray  # (B, 2) probabilities
    primaries: list[list | None]


def _analysed(batch: Sequence[Annotation], passes, request: LocalizeSettings, still, rule: BoxRule) -> _Analysed:
    """``batch``'s photos read and analysed: the passes ``request`` asks for (``passes``,
    a ``ScaledPasses``), then with ``still`` (a ``StillAnalysis``) its classes, its
    mirror-averaged coarse map, its finer pass and its zoomed crops' classes."""
    import torch

    from camvideo.cam.evidence import choose_classes, evidence_maps
    from camvideo.video.sources import read_image

    images = [read_image(a.file) for a in batch]
    with torch.inference_mode():
        found = passes.evidence(images, request)
        if still is not None:  # its classes, and its coarse map (the mirror averaged)
            found = [still.mirrored(im, still.classes(im, ev)) for im, ev in zip(images, found)]
        fines = [still.fine(im) if still is not None else None for im in images]
        crops = [{} for _ in images]  # each photo's zoomed crops, by window
        if still is not None:  # the zoomed crop's classes joined
            found = [still.joined(im, ev, fines[b], rule, crops[b]) for b, (im, ev) in enumerate(zip(images, found))]
        ids = np.array([[choose_classes(ev.probs, request).class_ids[0],
                         max(a.classes, key=lambda c, p=ev.probs: float(p[c]))] for ev, a in zip(found, batch)])
        maps = [evidence_maps(passes.method, ev, ids[b]) for b, ev in enumerate(found)]
        primaries = [[still.primary(images[b], ev, fines[b], int(c), rule, crops[b]) for c in ids[b]]
                     if still is not None else None for b, ev in enumerate(found)]
        chosen = np.array([[float(ev.probs[c]) for c in ids[b]] for b, ev in enumerate(found)])
    return _Analysed(images, ids, maps, chosen, primaries)


def _image_score(model, ann: Annotation, b: int, *, found: _Analysed, still, rule: BoxRule,
                 thresholds: np.ndarray) -> ImageScore:
    """Photo ``b`` of ``found`` (annotated by ``ann``) scored: its top-1 and true class's
    boxes (the analysis' where it ran, else ``rule``'s on the normalized maps) against
    the true boxes, and the true class's map swept at ``thresholds``."""
    (height, width), ids = found.images[b].shape[:2], found.ids
    gt_boxes = fit_boxes(ann, width, height)
    pred_heat, gt_heat = normalize(found.maps[b][0]), normalize(found.maps[b][1])
    pred, gt = int(ids[b, 0]), int(ids[b, 1])
    coarse = still.rule(rule) if still is not None else rule
    pred_boxes, gt_boxes_found = found.primaries[b] or (boxes_from_cam(pred_heat, width, height, coarse),
                                                        boxes_from_cam(gt_heat, width, height, coarse))
    pred_box, pred_iou = pick_box(pred_boxes[:1], gt_boxes)
    more = pred_boxes[1:] or region_boxes(pred_heat, width, height, coarse)[1:]  # the listed regions
    region_iou = best_iou(pred_boxes[:1] + more, gt_boxes)
    gt_box, gt_iou = pick_box(gt_boxes_found[:1], gt_boxes)
    return ImageScore(
        file=str(ann.file), width=width, height=height, gt_classes=ann.classes,
        pred_class=pred, pred_label=model.labels[pred], pred_score=float(found.chosen[b, 0]),
        pred_box=pred_box, pred_iou=pred_iou,
        gt_class=gt, gt_label=model.labels[gt], gt_score=float(found.chosen[b, 1]),
        gt_box=gt_box, gt_iou=gt_iou,
        sweep=sweep_ious(gt_heat, width, height, gt_boxes, thresholds, rule.max_side),
        region_iou=region_iou,
    )  # fmt: skip


def _image_summary(scores: Sequence[ImageScore], thresholds: np.ndarray, rule: BoxRule, model, seconds: float,
                   still: bool) -> ImageSummary:
    """The rates over ``scores`` and their MaxBoxAccV2."""
    n = len(scores)
    return ImageSummary(
        images=n,
        top1_cls=sum(s.class_correct for s in scores) / n,
        top1_loc=sum(s.top1_loc for s in scores) / n,
        region_loc=sum(s.region_loc for s in scores) / n,
        gt_known_loc=sum(s.gt_known_loc for s in scores) / n,
        maxboxacc=max_box_acc(np.stack([s.sweep for s in scores]), thresholds),
        box_rule=rule,
        model=getattr(model, "name", type(model).__name__),
        seconds=seconds,
        still=still,
    )


IMAGE_CSV_FIELDS = (
    "file", "width", "height", "gt_classes", "pred_class", "pred_label", "score", "pred_box", "pred_iou",
    "class_correct", "top1_loc", "gt_class", "gt_label", "gt_score", "gt_box", "gt_iou", "gt_known_loc",
    "sweep_iou_max",
)  # fmt: skip


def image_rows(scores: Sequence[ImageScore]) -> list[dict]:
    """Rows of the per-image CSV (boxes as "x1 y1 x2 y2")."""

    def box(b):
        return " ".join(str(v) for v in b) if b is not None else ""

    return [
        {
            "file": s.file, "width": s.width, "height": s.height,
            "gt_classes": " ".join(str(c) for c in s.gt_classes),
            "pred_class": s.pred_class, "pred_label": s.pred_label, "score": round(s.pred_score, 4),
            "pred_box": box(s.pred_box), "pred_iou": round(s.pred_iou, 4),
            "class_correct": int(s.class_correct), "top1_loc": int(s.top1_loc),
            "gt_class": s.gt_class, "gt_label": s.gt_label, "gt_score": round(s.gt_score, 4),
            "gt_box": box(s.gt_box), "gt_iou": round(s.gt_iou, 4), "gt_known_loc": int(s.gt_known_loc),
            "sweep_iou_max": round(float(s.sweep.max()), 4),
        }
        for s in scores
    ]  # fmt: skip


def draw_curves(result: MaxBoxAcc, size: tuple[int, int] = (720, 440)) -> np.ndarray:
    """A BGR plot of accuracy against threshold, one curve per IoU delta, with the
    best point of each marked (OpenCV only, no plotting library)."""
    import cv2

    width, height = size
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 40, 50
    pw, ph = width - left - right, height - top - bottom
    font, aa = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA

    def xy(t: float, acc: float) -> tuple[int, int]:
        return int(round(left + t * pw)), int(round(top + (1.0 - acc) * ph))

    for k in range(6):  # grid and tick labels every 0.2
        v = k / 5
        cv2.line(img, xy(v, 0), xy(v, 1), (225, 225, 225), 1, aa)
        cv2.line(img, xy(0, v), xy(1, v), (225, 225, 225), 1, aa)
        x, y = xy(v, 0)
        cv2.putText(img, f"{v:.1f}", (x - 12, y + 18), font, 0.4, (60, 60, 60), 1, aa)
        x, y = xy(0, v)
        cv2.putText(img, f"{int(v * 100)}%", (x - 42, y + 4), font, 0.4, (60, 60, 60), 1, aa)
    cv2.rectangle(img, xy(0, 1), xy(1, 0), (90, 90, 90), 1, aa)
    cv2.putText(img, "CAM threshold", (left + pw // 2 - 50, height - 12), font, 0.45, (40, 40, 40), 1, aa)
    cv2.putText(img, f"MaxBoxAccV2 = {100 * result.value:.1f}%", (left, 26), font, 0.6, (20, 20, 20), 1, aa)
    colors = [(200, 120, 30), (40, 160, 40), (40, 40, 210), (150, 60, 150), (30, 150, 200)]
    for i, (delta, curve) in enumerate(result.curves.items()):
        color = colors[i % len(colors)]
        pts = np.array([xy(float(t), float(a)) for t, a in zip(result.thresholds, curve)], np.int32)
        cv2.polylines(img, [pts], False, color, 2, aa)
        acc, thr = result.best[delta]
        cv2.circle(img, xy(thr, acc), 5, color, -1, aa)
        lx, ly = left + pw - 230, top + 20 + 20 * i
        cv2.line(img, (lx, ly - 4), (lx + 20, ly - 4), color, 2, aa)
        cv2.putText(img, f"IoU {delta:g}: {100 * acc:.1f}% at t={thr:.2f}", (lx + 26, ly), font, 0.45, color, 1, aa)
    return img


# Clip evaluation lives in camvideo.tools.clipeval; these names stay importable from here.
from camvideo.tools.clipeval import ClipSummary, evaluate_clip, read_frames_jsonl  # noqa: E402, F401
