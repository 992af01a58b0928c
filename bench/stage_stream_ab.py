"""A/B of OpenVINO compile properties for the 640x480 stage as a stream (a file run's,
``camvideo.tools.benchmark.runs.run_stream``) and its forward pass alone as a stream,
in one process: A is the throughput mode as camvideo compiles it, B the same with
``--ov KEY=VALUE`` added (repeatable). Rounds alternate A and B (and which goes
first); prints each run and the medians: wall ms a frame (steady) and the process's
CPU ms a frame, the stage over the forward pass for each.

    PYTHONPATH=. nice python bench/stage_stream_ab.py --ov ENABLE_CPU_PINNING=False --rounds 6
"""

from __future__ import annotations

import argparse
import json
import statistics


def _forward(model, precision: str, extra: dict):
    """OpenVINO's throughput mode at 224x288, with ``extra`` properties compiled in."""
    from camvideo.runtime.openvino import OpenVINOForward

    forward = OpenVINOForward(model, mode="throughput", sizes=[(224, 288)], precision=precision)
    if extra:  # compiled again with them (the blob cache keys on the whole config)
        forward._config.update(extra)
        forward._shapes.clear()
        forward.jobs = forward._shape((224, 288)).jobs
    return forward


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--precision", default="auto", choices=("auto", "f32", "bf16", "int8"))
    parser.add_argument("--ov", action="append", default=[], metavar="KEY=VALUE", required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.workers import auto_workers
    from camvideo.settings import LocalizeSettings
    from camvideo.tools.benchmark.frames import make_frames
    from camvideo.tools.benchmark.openvino import prepared
    from camvideo.tools.benchmark.runs import run_forward_stream, run_stream

    frames = make_frames(640, 480, 24)
    annotator = FrameAnnotator()
    arms = {}
    for arm, extra in (("A", {}), ("B", dict(kv.split("=", 1) for kv in args.ov))):
        model = load_model("lite0", device="cpu").eval()
        forward = _forward(model, args.precision, extra)
        localizer = FrameLocalizer(model, LocalizeSettings(topk=3), forward=forward)
        inputs = prepared(model, forward, frames, (224, 288))
        pool = auto_workers(model, forward)
        arms[arm] = {"stage": lambda n, loc=localizer: run_stream(loc, annotator, frames, n),
                     "forward": lambda n, f=forward, x=inputs, w=pool: run_forward_stream(f.features_and_logits, x, n, w)}
        props = forward._shapes[(224, 288)].compiled
        print(json.dumps({"arm": arm, **{k: str(props.get_property(k)) for k in
                                          ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING")}}), flush=True)
        for job in arms[arm].values():
            job(16)  # warm up
    rows: dict[str, list[dict]] = {"A": [], "B": []}
    for r in range(args.rounds):
        for arm in ("A", "B") if r % 2 == 0 else ("B", "A"):
            row = {}
            for key in ("stage", "forward") if r % 2 == 0 else ("forward", "stage"):
                out = arms[arm][key](args.frames)
                row[key], row[f"{key}_cpu"] = out["ms_per_frame"], out["cpu_ms_per_frame"]
            rows[arm].append(row)
            print(json.dumps({"round": r, "arm": arm, **{k: round(v, 3) for k, v in row.items()}}), flush=True)
    for arm, got in rows.items():
        med = {k: statistics.median(row[k] for row in got) for k in got[0]}
        print(json.dumps({"arm": arm, **{k: round(v, 3) for k, v in med.items()},
                          "ratio": round(med["stage"] / med["forward"], 3),
                          "cpu_ratio": round(med["stage_cpu"] / med["forward_cpu"], 3)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
