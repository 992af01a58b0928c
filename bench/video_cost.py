"""The inference stage on video, with the temporal smoothing and the camera's motion.

``python bench/video_cost.py [--rounds 5] [--frames 40] [--threads 1] [--json F]``

``camvideo bench`` times each preset's inference stage on separate frames (no
smoothing). On video the localizer also smooths, and since the camera's motion is
followed (``SmoothingSettings.motion``) it measures that motion on every frame. This
script times, interleaved in one run on the same 640x480 pan-and-zoom frames (a
development-set clip, so that the motion estimate does its real work): plain CAM as
``camvideo bench`` times it (the baseline, 1.00x), plain CAM smoothed as before the
motion (``motion=False``), and each preset smoothed with the motion. Each contestant
plays the clip in order from a reset, one frame a call, as the window does, the
contestants taking turns frame by frame; the figure is the median over rounds of its
mean milliseconds per frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camvideo.models import imagenet_labels, load_model  # noqa: E402
from camvideo.presets import quality_settings  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.settings import LocalizeSettings, SmoothingSettings  # noqa: E402
from camvideo.tools.devset import devset_clips, load_devset  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"


def contestants() -> dict[str, LocalizeSettings]:
    smooth = SmoothingSettings()
    before = dataclasses.replace(smooth, motion=False)  # the smoothing until 2026-12-03
    return {
        "fast, single frames (camvideo bench's baseline)": quality_settings("fast"),
        "fast, smoothed as before (no motion)": quality_settings("fast", LocalizeSettings(smoothing=before)),
        "fast, smoothed with motion": quality_settings("fast", LocalizeSettings(smoothing=smooth)),
        "balanced, single frames": quality_settings("balanced"),
        "balanced, smoothed with motion (the default on video)": quality_settings("balanced", LocalizeSettings(smoothing=smooth)),
        "best, smoothed with motion": quality_settings("best", LocalizeSettings(smoothing=smooth)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=40, help="frames of the clip played per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("lite0", device="cpu")
    anns = load_devset(MANIFEST, imagenet_labels(), "tune")
    spec, frames, _ = devset_clips(anns, "tune", shots=2, frames=max(2, args.frames // 2))[0]
    frames = frames[: args.frames]
    assert (spec.width, spec.height) == (640, 480)
    locs = {name: FrameLocalizer(model, s) for name, s in contestants().items()}
    times: dict[str, list[float]] = {name: [] for name in locs}
    for loc in locs.values():  # warm-up
        loc.reset()
        for f in frames[:4]:
            loc([f])
    for r in range(args.rounds):
        # Interleaved frame by frame (each contestant keeps its own state across the
        # clip): a slow spell of the shared machine hits every contestant alike.
        spent = dict.fromkeys(locs, 0.0)
        for loc in locs.values():
            loc.reset()
        for f in frames:
            for name, loc in locs.items():
                t0 = time.perf_counter()
                loc([f])
                spent[name] += time.perf_counter() - t0
        for name in locs:
            times[name].append(1000.0 * spent[name] / len(frames))
        print(f"round {r + 1}/{args.rounds}", flush=True)
    base = statistics.median(times[next(iter(times))])
    report = {"threads": args.threads, "frames": len(frames), "rounds": args.rounds, "ms_per_frame": {}}
    for name, t in times.items():
        m = statistics.median(t)
        report["ms_per_frame"][name] = {"median": round(m, 2), "ratio": round(m / base, 3), "rounds": [round(x, 2) for x in t]}
        print(f"  {name:<55} {m:7.2f} ms  {m / base:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
