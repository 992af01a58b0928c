"""The motion parts of the in-order half in CPU milliseconds a frame, for one tree:
the thumbnail (made in the forward half), the camera's motion, the features moved
with it, the box tracks and the moving extent, on the bench's 640x480 frames at
``camvideo process``'s defaults with top-3 (balanced, smoothing, motion and extent on).

Each part is replayed on its own with the arguments it got in one real run of the
in-order half (recorded), at one thread (torch and OpenCV), timed with
``time.thread_time`` (CPU time: a machine shared with other jobs changes it far
less than wall time); ``finish`` is the whole in-order half. Prints one JSON object
(median of ``--reps`` passes). Alternate two trees for a before/after:

    for t in /tmp/before . /tmp/before .; do PYTHONPATH=$t python bench/motion_parts.py; done

``--moving`` takes the development set's moving-object clips instead (an object
sliding over a still or panning background: the moving extent fits boxes there),
``--export F`` writes the in-order half's results (one JSON line a frame) for a
``cmp`` between trees (with a digest of each frame's heat maps): a change of cost
only must leave them byte-identical.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import statistics
import time


def cpu_ms(count: int, fn, reps: int, fresh=lambda: ()) -> float:
    """The median over ``reps`` passes of CPU ms a frame of ``fn(*fresh())`` (one pass:
    ``count`` frames; ``fresh``, not timed, gives each pass its own arguments)."""
    out = []
    for _ in range(reps):
        args = fresh()
        start = time.thread_time()
        fn(*args)
        out.append(1000 * (time.thread_time() - start) / count)
    return round(statistics.median(out), 4)


class Recorder:
    """Wraps ``owner.name``: every call's arguments are kept (deep copies) for a replay."""

    def __init__(self, owner, name: str) -> None:
        self.owner, self.name, self.calls = owner, name, []
        self.original = getattr(owner, name)
        recorder = self

        def wrapper(this, *args, **kwargs):
            recorder.calls.append(copy.deepcopy((args, kwargs)))
            return recorder.original(this, *args, **kwargs)

        setattr(owner, name, wrapper)

    def restore(self) -> None:
        setattr(self.owner, self.name, self.original)


def moving_frames(count: int) -> list:
    """The first ``count`` frames of the tune split's moving-object clips, one after the other."""
    from pathlib import Path

    from camvideo.models import imagenet_labels
    from camvideo.tools.devset import devset_clips, load_devset

    manifest = Path(__file__).resolve().parents[1] / "tests" / "data" / "devset" / "manifest.json"
    clips = devset_clips(load_devset(manifest, imagenet_labels(), "tune"), "tune", moving=True, shots=4, frames=30)
    return [f for spec, frames, _ in clips if "moving" in spec.name for f in frames][:count]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--topk", type=int, default=3)
    parser.add_argument("--moving", action="store_true", help="the development set's moving-object clips")
    parser.add_argument("--export", help="write the results, one JSON line a frame")
    args = parser.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from camvideo.cam import motion as motion_module
    from camvideo.cam.extent import MovingExtent
    from camvideo.cam.tracking import BoxTracker
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.settings import LocalizeSettings, SmoothingSettings
    from camvideo.tools.benchmark.frames import video_frames

    frames = moving_frames(args.frames) if args.moving else video_frames(640, 480, args.frames)
    model = load_model("lite0", device="cpu").eval()
    settings = LocalizeSettings(topk=args.topk, smoothing=SmoothingSettings())
    localizer = FrameLocalizer(model, settings, forward=OpenVINOForward(model, mode="latency", threads=1))
    evidence = [localizer.forward([f])[0] for f in frames]
    thumbs = [ev.thumb for ev in evidence]
    recorders = [Recorder(BoxTracker, "update"), Recorder(MovingExtent, "apply")]
    follows = []
    original_follow = motion_module.follow

    def recording_follow(average, feats, motion, lag=None):
        follows.append((average.clone(), feats, motion, copy.deepcopy(lag)))
        return original_follow(average, feats, motion, lag)

    import camvideo.cam.smoothing as smoothing_module
    smoothing_module.follow = recording_follow
    localizer.reset()
    results = localizer.finish(evidence, list(range(len(frames))), [i / 30 for i in range(len(frames))])
    if args.export:
        with open(args.export, "w") as out:
            out.writelines(json.dumps({**r.to_dict(), "heat": hashlib.sha1(r.maps.heat.tobytes()).hexdigest()}) + "\n"
                           for r in results)  # the heat maps too: the features' average, bit for bit
    smoothing_module.follow = original_follow
    for r in recorders:
        r.restore()
    tracker_calls, extent_calls = (r.calls for r in recorders)

    def run_motion():
        estimator = motion_module.MotionEstimator()
        for thumb in thumbs:
            estimator(thumb)

    def run_follow(calls):
        for average, feats, motion, lag in calls:
            original_follow(average, feats, motion, lag)

    def replay(make, name):
        def run(calls):
            target = make()
            for a, k in calls:
                getattr(target, name)(*a, **k)
        return run

    def run_finish():
        localizer.reset()
        for i, ev in enumerate(evidence):
            localizer.finish([ev], [i], [i / 30])

    count = len(frames)
    with torch.inference_mode():
        parts = {
            "thumbnail": cpu_ms(count, lambda: [motion_module.thumbnail(f) for f in frames], args.reps),
            "motion": cpu_ms(count, run_motion, args.reps),
            # Fresh copies a pass: a Motion keeps what it worked out (``still``, ``within``'s fits), a Lag what it gathered.
            "follow (features moved)": cpu_ms(count, run_follow, args.reps, lambda: (copy.deepcopy(follows),)),
            "box tracks": cpu_ms(count, replay(BoxTracker, "update"), args.reps,
                                 lambda: (copy.deepcopy(tracker_calls),)),
            "moving extent": cpu_ms(count, replay(MovingExtent, "apply"), args.reps,
                                    lambda: (copy.deepcopy(extent_calls),)),
            "finish (the in-order half)": cpu_ms(count, run_finish, args.reps),
        }
    print(json.dumps({"frames": count, "topk": args.topk, "follow calls a frame": round(len(follows) / count, 2),
                      "cpu_ms_per_frame": parts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
