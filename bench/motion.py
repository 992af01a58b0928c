"""Smoothing that follows the picture's motion, measured on the development set.

``python bench/motion.py --split tune [--shots 5 --shot-frames 40] [--configs JSON] [--json F]``

Two kinds of clip, both scored by ``camvideo.tools.clipeval`` as ``camvideo eval
--devset`` scores them:

- the development set's clips (``camvideo.tools.devset``): the camera pans and zooms
  over still photographs, with cuts between them;
- **moving-object clips** (made here): the camera stands still and the object moves.
  Each single-box photo of the split is cropped to its true box (plus 10%), pasted
  on a blurred other photo of the split, and slides across a 640x480 frame (still
  for 8 frames, 24 frames of eased motion, still again; 40 frames a shot, 6 shots).
  A smoothing that only followed the camera would lag here.

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

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings, quality_settings  # noqa: E402
from camvideo.tools.clipeval import evaluate_clip  # noqa: E402
from camvideo.tools.devset import devset_clips, ease, load_devset  # noqa: E402
from camvideo.video.sources import read_image  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"
BEFORE = {"motion": False}  # the smoothing until 2026-12-03 (box EMA 0.2 with a velocity term)
CONFIGS = [BEFORE, {"moved_box_alpha": 0.2}, {}]  # the motion with the old box weight; {}: today's defaults


def moving_object_clip(annotations, seed: int = 7, shots: int = 6, size=(640, 480)):
    """(frames, truth) of the moving-object shots (see the module's docstring)."""
    singles = [a for a in annotations if len(a.boxes) == 1]
    rng = np.random.default_rng(seed)
    fw, fh = size
    frames, truth = [], {}
    order = rng.permutation(len(singles))[:shots]
    for k, i in enumerate(order):
        ann = singles[i]
        photo = read_image(ann.file)
        ground = read_image(singles[order[(k + 3) % len(order)]].file)
        ground = cv2.GaussianBlur(cv2.resize(ground, size), (0, 0), 6)
        x1, y1, x2, y2 = ann.boxes[0]
        h, w = photo.shape[:2]
        mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        cx1, cy1, cx2, cy2 = int(max(0, x1 - mx)), int(max(0, y1 - my)), int(min(w, x2 + mx)), int(min(h, y2 + my))
        crop = photo[cy1:cy2, cx1:cx2]
        s = min(0.45 * fw / crop.shape[1], 0.7 * fh / crop.shape[0])
        crop = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))))
        ch, cw = crop.shape[:2]
        box = ((x1 - cx1) * s, (y1 - cy1) * s, (x2 - cx1) * s, (y2 - cy1) * s)
        xs = (0, fw - cw) if k % 2 == 0 else (fw - cw, 0)
        y0 = int(np.clip((fh - ch) // 2 + int(rng.integers(-40, 40)), 0, fh - ch))
        for t in range(40):
            u = ease(min(1.0, max(0.0, (t - 8) / 24)))
            x0 = int(round(xs[0] + (xs[1] - xs[0]) * u))
            frame = ground.copy()
            frame[y0:y0 + ch, x0:x0 + cw] = crop
            frame = np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)
            index = len(frames)
            truth[index] = {"frame": index, "detections": [
                {"box": [x0 + box[0], y0 + box[1], x0 + box[2], y0 + box[3]], "class_ids": list(ann.classes)}]}
            frames.append(frame)
    return frames, truth


def replay(loc: FrameLocalizer, raws, truth, settings: LocalizeSettings) -> dict:
    loc.reset()
    pred = {}
    for index, raw in enumerate(raws):
        result = loc.finish([dataclasses.replace(ev, settings=settings) for ev in raw])[0]
        pred[index] = {**result.to_dict(), "frame": index}
    return evaluate_clip(pred, truth).to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout"))
    ap.add_argument("--presets", default="fast,balanced")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--shot-frames", type=int, default=40)
    ap.add_argument("--configs", help="JSON list of SmoothingSettings fields (default: before, motion, today)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_model("lite0", device="cpu")
    anns = load_devset(MANIFEST, imagenet_labels(), args.split)
    clips = [(spec.name, frames, truth) for spec, frames, truth
             in devset_clips(anns, args.split, shots=args.shots, frames=args.shot_frames)]
    clips.append((f"{args.split}_moving_object", *moving_object_clip(anns)))
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
                      f"jitter {r['jitter_px']:.2f} ({r['jitter_shot_px']:.2f})", flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
