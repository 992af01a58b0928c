"""The forward threads' own CPU a frame, in one process: ``FrameLocalizer.forward`` (the
file run's forward half) on a clip's 640x480 frames in the file run's batches on a
``ForwardPool`` of the file run's threads, OpenVINO's throughput mode, ``balanced``,
smoothing on (so the motion thumbnail too); the thread CPU time of each ``forward`` call
summed (no pool queue, no OpenVINO thread), per frame, one figure a round.

``--stub resize`` / ``--stub thumb`` (repeatable) replace the resize (a kept array of the
right size) or the thumbnail (a kept grey array) to leave the Python around them: what
a change to the call path can take. Prints one JSON line: each round and the median.

    PYTHONPATH=. python bench/forward_threads.py --clip /tmp/s21/clip600.mp4 --rounds 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time


def _frames(path: str, count: int) -> list:
    import cv2

    cap = cv2.VideoCapture(path)
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def _stub(names: list[str]) -> None:
    import numpy as np

    import camvideo.cam.preprocess as pre
    import camvideo.runtime.localizer as loc

    if "resize" in names:
        kept: dict = {}

        def resize(frame, width, height, out=None):
            if out is not None:
                return out
            return kept.setdefault((height, width), np.zeros((height, width, 3), np.uint8))

        pre.resize_for_model = resize
    if "thumb" in names:
        grey = np.zeros((120, 160), np.uint8)
        loc.thumbnail = lambda frame: grey


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", required=True)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--stub", action="append", default=[], choices=("resize", "thumb"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.runtime.workers import ForwardPool, auto_batch, auto_workers, hold_opencv_threads
    from camvideo.settings import LocalizeSettings, SmoothingSettings

    release = hold_opencv_threads(file_run=True)
    frames = _frames(args.clip, args.frames)
    model = load_model("lite0", device="cpu").eval()
    forward = OpenVINOForward(model, mode="throughput", precision="auto",
                              sizes=[(224, 288)] if frames[0].shape[:2] == (480, 640) else None)
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3, smoothing=SmoothingSettings()), forward=forward)
    _stub(args.stub)
    batch, workers = auto_batch(forward, live=False), auto_workers(model, forward)
    spent, lock = [0.0], threading.Lock()

    def job(images):
        start = time.thread_time()
        out = localizer.forward(images)
        with lock:
            spent[0] += time.thread_time() - start
        return out

    rounds = []
    with ForwardPool(workers) as pool:
        for r in range(args.rounds + 1):  # the first round warms up
            spent[0], flight, count = 0.0, [], 0
            for i in range(0, len(frames) - batch + 1, batch):
                if len(flight) >= 2 * workers:
                    flight.pop(0).result()
                flight.append(pool.submit(job, frames[i:i + batch]))
                count += batch
            for future in flight:
                future.result()
            if r:
                rounds.append(round(1000 * spent[0] / count, 4))
    forward.close()
    release()
    print(json.dumps({"stub": args.stub, "workers": workers, "batch": batch, "rounds": rounds,
                      "median_ms_per_frame": statistics.median(rounds)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
