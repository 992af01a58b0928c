"""``camvideo bench``: what a CAM video costs, against the floor and the peers.

The floor is the forward pass alone at the model's input size, on a batch that is
already preprocessed: nothing that computes a CAM can go below it. Every
contestant runs in one process, on the same frames (real photos, panned and
zoomed so consecutive frames differ), with the same thread count, in rounds
that visit the contestants in a rotating order, so drift on a busy machine hits
them all alike. Per-frame medians over all rounds, and ratios to the floor.

Contestants:

- ``floor``: the network's forward pass, image -> logits (features, pooling and
  the linear head), under ``inference_mode`` on a preprocessed 224x224 batch;
- ``camvideo WxH``: the inference stage as the pipeline runs it on a WxH frame:
  preprocess + forward + top-k CAMs + boxes + overlay (heat map, boxes, labels);
- ``torchcam`` / ``gradcam`` (when installed, ``pip install camvideo[bench]``):
  the same frames through torchcam's ``CAM`` + ``overlay_mask`` and
  pytorch-grad-cam's ``GradCAM`` + ``show_cam_on_image`` (top-1 map only, the way
  their READMEs use them, given our preprocessing: only CAM + overlay differ);
- ``end to end``: a 640x480 H.264 file through ``Pipeline``: decode -> all of the
  above -> H.264 encode, frames per second against the floor's;
- ``live``: a source that produces frames faster than inference (latest-frame
  policy) through ``Pipeline``: capture-to-annotated latency, p50 and p95;
- ``soak`` (opt-in): resident memory before and after N frames.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from camvideo.runtime.timing import StageTimer

log = logging.getLogger(__name__)

SIZES = ((640, 480), (1280, 720))
PHOTO_NAMES = ("chelsea", "coffee", "astronaut")


@dataclass(frozen=True)
class BenchConfig:
    frames: int = 24  # distinct frames per contestant and round
    rounds: int = 5  # interleaved rounds
    threads: int = 2
    device: str = "cpu"
    model: str = "lite0"
    topk: int = 3
    batch: int = 1  # batch size of the end-to-end pipeline
    workers: int | None = None  # forward threads of the end-to-end pipeline (None: auto)
    e2e_frames: int = 120  # frames of the end-to-end clip (coherent motion, see video_frames)
    peers: bool = True
    end_to_end: bool = True
    live: bool = True
    live_fps: float = 60.0  # the live source's rate, faster than inference
    soak: int = 0  # frames through the inference stage for the memory soak (0: off)
    compile: bool = False  # also measure the inference stage with torch.compile
    openvino: bool = True  # also measure the forward pass, the stage, end to end and live on OpenVINO

    def __post_init__(self) -> None:
        for name in ("frames", "rounds", "threads", "topk", "batch", "e2e_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        from camvideo.runtime.workers import check_workers

        check_workers(self.workers)
        if self.soak < 0:
            raise ValueError(f"soak must be 0 (off) or a number of frames, got {self.soak}")
        if self.live_fps <= 0:
            raise ValueError(f"live_fps must be positive, got {self.live_fps}")


QUICK = dict(frames=2, rounds=1, live_fps=60.0, e2e_frames=2)


# --- frames ------------------------------------------------------------------


def _photo_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / "resources", here.parent / "tests" / "data", Path.cwd() / "tests" / "data"]


def load_photos() -> list[np.ndarray]:
    """The test photos when they can be found (a source checkout), else synthetic
    pictures (an installed package without them): shapes, gradients, texture."""
    photos = []
    for name in PHOTO_NAMES:
        for folder in _photo_dirs():
            path = folder / f"{name}.png"
            if path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    photos.append(image)
                    break
    if photos:
        return photos
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        yy, xx = np.mgrid[0:480, 0:640]
        img = np.stack([(xx * (i + 1)) % 256, (yy * 2) % 256, ((xx + yy) // 3) % 256], -1).astype(np.uint8)
        cv2.circle(img, (200 + 80 * i, 240), 120, (30 * i, 200, 90), -1)
        img = cv2.add(img, rng.integers(0, 40, img.shape, dtype=np.uint8))
        out.append(img)
    return out


def make_frames(width: int, height: int, count: int, photos: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``count`` BGR frames of ``width`` x ``height``: each photo in turn, seen
    through a window that pans and zooms a little from frame to frame (motion)."""
    photos = photos if photos is not None else load_photos()
    frames = []
    for i in range(count):
        photo = photos[i % len(photos)]
        ph, pw = photo.shape[:2]
        t = i / max(1, count - 1)
        zoom = 0.8 + 0.15 * math.sin(2 * math.pi * t)
        crop_w = min(pw, int(ph * zoom * width / height))
        cw = (crop_w, min(ph, int(crop_w * height / width)))
        x0 = int((pw - cw[0]) * (0.5 + 0.5 * math.sin(2 * math.pi * t + i)))
        y0 = int((ph - cw[1]) * (0.5 + 0.5 * math.cos(2 * math.pi * t)))
        crop = photo[y0 : y0 + cw[1], x0 : x0 + cw[0]]
        frames.append(np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)))
    return frames


