"""Box smoothing and box rules for each preset's inputs, tuned on the development set.

``python bench/box_tuning.py --split tune --json F [--grid coarse|boxes] [--shots N] [--configs F]``

The product's own path, replayed: each clip's frames go once through
``FrameLocalizer.forward`` (the preset's passes, the expensive half) and the kept
``Evidence`` is then finished again (``FrameLocalizer.finish``: temporal smoothing,
maps, box rule, box smoothing) under every candidate ``SmoothingSettings`` and
``BoxRule``; the results are scored with ``camvideo.tools.clipeval`` exactly as
``camvideo eval --devset`` scores them. The photos (never smoothed) are scored per
box rule from one forward pass per preset. Choose on ``--split tune``; check the
choice with ``--split holdout --configs CHOSEN.json`` (no search there). Results
and what they led to: docs/eval.md, bench/results/quality/2026-12-02_box_*.json.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings, SmoothingSettings  # noqa: E402
from camvideo.tools.annotations import fit_boxes, pick_box  # noqa: E402
from camvideo.tools.clipeval import evaluate_clip  # noqa: E402
from camvideo.tools.devset import devset_clips, load_devset  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"

INPUTS = {  # name -> MapSettings (the inputs within the 1.3x budget, and best's for reference)
    "fast": MapSettings(),
    "balanced": MapSettings(input="aspect"),
    "aspect 1.15x": MapSettings(input="aspect", max_pixels=1.15),
    "aspect 1.0x": MapSettings(input="aspect", max_pixels=1.0),
    "best": MapSettings(input="aspect", map_side=288, combine=True),
}

RULES = {
    "max 0.20": BoxRule(),
    "max 0.15": BoxRule(threshold=0.15),
    "max 0.25": BoxRule(threshold=0.25),
    "max 0.30": BoxRule(threshold=0.3),
    "mean 0.8": BoxRule(method="mean", threshold=0.8),
    "mean 1.0": BoxRule(method="mean", threshold=1.0),
    "mean 1.2": BoxRule(method="mean", threshold=1.2),
}

TODAY = SmoothingSettings()  # the shipped smoothing (box_alpha 0.2, trend 0.1, damping 0.9)


def grid(kind: str) -> list[SmoothingSettings]:
    """Candidate smoothings: today's, and the box/map EMA knobs around it."""
    if kind == "today":
        return [TODAY]
    if kind == "coarse":
        axes = {"map_alpha": (0.15, 0.25, 0.4), "box_alpha": (0.1, 0.2, 0.35), "trend_alpha": (0.0, 0.1, 0.2),
                "trend_damping": (0.8, 0.9)}
    elif kind == "boxes":  # the map EMA kept at 0.25: the command line's --smooth-strength 0.75 sets it
        axes = {"map_alpha": (0.25,), "box_alpha": (0.12, 0.2, 0.35, 0.5), "trend_alpha": (0.1, 0.2, 0.35),
                "trend_damping": (0.9, 0.97), "match_iou": (0.3,)}
    else:
        raise ValueError(f"grid must be today, coarse or boxes, got {kind!r}")
    out = [TODAY]
    for values in itertools.product(*axes.values()):
        s = dataclasses.replace(TODAY, **dict(zip(axes, values)))
        if s not in out:
            out.append(s)
    return out


def forward_clips(model, maps: MapSettings, clips) -> tuple[FrameLocalizer, list]:
    """The localizer and, per clip, (truth, the Evidence of every frame)."""
    settings = LocalizeSettings(maps=maps, smoothing=TODAY)
    loc = FrameLocalizer(model, settings)
    out = []
    for _spec, frames, truth in clips:
        out.append((truth, [loc.forward([f]) for f in frames]))
    return loc, out


