"""The moving extent's constants and variants, replayed on cached forward passes.

``python bench/motion_extent.py --split tune [--all] [--set NAME=V,...] [--draw DIR] [--compare REV]``

The development set's moving-object clips (``--all``: the pan-and-zoom clips over still
photographs too) go through ``balanced``'s forward passes once; the passes are kept in
``--cache`` (a pickle, per split and clip set) so that each candidate setting of
``camvideo.cam.extent`` (``--set LEVEL=12,HOLD=0.5``: its module constants; ``motion.NAME=V``:
``camvideo.cam.motion``'s) is the
product's in-order half replayed (``FrameLocalizer.finish``) and scored as
``bench/motion.py`` scores it. ``--compare REV``: each clip also replayed with
``camvideo/cam/extent.py`` as it was at the git revision REV (the same passes: a paired
before and after). ``--draw DIR`` writes, for the frames whose box's area
is off by more than 1.5x, a PNG of the frame with the true box (green), the map's box
before the extent (red), the fitted box (blue) and the moving mask (magenta).
Results: docs/eval.md ("Moving objects").
"""

from __future__ import annotations

import argparse
import copyreg
import dataclasses
import json
import pickle
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.motion import MANIFEST, area_within  # noqa: E402
from camvideo.cam import extent, motion  # noqa: E402
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import quality_settings  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings  # noqa: E402
from camvideo.tools.clipeval import evaluate_clip  # noqa: E402
from camvideo.tools.devset import devset_clips, load_devset  # noqa: E402


def passes(split: str, everything: bool, shots: int, frames: int, cache: Path):
    """(name, frames, truth, raws) per clip, from ``cache`` when it is there."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    torch.set_num_threads(2)
    model = load_model("lite0", device="cpu")
    anns = load_devset(MANIFEST, imagenet_labels(), split)
    clips = [(spec.name, f, t) for spec, f, t in devset_clips(anns, split, moving=True, shots=shots, frames=frames)]
    clips = [c for c in clips if everything or "moving" in c[0]]
    loc = FrameLocalizer(model, quality_settings("balanced", LocalizeSettings(smoothing=SmoothingSettings())))
    out = [(name, f, truth, [loc.forward([x]) for x in f]) for name, f, truth in clips]
    cache.parent.mkdir(parents=True, exist_ok=True)
    copyreg.pickle(type(type.__dict__), lambda proxy: (dict, (dict(proxy),)))  # the evidence's timings
    cache.write_bytes(pickle.dumps(out))
    return out


class Watch:
    """Records, per frame, the boxes given to ``MovingExtent.apply``, its answer and the mask."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        apply, moving = extent.MovingExtent.apply, extent.MovingExtent.moving
        watch = self

        def _apply(this, boxes, *args, **kwargs):
            watch.frames.append({"in": {c: list(b) for c, b in boxes.items()}, "mask": None})
            out = apply(this, boxes, *args, **kwargs)
            watch.frames[-1]["out"] = {c: list(b) for c, b in out.items()}
            return out

        def _moving(this, *args, **kwargs):
            mask = moving(this, *args, **kwargs)
            if watch.frames:
                watch.frames[-1]["mask"] = mask
            return mask

        self.original = apply, moving
        extent.MovingExtent.apply, extent.MovingExtent.moving = _apply, _moving

    def restore(self) -> None:
        extent.MovingExtent.apply, extent.MovingExtent.moving = self.original


def two_motions(before: np.ndarray, after: np.ndarray, least: int):
    """``camvideo.cam.motion._fit`` as the camera's motion chosen among two (``--two-motions``;
    tried in session 15, not kept): the fit of most corners, unless the corners it leaves
    out agree on a similarity of their own and spread wider over the picture (a large
    textured object holds most corners, the background lies around it). ``within``'s
    fits (fewer than ``MIN_INLIERS`` needed) are the plain fit."""
    fit = two_motions.plain(before, after, least)
    if fit is None or least < motion.MIN_INLIERS:
        return fit
    moved = before @ fit[:, :2].T + fit[:, 2]
    rest = np.linalg.norm(moved - after, axis=1) >= 1.0
    other = two_motions.plain(before[rest], after[rest], least) if int(rest.sum()) >= least else None
    if other is None:
        return fit
    theirs = before[rest][np.linalg.norm(before[rest] @ other[:, :2].T + other[:, 2] - after[rest], axis=1) < 1.0]
    return other if _spread(theirs) > _spread(before[~rest]) else fit


def _spread(points: np.ndarray) -> float:
    """The area of the points' bounding box (0 for none)."""
    if len(points) == 0:
        return 0.0
    low, high = points.min(axis=0), points.max(axis=0)
    return float((high[0] - low[0]) * (high[1] - low[1]))