def video_frames(width: int, height: int, count: int, photos: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``count`` frames that move like a video: a slow pan over one photo for a
    run of frames, then a cut to the next. ``make_frames`` jumps between photos
    and positions every frame, which no camera does and which inflates the
    encoder's cost; the end-to-end clip uses these."""
    photos = photos if photos is not None else load_photos()
    frames = []
    for i in range(count):
        photo = photos[(i * len(photos)) // count]
        ph, pw = photo.shape[:2]
        t = i / count
        cw = int(pw * 0.7)
        ch = min(ph, int(cw * height / width))
        x0 = int((pw - cw) * (0.5 + 0.4 * math.sin(2 * math.pi * t)))
        y0 = (ph - ch) // 2
        crop = photo[y0 : y0 + ch, x0 : x0 + cw]
        frames.append(np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)))
    return frames


# --- contestants ---------------------------------------------------------------


@dataclass
class Contestant:
    """``run(i)`` processes frame ``i`` and returns when its result is ready."""

    name: str
    run: Callable[[int], object]
    size: tuple[int, int] | None = None
    note: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


FLOOR_CL = "floor (channels_last)"
OWN_FORWARD = "camvideo's forward pass"


def floor_contestant(model, frames: list[np.ndarray], name: str = "floor", channels_last: bool = False,
                     autocast: torch.dtype | None = None) -> Contestant:
    """The forward pass alone; ``autocast``: the precision camvideo runs it in
    (fp16 on CUDA), for the floor that is camvideo's own forward pass."""
    from camvideo.cam.preprocess import preprocess

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xs = [preprocess([f], model).contiguous(memory_format=fmt) for f in frames]
    device = model.device.type

    def run(i: int):
        with torch.inference_mode(), torch.autocast(device, dtype=autocast, enabled=autocast is not None):
            logits = model.classify(model(xs[i % len(xs)]))
        _sync(model.device)
        return logits

    height, width = model.preprocessing.size
    note = f"forward pass alone (image -> logits), preprocessed {width}x{height} input"
    if channels_last:
        note += ", channels_last"
    if _folded_norms(model):
        note += ", batch norms folded"
    note += f", {'float32' if autocast is None else str(autocast).removeprefix('torch.') + ' autocast'}"
    return Contestant(name, run, (width, height), note)


def camvideo_contestant(localizer, annotator, frames: list[np.ndarray], suffix: str = "") -> Contestant:
    h, w = frames[0].shape[:2]

    stages: dict[str, list[float]] = {}

    def run(i: int):
        frame = frames[i % len(frames)]
        result = localizer([frame], [i], [0.0])[0]
        timer = StageTimer()
        with timer("annotate"):
            out = annotator.annotate(frame, result)
        for key, value in {**result.timings, **timer.ms}.items():
            stages.setdefault(key, []).append(value)
        return out

    k = localizer.settings.topk
    c = Contestant(f"camvideo {w}x{h}{suffix}", run, (w, h), f"preprocess + forward + top-{k} CAMs + boxes + overlay")
    c.stages = stages  # type: ignore[attr-defined]
    return c


