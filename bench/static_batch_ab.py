"""OpenVINO's inference of one frame on the IR's free batch (camvideo before session
13) against the same IR compiled with its batch fixed at 1 (what ``_Shape`` runs a
batch of one frame on now), in one process, round by round interleaved, each side
first in every other round. Both through ``_Shape``'s runners of one
``OpenVINOForward`` at 224x288 (the default preset's input for 640x480), at
``--precision`` (default auto), in ``--mode`` throughput (a file run's: the
THROUGHPUT hint's streams) or latency (one inference thread). CPU ms a frame
(``time.process_time``: every thread of the process), the bench's 640x480 frames,
preprocessed. Prints JSON: each side's median and the mean per-round difference.

    PYTHONPATH=. python bench/static_batch_ab.py [--mode throughput|latency] [--rounds 12]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

SIZE = (224, 288)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "f32"))
    parser.add_argument("--mode", default="throughput", choices=("throughput", "latency"))
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    import dataclasses
    import types

    import numpy as np
    import torch

    from camvideo.cam.preprocess import preprocess
    from camvideo.models import load_model
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.tools.benchmark.frames import video_frames

    torch.set_num_threads(1)
    model = load_model("lite0", device="cpu").eval()
    threads = {"threads": 1} if args.mode == "latency" else {}
    forward = OpenVINOForward(model, mode=args.mode, sizes=[SIZE], precision=args.precision, **threads)
    shape = forward._shape(SIZE)
    from camvideo.runtime.openvino import _Runner

    runners = {"static batch": shape._runner(1), "free batch": _Runner(shape._compile(None, False), args.mode)}
    sized = types.SimpleNamespace(preprocessing=dataclasses.replace(model.preprocessing, size=SIZE),
                                  device=model.device)
    xs = [np.ascontiguousarray(preprocess([f], sized).numpy()) for f in video_frames(640, 480, 8)]

    def outs():
        return [np.empty((1, *shape.feature_shape), np.float32), np.empty((1, *shape.logits_shape), np.float32)]

    for runner in runners.values():
        for x in xs:
            runner.run(x, outs())
    times: dict[str, list[float]] = {side: [] for side in runners}
    for i in range(args.rounds):
        for side in sorted(runners, reverse=i % 2 == 1):
            start = time.process_time()
            for j in range(args.frames):
                runners[side].run(xs[j % len(xs)], outs())
            times[side].append(1000 * (time.process_time() - start) / args.frames)
    forward.close()
    diffs = [a - b for a, b in zip(times["free batch"], times["static batch"])]
    print(json.dumps({"precision": forward.precision, "mode": args.mode,
                      **{side: round(statistics.median(t), 3) for side, t in times.items()},
                      "free - static, mean of rounds": round(statistics.mean(diffs), 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
