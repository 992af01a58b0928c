"""Smoothing that follows the picture's motion, measured on the development set.

``python bench/motion.py --split tune [--shots 5 --shot-frames 40] [--configs JSON] [--json F]``

Two kinds of clip, both scored by ``camvideo.tools.clipeval`` as ``camvideo eval
--devset`` scores them:

- the development set's clips (``camvideo.tools.devset``): the camera pans and zooms
  over still photographs, with cuts between them;
- the development set's **moving-object clips** (``camvideo.tools.devset.moving_clips``):
  each photo's object slides across another photo, large and small in turn, with a
  still camera (640x480) or one that pans (640x360). A smoothing that only followed
  the camera would lag here, and the map's box covers several times the object.

Each preset's forward passes run once per clip; the kept batches are finished again
under each candidate ``SmoothingSettings`` (the product's own ``FrameLocalizer``
path, as ``bench/box_tuning.py`` does). Choose on ``--split tune``; check on
``--split holdout``. Results: docs/eval.md ("Following the picture's motion"),
bench/results/quality/2026-12-03_motion_*.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import quality_settings  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings  # noqa: E402
from camvideo.tools.clipeval import evaluate_clip  # noqa: E402
from camvideo.tools.devset import devset_clips, load_devset  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"
CONFIGS = [{"extent": False}, {}]  # the smoothing before the moving extent (cam.extent); {}: today's defaults


def replay(loc: FrameLocalizer, raws, truth, settings: LocalizeSettings) -> dict:
    loc.reset()
    pred = {}
    for index, raw in enumerate(raws):
        result = loc.finish([dataclasses.replace(ev, settings=settings) for ev in raw])[0]
        pred[index] = {**result.to_dict(), "frame": index}
    return {**evaluate_clip(pred, truth).to_dict(), "area_within_1_5": area_within(pred, truth)}


def area_within(pred: dict, truth: dict, factor: float = 1.5) -> float:
    """The share of the truth's boxed frames whose top-1 box has an area within
    ``factor`` times the true box's (either way); a frame without a box counts as not."""
    good = total = 0
    for index, t in truth.items():
        true_box = t["detections"][0]["box"]
        if true_box is None:
            continue
        total += 1
        boxes = [d["box"] for d in pred.get(index, {}).get("detections", []) if d["rank"] == 1 and d["box"]]
        if boxes:
            ratio = _area(boxes[0]) / max(1e-9, _area(true_box))
            good += 1.0 / factor <= ratio <= factor
    return good / max(1, total)


def _area(box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout"))
    ap.add_argument("--presets", default="fast,balanced")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--shot-frames", type=int, default=40)
    ap.add_argument("--configs", help="JSON list of SmoothingSettings fields (default: before, motion, today)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--moving-only", action="store_true", help="the moving-object clips alone")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_model("lite0", device="cpu")
    anns = load_devset(MANIFEST, imagenet_labels(), args.split)
    clips = [(spec.name, frames, truth) for spec, frames, truth
             in devset_clips(anns, args.split, moving=True, shots=args.shots, frames=args.shot_frames)]
    if args.moving_only:
        clips = [c for c in clips if "moving" in c[0]]
    configs = json.loads(args.configs) if args.configs else CONFIGS
    report: dict = {"split": args.split, "shots": args.shots, "shot_frames": args.shot_frames, "runs": []}
    for preset in args.presets.split(","):
        base = quality_settings(preset, LocalizeSettings(smoothing=SmoothingSettings()))
        loc = FrameLocalizer(model, base)
        kept = [(name, truth, [loc.forward([f]) for f in frames]) for name, frames, truth in clips]
        for config in configs:
            settings = dataclasses.replace(base, smoothing=dataclasses.replace(SmoothingSettings(), **config))
            for name, truth, raws in kept:
                r = replay(loc, raws, truth, settings)
                report["runs"].append({"preset": preset, "config": config, "clip": name, **r})
                print(f"{preset:9s} {json.dumps(config):55s} {name:22s} IoU {r['mean_iou']:.3f} "
                      f"class {r['class_accuracy']:.2f} changes {r['label_changes']}/{r['true_changes']} "
                      f"jitter {r['jitter_px']:.2f} ({r['jitter_shot_px']:.2f}) area<=1.5x {r['area_within_1_5']:.2f}",
                      flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
