"""End-to-end `camvideo process` throughput as a ratio to the forward pass alone.

On a generated 640x480 H.264 clip, the same run measures, interleaved:

- **forward**: the model's forward pass alone on the same frames, already decoded
  and preprocessed (the floor no CAM tool can go below);
- **process**: the whole pipeline as `camvideo process` runs it: decode (reader
  thread), preprocess + forward + CAM + boxes + overlay (worker), H.264 encode
  into a crash-safe .mkv (writer), from start to the last frame written.

The figure is ``ratio = process fps / forward fps`` (medians over repetitions);
1.0 means the pipeline costs nothing beyond the forward pass. Target >= 0.8.

    python bench/bench_process.py [--frames 150] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(path: Path, frames: int, size: tuple[int, int], fps: int = 30) -> None:
    """A 640x480 H.264 clip with moving content (so the encoder has real work)."""
    import av

    width, height = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), np.uint8))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.options = {"preset": "veryfast"}
        for i in range(frames):
            image = np.roll(base, 4 * i, axis=1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _forward_fps(model, batches) -> float:
    """Forward-only fps, measured in its own thread as the pipeline's worker runs it
    (on a loaded machine torch in the main thread was measured 20x slower than in a
    fresh thread: comparing the two would flatter the pipeline)."""
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(_forward_loop(model, batches)), name="bench-forward")
    worker.start()
    worker.join()
    return out[0]


def _forward_loop(model, batches) -> float:
    import torch

    with torch.inference_mode():
        model(batches[0])  # warm-up
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for x in batches:
            model(x)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        return len(batches) / (time.perf_counter() - t0)


def _process_fps(model, clip: Path, out: Path, batch_size: int) -> tuple[float, dict]:
    from camvideo.annotate import FrameAnnotator
    from camvideo.inference import FrameLocalizer
    from camvideo.pipeline import Pipeline
    from camvideo.recorder import Recorder
    from camvideo.sources import open_source

    with open_source(clip) as source:
        pipeline = Pipeline(source, FrameLocalizer(model), FrameAnnotator(),
                            [Recorder(out, fps_hint=30.0)], batch_size=batch_size)
        t0 = time.perf_counter()
        with pipeline:
            pipeline.start()
            pipeline.wait()
            frames = pipeline.stats.frames
            stages = pipeline.stats.stage_ms
        elapsed = time.perf_counter() - t0  # includes finalizing the recording
        if pipeline.error is not None:
            raise pipeline.error
    return frames / elapsed, stages


def run_process_bench(frames: int = 150, size: tuple[int, int] = (640, 480), repeats: int = 3,
                      model_name: str = "lite0", device: str = "cpu", threads: int | None = 2,
                      batch_size: int = 1) -> dict:
    """Measure and return ``{"ratio", "process_fps", "forward_fps", ...}`` (medians)."""
    import torch

    from camvideo.cam import preprocess
    from camvideo.models import load_model
    from camvideo.sources import open_source

    if threads:
        torch.set_num_threads(threads)
    model = load_model(model_name, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench.mp4"
        make_clip(clip, frames, size)
        with open_source(clip) as source:
            images = [f.image for f in source]
        batches = [preprocess(images[i:i + batch_size], model) for i in range(0, len(images), batch_size)]
        forward, process, stages = [], [], {}
        _process_fps(model, clip, Path(tmp) / "warm.mkv", batch_size)  # warm-up: caches, threads
        for r in range(repeats):  # interleaved: drift in machine load hits both alike
            forward.append(_forward_fps(model, batches) * batch_size)
            fps, stages = _process_fps(model, clip, Path(tmp) / f"out{r}.mkv", batch_size)
            process.append(fps)
    forward_fps, process_fps = statistics.median(forward), statistics.median(process)
    return {
        "frames": len(images), "size": list(size), "model": model_name, "device": str(model.device),
        "threads": torch.get_num_threads(), "batch_size": batch_size, "repeats": repeats,
        "forward_fps": round(forward_fps, 2), "process_fps": round(process_fps, 2),
        "ratio": round(process_fps / forward_fps, 3),
        "forward_fps_runs": [round(v, 2) for v in forward], "process_fps_runs": [round(v, 2) for v in process],
        "stage_ms": {k: round(v, 2) for k, v in stages.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="lite0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args(argv)
    result = run_process_bench(args.frames, repeats=args.repeats, model_name=args.model, device=args.device,
                               threads=args.threads or None, batch_size=args.batch_size)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
