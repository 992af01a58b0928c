"""The CPU cost of what sits around the forward pass in a file run, stage by stage:
the parallel half's Python around OpenVINO (thumbnails, preprocessing), the in-order
half (motion, smoothing, maps, boxes, tracks) and the overlay, on the demo clip's
frames at ``camvideo process``'s defaults (balanced, top-1, smoothing and motion on).

The forward passes run first (not timed); then ``finish`` and the overlay run frame
by frame on one torch thread, timed with ``time.process_time`` (CPU time: a machine
shared with other jobs changes it far less than wall time). ``--profile N`` prints
cProfile's N costliest functions of the in-order half and the overlay.

    PYTHONPATH=. python bench/inorder.py [--frames 240] [--rounds 3] [--profile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def frames_of(path: Path, count: int):
    import av

    with av.open(str(path)) as container:
        out = []
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == count:
                break
    return out


def in_order(localizer, annotator, evidence, frames) -> list:
    localizer.reset()
    results = []
    for index, (ev, frame) in enumerate(zip(evidence, frames)):
        (result,) = localizer.finish([ev], [index], [index / 30.0])
        annotator.annotate(frame, result)
        results.append(result)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    import torch

    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.settings import LocalizeSettings, SmoothingSettings

    torch.set_num_threads(1)
    frames = frames_of(ROOT / "camvideo" / "resources" / "demo.mp4", args.frames)
    model = load_model("lite0", device="cpu")
    settings = dataclasses.replace(LocalizeSettings(), smoothing=SmoothingSettings())
    localizer = FrameLocalizer(model, settings, forward=OpenVINOForward(model, mode="latency"))
    annotator = FrameAnnotator()
    start = time.process_time()
    evidence = [localizer.forward([f])[0] for f in frames]
    parallel = 1000.0 * (time.process_time() - start) / len(frames)
    spent = []
    for _ in range(args.rounds):
        start = time.process_time()
        in_order(localizer, annotator, evidence, frames)
        spent.append(1000.0 * (time.process_time() - start) / len(frames))
    print(f"{len(frames)} frames: forward half {parallel:.2f} CPU ms a frame (OpenVINO included); in-order half + "
          f"overlay {statistics.median(spent):.2f} CPU ms a frame (median of {args.rounds}: "
          + ", ".join(f"{s:.2f}" for s in spent) + ")")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(in_order, localizer, annotator, evidence, frames)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
