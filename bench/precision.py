"""Does a lower precision earn its place? OpenVINO at ``--precision bf16`` (or
``--precision int8``) against f32 on the development set (its photos, and its clips
played as video), per split.

The rule (issue 24): on the whole set, bf16 agrees with f32 on the top-1 class in
>= 98% of frames, the top-1 boxes of the two overlap at IoU >= 0.95 (mean over the
frames where both name the same class; a box one has and the other not counts 0),
and the localization scores (mean IoU of the top-1 box against the truth, photos and
clips; the clips' class accuracy) do not drop by more than 0.01. Prints one table
and, with ``--json FILE``, writes the figures. ``--f32-first N``: bf16 keeps its first N
convolutions in f32 (default camvideo's own, ``quantize.BF16_F32_FIRST``; 0: every
layer in bf16); ``--split``: one split (choose on ``tune``, run ``holdout`` once). The
``clip_frames_raw`` row: the clips' frames each alone (no smoothing), for the record.

``--speed R``: instead, the speed of each precision in R interleaved rounds (f32,
bf16, f32, ...): the forward pass alone at 224x288 on one thread (CPU ms per frame,
``time.process_time``), and ``camvideo process`` on the demo clip (640x360, default
settings, H.264 and JSONL): CPU ms per frame of the process and its wall fps; the
medians and the ratio to f32.

    PYTHONPATH=. python bench/precision.py [--quality balanced] [--json bench/results/precision.json]
    PYTHONPATH=. python bench/precision.py --split tune --f32-first 6
    PYTHONPATH=. python bench/precision.py --speed 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"


def truth_iou(box, truths) -> float:
    from camvideo.cam.boxes import iou

    return 0.0 if box is None else max(iou(tuple(box), tuple(t)) for t in truths)


def top1(result):
    det = result.detections[0] if result.detections else None
    return (None, None) if det is None else (det.class_id, det.box)


def run_photos(localizer, photos):
    from camvideo.video.sources import read_image

    out = []
    for a in photos:
        localizer.reset()
        cls, box = top1(localizer([read_image(a.file)])[0])
        out.append({"class": cls, "box": box, "iou": truth_iou(box, a.boxes), "correct": cls in a.classes})
    return out


def run_clips(localizer, clips):
    from camvideo.tools.devset import evaluate_devset_clips

    frames, scores = [], []
    keep = localizer.__call__

    def localize(frame):
        result = keep([frame])[0]
        cls, box = top1(result)
        frames.append({"class": cls, "box": box})
        return result

    for run in evaluate_devset_clips(localize, localizer.reset, clips):
        scores.append({"clip": run.name, "mean_iou": run.summary.mean_iou, "class": run.summary.class_accuracy})
    return frames, scores


def agreement(a: list[dict], b: list[dict]) -> dict:
    from camvideo.cam.boxes import iou

    same = [(x, y) for x, y in zip(a, b) if x["class"] == y["class"]]
    ious = [0.0 if (x["box"] is None) != (y["box"] is None) else iou(tuple(x["box"]), tuple(y["box"]))
            for x, y in same if x["box"] is not None or y["box"] is not None]
    return {"frames": len(a), "top1_agree": len(same) / len(a), "box_iou": statistics.fmean(ious) if ious else 1.0}


def measure(split: str, quality: str, forwards: dict, lower: str = "bf16") -> dict:
    from camvideo.models import imagenet_labels
    from camvideo.presets import quality_settings
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import LocalizeSettings, SmoothingSettings
    from camvideo.tools.devset import devset_clips, load_devset

    photos = load_devset(MANIFEST, imagenet_labels(), split)
    clips = devset_clips(photos, split)
    settings = quality_settings(quality, LocalizeSettings())
    per = {}
    for name, (model, forward) in forwards.items():
        still = FrameLocalizer(model, settings, forward=forward)
        moving = FrameLocalizer(model, dataclasses.replace(settings, smoothing=SmoothingSettings()), forward=forward)
        shots = run_photos(still, photos)
        frames, clip_scores = run_clips(moving, clips)
        raw, _ = run_clips(still, clips)  # each frame alone: no smoothing (what the smoothing amplifies)
        per[name] = {"photos": shots, "frames": frames, "raw": raw, "clips": clip_scores}
    f32, low = per["f32"], per[lower]
    report = {"split": split, "lower": lower, "photos": agreement(f32["photos"], low["photos"]),
              "clip_frames": agreement(f32["frames"], low["frames"]),
              "clip_frames_raw": agreement(f32["raw"], low["raw"])}
    for name, data in per.items():
        report[name] = {
            "photo_mean_iou": statistics.fmean(s["iou"] for s in data["photos"]),
            "photo_top1_loc": statistics.fmean(s["correct"] and s["iou"] >= 0.5 for s in data["photos"]),
            "clip_mean_iou": statistics.fmean(c["mean_iou"] for c in data["clips"]),
            "clip_class_acc": statistics.fmean(c["class"] for c in data["clips"] if c["class"] is not None),
        }
    return report


def forward_ms(forward, frames: int = 40) -> float:
    import time

    import torch

    x = torch.rand(1, 3, 224, 288)
    forward(x)
    start = time.process_time()
    for _ in range(frames):
        forward(x)
    return 1000.0 * (time.process_time() - start) / frames


def process_run(precision: str, work: Path) -> tuple[float, float, int]:
    """``camvideo process`` on the demo clip: (CPU ms per frame, wall fps, frames)."""
    import os
    import resource
    import subprocess
    import time

    stem = work / f"{precision}-{time.monotonic_ns()}"
    demo = ROOT / "camvideo" / "resources" / "demo.mp4"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "camvideo", "process", str(demo), "-o", f"{stem}.mp4", "--export",
                    f"{stem}.jsonl", "--precision", precision], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    frames = sum(1 for _ in open(f"{stem}.jsonl"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 1000.0 * cpu / frames, frames / wall, frames


def speed(rounds: int, low: str = "bf16") -> dict:
    import os
    import tempfile

    from camvideo.models import load_model
    from camvideo.runtime.openvino import OpenVINOForward

    model = load_model("lite0", device="cpu")
    forwards = {p: OpenVINOForward(model, threads=1, sizes=[(224, 288)], precision=p) for p in ("f32", low)}
    runs = {p: {"forward_cpu_ms": [], "e2e_cpu_ms": [], "e2e_fps": []} for p in forwards}
    with tempfile.TemporaryDirectory() as work:
        for _ in range(rounds):
            for p, forward in forwards.items():
                runs[p]["forward_cpu_ms"].append(forward_ms(forward))
                cpu, fps, _frames = process_run(p, Path(work))
                runs[p]["e2e_cpu_ms"].append(cpu)
                runs[p]["e2e_fps"].append(fps)
    medians = {p: {k: statistics.median(v) for k, v in r.items()} for p, r in runs.items()}
    ratios = {k: medians[low][k] / medians["f32"][k] for k in medians["f32"]}
    return {"rounds": rounds, "load": os.getloadavg(), "runs": runs, "medians": medians, f"{low}_over_f32": ratios}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", default="balanced")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--speed", type=int, default=0, metavar="ROUNDS")
    parser.add_argument("--precision", default="bf16", choices=("bf16", "int8"), help="against f32 (default: bf16)")
    parser.add_argument("--f32-first", type=int, default=None, metavar="N",
                        help="bf16 keeps the first N convolutions in f32 (default: camvideo's own, "
                             "camvideo.runtime.quantize.BF16_F32_FIRST; 0: every layer in bf16)")
    parser.add_argument("--split", choices=("tune", "holdout", "both"), default="both")
    args = parser.parse_args(argv)
    if args.speed:
        report = speed(args.speed, args.precision)
        print(json.dumps({k: report[k] for k in ("load", "medians", f"{args.precision}_over_f32")}, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
        return 0
    from camvideo.models import load_model
    from camvideo.runtime.openvino import OpenVINOForward

    model = load_model("lite0", device="cpu")
    low = args.precision
    forwards = {p: (model, OpenVINOForward(model, mode="latency", precision=p, bf16_f32_first=args.f32_first))
                for p in ("f32", low)}
    splits = ("tune", "holdout") if args.split == "both" else (args.split,)
    reports = [dict(measure(split, args.quality, forwards, low), f32_first=forwards[low][1].bf16_f32_first)
               for split in splits]
    print(f"{'split':<8}{'what':<16}{'frames':>7}{'top-1 agree':>12}{'box IoU':>9}   scores f32 -> {low}")
    for r in reports:
        for what in ("photos", "clip_frames", "clip_frames_raw"):
            a = r[what]
            print(f"{r['split']:<8}{what:<16}{a['frames']:>7}{100 * a['top1_agree']:>11.1f}%{a['box_iou']:>9.3f}")
        for key in r["f32"]:
            print(f"{'':<8}{key:<20}{r['f32'][key]:.4f} -> {r[low][key]:.4f}  ({r[low][key] - r['f32'][key]:+.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
