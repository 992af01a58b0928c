"""The smoothed in-order half (``FrameLocalizer.finish``) of two trees, interleaved in
one process: CPU ms a frame, before and after.

Each tree's ``camvideo`` is imported in turn (the first's modules are set aside under
their names before the second's are imported, so each keeps its own), each makes its
own evidence of the same frames (OpenVINO, one thread; not timed), and then the two
run ``finish`` frame by frame over all the frames, alternating round by round (A, B,
A, B, ...), timed with ``time.thread_time`` (torch and OpenCV at one thread, as the
writer runs it). Prints each round and the medians, the ratio and the pairwise
differences; ``--profile N`` prints cProfile's N costliest functions of each tree's
half (one extra pass each, after the timed rounds).

    PYTHONPATH=. python bench/inorder_ab.py --before /work/wt-s19-start --clip CLIP \
        [--after .] [--frames 600] [--rounds 8] [--topk 1] [--quality balanced]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import statistics
import sys
import time
from pathlib import Path


def frames_of(path: str, count: int) -> list:
    import av

    out = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == count:
                break
    return out


def load_tree(tree: str, frames: list, topk: int, quality: str | None = None):
    """``tree``'s localizer (defaults, smoothing on, OpenVINO) and its evidence of ``frames``;
    ``quality``: the settings of ``camvideo process --quality QUALITY --topk TOPK`` instead."""
    for name in [m for m in sys.modules if m == "camvideo" or m.startswith("camvideo.")]:
        del sys.modules[name]  # the other tree's modules stay alive through its objects
    sys.path.insert(0, str(Path(tree).resolve()))
    try:
        models = importlib.import_module("camvideo.models")
        localizer_module = importlib.import_module("camvideo.runtime.localizer")
        openvino = importlib.import_module("camvideo.runtime.openvino")
        settings_module = importlib.import_module("camvideo.settings")
        cli_options = importlib.import_module("camvideo.cli.options") if quality else None
        cli_parser = importlib.import_module("camvideo.cli.parser") if quality else None
    finally:
        sys.path.pop(0)
    model = models.load_model("lite0", device="cpu").eval()
    settings = settings_module.LocalizeSettings(topk=topk, smoothing=settings_module.SmoothingSettings())
    if quality:
        args = cli_parser.build_parser().parse_args(["process", "clip.mp4", "-o", "out.mkv", "--quality", quality,
                                                     "--topk", str(topk)])
        settings = cli_options.localize_settings_from_args(args)
    localizer = localizer_module.FrameLocalizer(model, settings,
                                                forward=openvino.OpenVINOForward(model, mode="latency", threads=1))
    evidence = [ev for i in range(0, len(frames), 4) for ev in localizer.forward(frames[i:i + 4])]
    return localizer, evidence


def run(localizer, evidence) -> None:
    localizer.reset()
    for i, ev in enumerate(evidence):
        localizer.finish([ev], [i], [i / 30])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", default=".")
    parser.add_argument("--clip", required=True)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--topk", type=int, default=1)
    parser.add_argument("--quality", help="the settings of camvideo process --quality QUALITY (default: the "
                        "localizer's defaults with smoothing, plain maps)")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    frames = frames_of(args.clip, args.frames)
    trees = {"before": load_tree(args.before, frames, args.topk, args.quality),
             "after": load_tree(args.after, frames, args.topk, args.quality)}
    spent = {name: [] for name in trees}
    with torch.inference_mode():
        for localizer, evidence in trees.values():  # a warm-up pass each, not timed
            run(localizer, evidence)
        for r in range(args.rounds):
            for name, (localizer, evidence) in trees.items():
                start = time.thread_time()
                run(localizer, evidence)
                spent[name].append(1000 * (time.thread_time() - start) / len(frames))
            print(f"round {r}: " + ", ".join(f"{n} {spent[n][-1]:.3f}" for n in trees), flush=True)
        before, after = (statistics.median(spent[n]) for n in trees)
        pairs = [b - a for a, b in zip(spent["before"], spent["after"])]
        print(f"{len(frames)} frames, top-{args.topk}, {args.rounds} pairs: before {before:.3f}, after {after:.3f} "
              f"CPU ms a frame (medians); after / before {after / before:.3f}; pairwise after - before median "
              f"{statistics.median(pairs):+.3f} ({sum(p < 0 for p in pairs)} of {len(pairs)} lower)")
        for name, (localizer, evidence) in trees.items() if args.profile else ():
            print(f"--- {name}")
            profile = cProfile.Profile(time.perf_counter)
            profile.runcall(run, localizer, evidence)
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
