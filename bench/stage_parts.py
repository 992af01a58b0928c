"""The 640x480 inference stage's parts in CPU milliseconds a frame, for one tree:
the bench's frames and settings (top-3, the default preset: 224x288 inputs),
OpenVINO's latency mode, torch, OpenVINO and OpenCV at one thread each, so that
CPU time (``time.process_time``) is what each part costs the machine, which a
machine shared with other jobs changes far less than wall time.

Prints one JSON object: preprocess (``prepare_frames`` where the tree has it: the
resized pixels that OpenVINO's graph normalizes), OpenVINO's forward pass alone at
the stage's input size (one inference of the float input: the maps and, where the
graph holds the head, the logits), the forward pass of what the stage feeds it, the
same through the method (with the head in torch where the graph has
none, and softmax), the in-order half (maps, boxes), the overlay, the whole stage
with its overlay, and that as a multiple of the forward pass alone.
``--precision`` (default f32): OpenVINO's, as ``camvideo --precision`` takes it.
Alternate two trees for a before/after:

    for t in ../before .; do PYTHONPATH=$t python bench/stage_parts.py; done
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def cpu_ms(frames, fn, reps: int) -> float:
    """The median over ``reps`` passes of CPU ms a frame of ``fn(i, frame)``."""
    out = []
    for _ in range(reps):
        start = time.process_time()
        for i, frame in enumerate(frames):
            fn(i, frame)
        out.append(1000 * (time.process_time() - start) / len(frames))
    return statistics.median(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="f32", choices=("auto", "f32", "bf16", "int8"))
    args = parser.parse_args()
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from camvideo.annotate import FrameAnnotator
    from camvideo.cam.preprocess import preprocess
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.settings import LocalizeSettings
    from camvideo.tools.benchmark.frames import video_frames

    frames = video_frames(640, 480, 24)
    model = load_model("lite0", device="cpu").eval()
    forward = OpenVINOForward(model, mode="latency", threads=1, sizes=[(224, 288)], precision=args.precision)
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3), forward=forward)
    annotator = FrameAnnotator()
    sized = localizer._passes._sized((224, 288))
    xs = [forward.prepare(preprocess([f], sized)) for f in frames]  # the float input: the forward pass alone
    # What the stage feeds the forward pass (a tree with prepare_frames: the resized pixels the graph normalizes).
    prepare = getattr(forward, "prepare_frames", None) or (lambda fs, m: forward.prepare(preprocess(fs, m)))
    ps = [prepare([f], sized) for f in frames]
    for i, f in enumerate(frames[:4]):  # warm up
        localizer([f])
        forward(xs[i])
    parts = {"preprocess": cpu_ms(frames, lambda i, f: prepare([f], sized), 5)}
    with torch.inference_mode():
        parts["forward alone (OpenVINO 224x288)"] = cpu_ms(frames, lambda i, f: forward(xs[i]), 3)
        parts["forward of the stage's input"] = cpu_ms(frames, lambda i, f: forward(ps[i]), 3)
        parts["forward + head (method.evidence)"] = cpu_ms(frames, lambda i, f: localizer.method.evidence(ps[i]), 3)
    evidence = [localizer.forward([f])[0] for f in frames]
    results = {}
    parts["finish (maps, boxes)"] = cpu_ms(
        frames, lambda i, f: results.__setitem__(i, localizer.finish([evidence[i]], [i], [0.0])[0]), 5)
    parts["annotate"] = cpu_ms(frames, lambda i, f: annotator.annotate(f, results[i]), 5)
    parts["whole stage + annotate"] = cpu_ms(frames, lambda i, f: annotator.annotate(f, localizer([f], [i], [0.0])[0]), 3)
    parts["whole / forward alone"] = parts["whole stage + annotate"] / parts["forward alone (OpenVINO 224x288)"]
    print(json.dumps({"precision": forward.precision, **{k: round(v, 3) for k, v in parts.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
