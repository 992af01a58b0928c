"""Each speed change of the inference stage, old way against new way, interleaved
in one run (medians, ms per frame). ``python bench/ablation.py [--threads N] [--json F]``

The numbers written down in docs/bench.md come from this script.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import cv2
import numpy as np
import torch

from camvideo.annotate import FrameAnnotator
from camvideo.cam.boxes import normalize, threshold_mask, upsample
from camvideo.cam.preprocess import preprocess
from camvideo.models import load_model
from camvideo.models.fold import fold_batchnorm
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule, LocalizeSettings
from camvideo.tools.benchmark import make_frames


def interleaved(variants: dict, reps: int) -> dict:
    """Median ms per call; the variants take turns, in alternating order."""
    names = list(variants)
    times = {n: [] for n in names}
    for fn in variants.values():
        fn()
    for i in range(reps):
        for n in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            variants[n]()
            times[n].append((time.perf_counter() - t0) * 1000.0)
    return {n: round(float(np.median(v)), 4) for n, v in times.items()}


def old_preprocess(frames, model):
    """The first version: INTER_AREA straight to 224, then torch ops."""
    h, w = model.preprocessing.size
    resized = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    x = torch.from_numpy(resized).permute(0, 3, 1, 2)[:, [2, 1, 0]]
    mean = torch.tensor(model.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.preprocessing.std).view(1, 3, 1, 1)
    return ((x.float() / 255.0) - mean) / std


def old_boxes(cam, width, height, rule=BoxRule()):
    """The first version: label every pixel of the 320-px working mask."""
    scale = min(1.0, rule.max_side / max(width, height))
    ww, wh = max(1, round(width * scale)), max(1, round(height * scale))
    mask = threshold_mask(upsample(normalize(cam), ww, wh), rule)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] if count > 1 else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model("lite0", device="cpu").eval()
    out: dict = {"threads": args.threads}
    for w, h in ((640, 480), (1280, 720)):
        frame = make_frames(w, h, 1)[0]
        key = f"{w}x{h}"
        out[f"preprocess {key}"] = interleaved(
            {"INTER_AREA + torch ops (old)": lambda: old_preprocess([frame], model),
             "bilinear 2x + area 2x + blobFromImages (new)": lambda: preprocess([frame], model)}, args.reps)
        result = FrameLocalizer(model, LocalizeSettings(topk=3), channels_last=False, fold=False)([frame])[0]
        maps = result.heatmaps
        from camvideo.cam.boxes import boxes_from_cam

        out[f"boxes top-3 {key}"] = interleaved(
            {"connectedComponentsWithStats (old)": lambda: [old_boxes(m, w, h) for m in maps],
             "findContours single-blob fast path (new)": lambda: [boxes_from_cam(m, w, h) for m in maps]}, args.reps)
        full = FrameAnnotator()
        g = frame.copy()
        out[f"box rectangles x3 {key}"] = interleaved(
            {"LINE_AA (old)": lambda: [cv2.rectangle(g, d.box[:2], d.box[2:], (0, 0, 0), 4, cv2.LINE_AA) for d in result.detections for _ in (0, 1)],
             "LINE_8 (new)": lambda: [cv2.rectangle(g, d.box[:2], d.box[2:], (0, 0, 0), 4, cv2.LINE_8) for d in result.detections for _ in (0, 1)]},
            args.reps)
        out[f"whole overlay {key}"] = interleaved({"FrameAnnotator": lambda: full.annotate(frame, result)}, args.reps)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x = preprocess(make_frames(640, 480, 1), model)
    xc = x.contiguous(memory_format=torch.channels_last)
    folded = copy.deepcopy(model)
    folded.features, _ = fold_batchnorm(folded.features, x)
    folded.to(memory_format=torch.channels_last)
    x4, x4c = x.repeat(4, 1, 1, 1), xc.repeat(4, 1, 1, 1).contiguous(memory_format=torch.channels_last)
    reps = max(10, args.reps // 10)
    with torch.inference_mode():
        fwd = interleaved(
            {"NCHW (plain)": lambda: model.classify(model(x)),
             "channels_last": lambda: cl.classify(cl(xc)),
             "channels_last, batch norms folded": lambda: folded.classify(folded(xc)),
             "NCHW batch 4 (per frame)": lambda: model.classify(model(x4)),
             "channels_last batch 4 (per frame)": lambda: cl.classify(cl(x4c))}, reps)
    for k in fwd:
        if "batch 4" in k:
            fwd[k] = round(fwd[k] / 4, 4)
    out["forward pass 224x224"] = fwd
    for section, values in out.items():
        if section == "threads":
            continue
        print(f"{section}:")
        for k, v in values.items():
            print(f"    {v:8.3f} ms  {k}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
