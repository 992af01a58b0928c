"""The classifier's head in torch or in OpenVINO's graph, in one process, frame by
frame interleaved: a features-only graph with the head run by torch on its output
(camvideo before session 12, made here by converting without the head) against the
graph with the head (``ovbuild.with_head``). CPU ms a frame (``time.process_time``),
one thread, the bench's 640x480 frames, the default preset (224x288), top-3: the
inference alone, image -> logits (``method.evidence``), the whole stage with its
overlay, and the stage over image -> logits. Prints JSON.

    PYTHONPATH=. python bench/head_ab.py [--precision bf16|f32] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

SIZE = (224, 288)  # what the default preset feeds a 640x480 frame


def side(without_head: bool, precision: str, cache: str, frames):
    """(localizer, forward, prepared inputs) on a graph with or without the head."""
    from camvideo.cam.preprocess import preprocess
    from camvideo.models import load_model
    from camvideo.runtime import ovcache
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.settings import LocalizeSettings

    model = load_model("lite0").eval()
    keep = ovcache._head
    if without_head:  # convert as before the head moved into the graph
        ovcache._head = lambda m: None
    try:
        forward = OpenVINOForward(model, mode="latency", threads=1, sizes=[SIZE], precision=precision, cache=cache)
    finally:
        ovcache._head = keep
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3), forward=forward)
    xs = [forward.prepare(preprocess([f], localizer._passes._sized(SIZE))) for f in frames]
    return localizer, forward, xs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="bf16", choices=("f32", "bf16"))
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    import cv2
    import torch

    from camvideo.annotate import FrameAnnotator
    from camvideo.tools.benchmark.frames import video_frames

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    frames = video_frames(640, 480, 24)
    annotator = FrameAnnotator()
    with tempfile.TemporaryDirectory(prefix="camvideo-head-ab-") as tmp:
        sides = {name: side(name == "torch head", args.precision, f"{tmp}/{i}", frames)
                 for i, name in enumerate(("torch head", "graph head"))}
        times: dict[str, list[float]] = {}

        def clock(key: str, fn) -> None:
            start = time.process_time()
            fn()
            times.setdefault(key, []).append(1000 * (time.process_time() - start))

        for localizer, _, _ in sides.values():
            for f in frames[:4]:
                annotator.annotate(f, localizer([f])[0])
        for r in range(args.rounds):
            for i, f in enumerate(frames):
                order = list(sides.items()) if (r + i) % 2 == 0 else list(sides.items())[::-1]
                for name, (localizer, forward, xs) in order:
                    x = xs[i]
                    with torch.inference_mode():
                        clock(f"{name}: forward alone", lambda: forward(x))  # noqa: B023 - called at once
                        clock(f"{name}: image->logits", lambda: localizer.method.evidence(x))  # noqa: B023
                    clock(f"{name}: stage+annotate",
                          lambda: annotator.annotate(f, localizer([f], [i], [0.0])[0]))  # noqa: B023
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    for name in sides:
        med[f"{name}: stage / image->logits"] = round(med[f"{name}: stage+annotate"] / med[f"{name}: image->logits"], 3)
    print(json.dumps({"precision": args.precision, "rounds": args.rounds, **med}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