def torchcam_contestant(model, frames: list[np.ndarray]) -> Contestant | None:
    try:
        from PIL import Image
        from torchcam.methods import CAM
        from torchcam.utils import overlay_mask
    except ImportError:
        return None
    from camvideo.cam.preprocess import preprocess

    net = model.network
    if net is None or not hasattr(net, "classifier") or not hasattr(net, "head_act"):
        return None
    # The last feature maps, after the activation (what camvideo's CAMs are made of).
    extractor = CAM(net, target_layer="head_act", fc_layer="classifier", input_shape=(3, *model.preprocessing.size))
    h, w = frames[0].shape[:2]

    def run(i: int):
        frame = frames[i % len(frames)]
        x = preprocess([frame], model)
        with torch.no_grad():
            scores = net(x)
            cams = extractor(int(scores[0].argmax()), scores)
        mask = Image.fromarray(cams[0][0].cpu().numpy(), mode="F")
        pil = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        return np.asarray(overlay_mask(pil, mask, alpha=0.5))

    c = Contestant(f"torchcam {w}x{h}", run, (w, h), "torchcam CAM (top-1) + overlay_mask")
    c.close = extractor.remove_hooks  # type: ignore[attr-defined]
    return c


def gradcam_contestant(model, frames: list[np.ndarray]) -> Contestant | None:
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.image import show_cam_on_image
    except ImportError:
        return None
    from camvideo.cam.preprocess import preprocess

    net = model.network
    if net is None or not hasattr(net, "head_act"):
        return None
    cam = GradCAM(model=net, target_layers=[net.head_act])
    h, w = frames[0].shape[:2]

    def run(i: int):
        frame = frames[i % len(frames)]
        x = preprocess([frame], model)
        # The loaded weights are frozen; an input that asks for gradients builds
        # the graph GradCAM's backward pass needs.
        gray = cam(input_tensor=x.requires_grad_(True), targets=None)[0]  # top-1, forward + backward
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return show_cam_on_image(rgb, cv2.resize(gray, (w, h)), use_rgb=True)

    c = Contestant(f"gradcam {w}x{h}", run, (w, h), "pytorch-grad-cam GradCAM (top-1) + show_cam_on_image")
    c.close = lambda: cam.__exit__(None, None, None)  # type: ignore[attr-defined]
    return c