def extent_at(rev: str):
    """``camvideo.cam.extent`` as it was at the git revision ``rev`` (a module)."""
    source = subprocess.run(["git", "show", f"{rev}:camvideo/cam/extent.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"extent_{rev}")
    exec(compile(source, f"{rev}:camvideo/cam/extent.py", "exec"), module.__dict__)  # noqa: S102
    return module


def replay(raws, truth, extent_on: bool = True, module=extent) -> tuple[dict, dict]:
    """The clip's in-order half under ``module``'s (default: today's) moving extent and
    constants: (scores, predictions)."""
    loc = replay.loc
    loc.state.extent = module.MovingExtent()
    loc.reset()
    settings = dataclasses.replace(raws[0][0].settings, smoothing=SmoothingSettings(extent=extent_on))
    pred = {}
    for index, raw in enumerate(raws):
        result = loc.finish([dataclasses.replace(ev, settings=settings) for ev in raw])[0]
        pred[index] = {**result.to_dict(), "frame": index}
    scores = evaluate_clip(pred, truth).to_dict()
    return {k: scores[k] for k in ("mean_iou", "class_accuracy", "label_changes", "true_changes", "jitter_px",
                                   "jitter_shot_px")} | {"area_within_1_5": area_within(pred, truth)}, pred


def draw(directory: Path, name: str, frames, truth, pred, watch: Watch, limit: int) -> None:
    """PNGs of the frames whose top-1 box's area is off by more than 1.5x."""
    directory.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for index, (frame, seen) in enumerate(zip(frames, watch.frames)):
        true_box = truth[index]["detections"][0]["box"]
        top = [d for d in pred[index]["detections"] if d["rank"] == 1 and d["box"]]
        if not top or drawn >= limit:
            continue
        box = top[0]["box"]
        ratio = (box[2] - box[0]) * (box[3] - box[1]) / max(1, (true_box[2] - true_box[0]) * (true_box[3] - true_box[1]))
        if 1 / 1.5 <= ratio <= 1.5:
            continue
        image = frame.copy()
        if seen["mask"] is not None:
            mask = cv2.resize(seen["mask"], (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
            image[mask] = (0.5 * image[mask] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
        cls = top[0]["class_id"]
        before = (seen["in"].get(cls) or [None])[0]
        for b, colour in ((true_box, (0, 255, 0)), (before, (0, 0, 255)), (box, (255, 0, 0))):
            if b is not None:
                cv2.rectangle(image, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 2)
        cv2.putText(image, f"{index} x{ratio:.1f}", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        cv2.imwrite(str(directory / f"{name}_{index:03d}.png"), image)
        drawn += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout"))
    ap.add_argument("--all", action="store_true", help="the pan-and-zoom clips over still photos too")
    ap.add_argument("--shots", type=int, default=3)
    ap.add_argument("--shot-frames", type=int, default=30)
    ap.add_argument("--cache", type=Path, help="default: /tmp/camvideo_extent_SPLIT[_all]_SHOTSxFRAMES.pkl")
    ap.add_argument("--set", default="", help="NAME=VALUE,... constants of camvideo.cam.extent")
    ap.add_argument("--off", action="store_true", help="also the smoothing without the extent")
    ap.add_argument("--draw", type=Path)
    ap.add_argument("--draw-limit", type=int, default=12)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--two-motions", action="store_true", help="the camera's motion chosen among two (not kept)")
    ap.add_argument("--compare", metavar="REV", help="also replay camvideo/cam/extent.py as at git revision REV")
    args = ap.parse_args()
    cache = args.cache or Path(f"/tmp/camvideo_extent_{args.split}{'_all' if args.all else ''}_"
                               f"{args.shots}x{args.shot_frames}.pkl")
    clips = passes(args.split, args.all, args.shots, args.shot_frames, cache)
    for item in filter(None, args.set.split(",")):
        key, value = item.split("=")
        module, key = (motion, key[len("motion."):]) if key.startswith("motion.") else (extent, key)
        kind = type(getattr(module, key))
        setattr(module, key, value in ("1", "true", "True") if kind is bool else kind(value))
    if args.two_motions:
        two_motions.plain, motion._fit = motion._fit, two_motions
    replay.loc = FrameLocalizer(load_model("lite0", device="cpu"),
                                quality_settings("balanced", LocalizeSettings(smoothing=SmoothingSettings())))
    report = []
    variants = [(False, extent, "off")] if args.off else []
    variants += [(True, extent_at(args.compare), args.compare)] if args.compare else []
    variants += [(True, extent, "on")]
    for name, frames, truth, raws in clips:
        for on, module, tag in variants:
            watch = Watch() if args.draw and on and module is extent else None
            scores, pred = replay(raws, truth, on, module)
            report.append({"clip": name, "extent": tag, "set": args.set, **scores})
            print(f"{name:26s} {tag:8s} IoU {scores['mean_iou']:.3f} area<=1.5x "
                  f"{scores['area_within_1_5']:.2f} class {scores['class_accuracy']:.2f} changes "
                  f"{scores['label_changes']}/{scores['true_changes']} jitter {scores['jitter_px']:.2f} "
                  f"({scores['jitter_shot_px']:.2f})", flush=True)
            if watch is not None:
                watch.restore()
                draw(args.draw, name, frames, truth, pred, watch, args.draw_limit)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