def replay(loc: FrameLocalizer, runs, smoothing: SmoothingSettings, rule: BoxRule) -> dict:
    """The clips finished under ``smoothing`` and ``rule``: means over clips
    (label and true changes: totals), as ``camvideo eval --devset`` reports them."""
    settings = dataclasses.replace(loc.settings, smoothing=smoothing, box_rule=rule)
    rows = []
    for truth, raws in runs:
        loc.reset()
        pred = {}
        for index, raw in enumerate(raws):
            result = loc.finish([dataclasses.replace(ev, settings=settings) for ev in raw])[0]
            pred[index] = {**result.to_dict(), "frame": index}
        rows.append(evaluate_clip(pred, truth).to_dict())
    keys = ("mean_iou", "class_accuracy", "jitter_px", "jitter_shot_px", "label_changes", "true_changes")
    means = {k: (sum(r[k] for r in rows) if k.endswith("changes") else float(np.mean([r[k] for r in rows])))
             for k in keys}
    return {**means, "per_clip": rows}


def photos(model, maps: MapSettings, annotations, rules: dict) -> dict:
    """Per box rule: class accuracy and mean IoU of the top-1 box (no smoothing)."""
    from camvideo.cam.methods import ExactCam
    from camvideo.video.sources import read_image

    passes = ScaledPasses(ExactCam(model))
    heats, correct = [], []
    for ann in annotations:
        image = read_image(ann.file)
        with torch.inference_mode():
            (evidence,) = passes.evidence([image], LocalizeSettings(maps=maps))
            top = int(evidence.probs.argmax())
            cam = evidence_maps(passes.method, evidence, [top])[0]
        heats.append((ann, image.shape[1], image.shape[0], normalize(cam)))
        correct.append(top in ann.classes)
    out = {}
    for name, rule in rules.items():
        ious = [pick_box(boxes_from_cam(h, w, hh, rule), fit_boxes(a, w, hh))[1] for a, w, hh, h in heats]
        out[name] = {"class_accuracy": float(np.mean(correct)), "mean_iou": float(np.mean(ious))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=("tune", "holdout"))
    ap.add_argument("--grid", default="coarse", choices=("today", "coarse", "boxes"))
    ap.add_argument("--inputs", default="fast,balanced", help="comma-separated names of INPUTS")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated names of RULES")
    ap.add_argument("--configs", type=Path, help="JSON list of SmoothingSettings fields to replay (no grid)")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--shot-frames", type=int, default=30)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model("lite0", device="cpu")
    FrameLocalizer(model)  # folds the batch norms once, as the app does
    anns = load_devset(MANIFEST, imagenet_labels(), args.split)
    clips = devset_clips(anns, args.split, shots=args.shots, frames=args.shot_frames)
    if args.configs:
        smoothings = [dataclasses.replace(TODAY, **c) for c in json.loads(args.configs.read_text())]
    else:
        smoothings = grid(args.grid)
    rules = {n: RULES[n] for n in args.rules.split(",")}
    report: dict = {"split": args.split, "shots": args.shots, "shot_frames": args.shot_frames, "inputs": {}}
    for name in args.inputs.split(","):
        maps = INPUTS[name]
        t0 = time.perf_counter()
        loc, runs = forward_clips(model, maps, clips)
        entry = {"photos": photos(model, maps, anns, rules), "clips": []}
        print(f"{name}: forward {time.perf_counter() - t0:.0f} s; {len(smoothings)} x {len(rules)} replays", flush=True)
        for s, (rname, rule) in itertools.product(smoothings, rules.items()):
            r = replay(loc, runs, s, rule)
            fields = {k: getattr(s, k) for k in ("map_alpha", "box_alpha", "trend_alpha", "trend_damping", "match_iou")}
            entry["clips"].append({"smoothing": fields, "rule": rname, **r})
            if s == TODAY or args.configs:
                print(f"  {json.dumps(fields)} {rname:<9} IoU {r['mean_iou']:.3f} cls {r['class_accuracy']:.3f} "
                      f"changes {r['label_changes']}/{r['true_changes']} jitter {r['jitter_px']:.2f} "
                      f"(in shots {r['jitter_shot_px']:.2f})", flush=True)
        for rname, v in entry["photos"].items():
            print(f"  photos {rname:<9} cls {v['class_accuracy']:.3f} IoU {v['mean_iou']:.3f}", flush=True)
        report["inputs"][name] = entry
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