# --- pipeline runs -----------------------------------------------------------


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """An H.264 file of ``frames`` (PyAV, yuv420p)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_end_to_end(localizer, annotator, clip: Path, out_dir: Path, batch: int = 1, workers: int | None = None) -> dict:
    """Decode ``clip`` -> inference stage -> H.264 recording through ``Pipeline``;
    frames per second from start to the recording closed."""
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.video.recorder import Recorder
    from camvideo.video.sources import open_source

    out = out_dir / "bench_out.mkv"
    t0 = time.perf_counter()
    source = open_source(clip)
    recorder = Recorder(out)
    with Pipeline(source, localizer, annotator, [recorder], batch_size=batch, workers=workers) as pipe:
        pipe.start()
        pipe.wait()
        if pipe.error is not None:
            raise pipe.error
        frames = pipe.stats.frames
        stages = dict(pipe.stats.stage_ms)
    elapsed = time.perf_counter() - t0
    return {"frames": frames, "seconds": elapsed, "ms_per_frame": 1000.0 * elapsed / max(1, frames), "stages": stages}


class _LatencySink:
    def __init__(self) -> None:
        self.latencies: list[float] = []

    def write(self, frame, annotated, result) -> None:
        self.latencies.append((time.monotonic() - frame.captured) * 1000.0)

    def close(self) -> None:
        pass


def run_live(localizer, annotator, frames: list[np.ndarray], count: int, fps: float) -> dict:
    """A live source producing ``fps`` frames a second (faster than inference) with
    the latest-frame policy; capture-to-annotated latency of ``count`` frames."""
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.video.sources import IterableSource

    stop = threading.Event()

    def camera():
        period, nxt, i = 1.0 / fps, time.perf_counter(), 0
        while not stop.is_set():
            nxt += period
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            yield frames[i % len(frames)]
            i += 1

    sink = _LatencySink()
    source = IterableSource(camera(), live=True, name="bench-camera", fps=fps)
    with Pipeline(source, localizer, annotator, [sink]) as pipe:
        pipe.start()
        deadline = time.monotonic() + 120.0
        while len(sink.latencies) < count and pipe.error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        stop.set()
        dropped = source.dropped
        pipe.stop()
        if pipe.error is not None:
            raise pipe.error
    return {"latencies_ms": sink.latencies[:count], "dropped": dropped}


# --- memory -------------------------------------------------------------------


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; else peak RSS)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_soak(localizer, annotator, frames: list[np.ndarray], count: int, warmup: int | None = None) -> dict:
    """``count`` frames through the inference stage; resident memory after the
    warm-up (the allocators' pools filled) and at the end, sampled on the way."""
    warmup = warmup if warmup is not None else min(200, max(1, count // 10))
    for i in range(warmup):
        frame = frames[i % len(frames)]
        annotator.annotate(frame, localizer([frame], [i], [0.0])[0])
    start = rss_mb()
    samples = [start]
    t0 = time.perf_counter()
    for i in range(count):
        frame = frames[i % len(frames)]
        annotator.annotate(frame, localizer([frame], [i], [0.0])[0])
        if (i + 1) % max(1, count // 20) == 0:
            samples.append(rss_mb())
    end = rss_mb()
    return {
        "frames": count,
        "warmup_frames": warmup,
        "rss_start_mb": round(start, 1),
        "rss_end_mb": round(end, 1),
        "rss_max_mb": round(max(samples + [end]), 1),
        "growth_pct": round(100.0 * (end - start) / start, 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }


# --- the run -----------------------------------------------------------------


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median_ms": round(float(np.median(arr)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
        "n": int(arr.size),
    }


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run_bench(config: BenchConfig = BenchConfig(), progress: Callable[[str], None] | None = None) -> dict:
    """One interleaved run; returns the report (see ``format_table``)."""
    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import LocalizeSettings

    say = progress or (lambda msg: log.info("%s", msg))
    torch.set_num_threads(config.threads)
    # The stock network as loaded (the floor), the stock network in
    # channels_last (the floor in its fastest eager layout), and camvideo's own
    # copy, which FrameLocalizer changes in place (batch norms folded,
    # channels_last): its forward pass alone is the strict baseline.
    plain = load_model(config.model, device=config.device).eval()
    model = load_model(config.model, device=config.device).eval()
    settings = LocalizeSettings(topk=config.topk)
    localizer = FrameLocalizer(model, settings)
    annotator = FrameAnnotator()
    photos = load_photos()
    frames = {size: make_frames(*size, config.frames, photos) for size in SIZES}
    base = frames[SIZES[0]]

    contestants = [floor_contestant(plain, base)]
    if localizer.channels_last:
        stock_cl = load_model(config.model, device=config.device).eval().to(memory_format=torch.channels_last)
        contestants.append(floor_contestant(stock_cl, base, FLOOR_CL, channels_last=True))
    contestants.append(floor_contestant(model, base, OWN_FORWARD, channels_last=localizer.channels_last,
                                        autocast=localizer.autocast_dtype))
    contestants += [camvideo_contestant(localizer, annotator, frames[s]) for s in SIZES]
    if config.compile:
        say("compiling (torch.compile, first call)")
        compiled = FrameLocalizer(load_model(config.model, device=config.device).eval(), settings, compile=True)
        compiled([base[0]])
        contestants.append(camvideo_contestant(compiled, annotator, base, " compiled"))
        # The stricter baseline for it: the compiled forward pass alone.
        floor_model = load_model(config.model, device=config.device).eval().to(memory_format=torch.channels_last)
        floor_model.features.compile()
        contestants.insert(2, floor_contestant(floor_model, base, "floor (compiled)", channels_last=True))
    peers_missing = []
    if config.peers:
        for make in (torchcam_contestant, gradcam_contestant):
            # A model of their own: the hooks they leave would run in the floor's forward passes.
            c = make(load_model(config.model, device=config.device).eval(), base)
            if c is None:
                peers_missing.append(make.__name__.replace("_contestant", ""))
            else:
                contestants.append(c)
    ov, ov_missing = None, None
    if config.openvino:
        from camvideo.tools.bench_openvino import openvino_setup

        ov, ov_missing = openvino_setup(config, frames, annotator, settings, say)
        contestants += ov.contestants if ov is not None else []

    times: dict[str, list[float]] = {c.name: [] for c in contestants}
    e2e_runs: list[dict] = []
    live_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="camvideo-bench-") as tmp:
        tmp_path = Path(tmp)
        clip = None
        if config.end_to_end:
            clip = write_clip(tmp_path / "bench_in.mp4", video_frames(*SIZES[0], config.e2e_frames, photos))
        say(f"warm-up ({len(contestants)} contestants)")
        for c in contestants:
            for i in range(2):
                c.run(i)
        for c in contestants:
            getattr(c, "stages", {}).clear()
        e2e = [(localizer, e2e_runs)] + ([(ov.throughput, ov.e2e_runs)] if ov is not None else [])
        live = [(localizer, live_runs)] + ([(ov.latency, ov.live_runs)] if ov is not None else [])
        if clip is not None:
            for on, _ in e2e:
                run_end_to_end(on, annotator, clip, tmp_path, config.batch, config.workers)
        for r in range(config.rounds):
            say(f"round {r + 1}/{config.rounds}")
            # Frame by frame, every contestant in turn, starting with a different
            # one each time: drift on a busy machine hits all of them alike.
            for i in range(config.frames):
                shift = (r * config.frames + i) % len(contestants)
                for c in contestants[shift:] + contestants[:shift]:
                    t0 = time.perf_counter()
                    c.run(i)
                    times[c.name].append((time.perf_counter() - t0) * 1000.0)
            for on, runs in e2e if clip is not None else []:
                runs.append(run_end_to_end(on, annotator, clip, tmp_path, config.batch, config.workers))
            for on, runs in live if config.live else []:
                runs.append(run_live(on, annotator, base, config.frames, config.live_fps))
        for c in contestants:
            close = getattr(c, "close", None)
            if close is not None:
                close()

    results = {}
    floor_ms = float(np.median(times["floor"]))
    floor_cl_ms = float(np.median(times[FLOOR_CL])) if FLOOR_CL in times else None
    own_ms = float(np.median(times[OWN_FORWARD]))
    floors = tuple(n for n in times if n.startswith("floor") or n == OWN_FORWARD)
    fastest, fastest_ms = min(((n, float(np.median(times[n]))) for n in floors), key=lambda item: item[1])
    for c in contestants:
        entry = _stats(times[c.name])
        entry["ratio"] = round(entry["median_ms"] / floor_ms, 3)
        if floor_cl_ms:
            entry["ratio_channels_last_floor"] = round(entry["median_ms"] / floor_cl_ms, 3)
        entry["ratio_own_forward"] = round(entry["median_ms"] / own_ms, 3)
        entry["ratio_fastest_forward"] = round(entry["median_ms"] / fastest_ms, 3)
        entry["fps"] = round(1000.0 / entry["median_ms"], 2)
        entry["note"] = c.note
        results[c.name] = entry
    report: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "config": asdict(config),
        "floor_ms": round(floor_ms, 3),
        "floor_channels_last_ms": round(floor_cl_ms, 3) if floor_cl_ms else None,
        "own_forward_ms": round(own_ms, 3),
        "fastest_forward": {"name": fastest, "ms": round(fastest_ms, 3)},
        "openvino_missing": ov_missing,
        "folded_norms": _folded_norms(model),
        "results": results,
        # Medians of the camvideo contestants' own stage timings, taken in the rounds.
        "stages_ms": {
            c.name.removeprefix("camvideo "): {k: round(float(np.median(v)), 3) for k, v in c.stages.items()}
            for c in contestants
            if getattr(c, "stages", None)
        },
        "peers_missing": peers_missing,
    }
    for key, runs in (("end_to_end", e2e_runs), ("end_to_end_openvino", ov.e2e_runs if ov else [])):
        if runs:
            report[key] = _e2e_summary(runs, config, floor_ms, floor_cl_ms, own_ms, fastest_ms)
    for key, runs in (("live", live_runs), ("live_openvino", ov.live_runs if ov else [])):
        if runs:
            report[key] = _live_summary(runs, config, floor_ms)
    if config.soak:
        say(f"soak: {config.soak} frames")
        report["soak"] = run_soak(localizer, annotator, base, config.soak)
    return report


def _e2e_summary(runs: list[dict], config: BenchConfig, floor_ms: float, floor_cl_ms: float | None,
                 own_ms: float, fastest_ms: float) -> dict:
    ms = float(np.median([run["ms_per_frame"] for run in runs]))
    return {
        "size": "640x480",
        "frames_per_run": runs[0]["frames"],
        "batch": config.batch,
        "workers": config.workers or "auto",
        "median_ms_per_frame": round(ms, 3),
        "fps": round(1000.0 / ms, 2),
        "fps_vs_floor": round(floor_ms / ms, 3),
        "fps_vs_floor_channels_last": round(floor_cl_ms / ms, 3) if floor_cl_ms else None,
        "fps_vs_own_forward": round(own_ms / ms, 3),
        "fps_vs_fastest_forward": round(fastest_ms / ms, 3),
        "stages_ms": {k: round(v, 3) for k, v in runs[-1]["stages"].items()},
    }


def _live_summary(runs: list[dict], config: BenchConfig, floor_ms: float) -> dict:
    lat = [v for run in runs for v in run["latencies_ms"]]
    p50, p95 = (float(np.percentile(lat, q)) for q in (50, 95))
    return {
        "size": "640x480",
        "source_fps": config.live_fps,
        "frames": len(lat),
        "dropped": int(sum(run["dropped"] for run in runs)),
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "target_p95_ms": round(floor_ms + 1000.0 / 30.0, 3),
    }


def format_table(report: dict) -> str:
    """The report as a plain-text table (Markdown-compatible)."""
    m = report["machine"]
    cfg = report["config"]
    lines = [
        f"camvideo bench, {report['date']}: {m['cpu_count']} CPU cores, "
        f"{'GPU ' + m['cuda'] if m['cuda'] else 'no GPU'}, device {cfg['device']}, "
        f"{cfg['threads']} threads, model {cfg['model']}, top-{cfg['topk']}, "
        f"{cfg['frames']} frames x {cfg['rounds']} interleaved rounds",
        "",
        "| contestant | per frame (median) | p95 | fps | x floor | x floor (channels_last) | x camvideo's forward |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["results"].items():
        cl, own = r.get("ratio_channels_last_floor"), r.get("ratio_own_forward")
        lines.append(
            f"| {name} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['fps']:.1f} | {r['ratio']:.3f} | "
            f"{_fmt(cl, '{:.3f}')} | {_fmt(own, '{:.3f}')} |"
        )
    for key, runtime in (("end_to_end", ""), ("end_to_end_openvino", ", OpenVINO")):
        e2e = report.get(key)
        if not e2e:
            continue
        lines.append(
            f"| end to end {e2e['size']}{runtime} (decode -> ... -> H.264, batch {e2e['batch']}, "
            f"workers {e2e.get('workers', 1)}) | "
            f"{e2e['median_ms_per_frame']:.2f} ms | | {e2e['fps']:.1f} | fps {e2e['fps_vs_floor']:.3f}x | "
            f"{_fmt(e2e.get('fps_vs_floor_channels_last'), 'fps {:.3f}x')} | {_fmt(e2e.get('fps_vs_own_forward'), 'fps {:.3f}x')} |"
        )
    lines.append("")
    for key, runtime in (("live", ""), ("live_openvino", ", OpenVINO")):
        live = report.get(key)
        if not live:
            continue
        lines.append(
            f"live {live['size']}{runtime}, source {live['source_fps']:.0f} fps: capture-to-annotated latency "
            f"p50 {live['p50_ms']:.1f} ms, p95 {live['p95_ms']:.1f} ms "
            f"(target p95 <= floor + 33 ms = {live['target_p95_ms']:.1f} ms), {live['dropped']} frames dropped"
        )
    fastest = report.get("fastest_forward")
    if fastest:
        lines.append(f"fastest forward pass of the run: {fastest['name']}, {fastest['ms']:.2f} ms; "
                     + ", ".join(f"{n} {r['ratio_fastest_forward']:.3f}x" for n, r in report["results"].items()
                                 if "ratio_fastest_forward" in r))
    if report.get("openvino_missing"):
        lines.append(f"OpenVINO not measured: {report['openvino_missing']}")
    lines.append("")
    for size, stages in report["stages_ms"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
        lines.append(f"stages at {size} (ms): {parts}")
    soak = report.get("soak")
    if soak:
        lines.append(
            f"soak: {soak['frames']} frames, RSS {soak['rss_start_mb']} -> {soak['rss_end_mb']} MiB "
            f"(max {soak['rss_max_mb']}), growth {soak['growth_pct']:+.2f}%"
        )
    if report.get("peers_missing"):
        lines.append(f"peers not installed (pip install camvideo[bench]): {', '.join(report['peers_missing'])}")
    return "\n".join(lines)


def _fmt(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)


def _folded_norms(model) -> int:
    """How many batch norms camvideo folded into ``model`` (0: none, or a stock model)."""
    return getattr(getattr(model, "features", None), "folded_norms", 0)
