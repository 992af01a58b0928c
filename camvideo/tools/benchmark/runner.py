"""``run_bench``: the contestants, in rounds that visit them in a rotating order.

Every contestant runs in one process, on the same frames, with the same thread
count; a round takes frame by frame, every contestant in turn, starting with a
different one each time, so drift on a busy machine hits them all alike. The
end-to-end and live runs (``runs``) come once a round.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from camvideo.tools.benchmark.contestants import (
    FLOOR_CL,
    OWN_FORWARD,
    Contestant,
    camvideo_contestant,
    floor_contestant,
    folded_norms,
    gradcam_contestant,
    torchcam_contestant,
)
from camvideo.tools.benchmark.frames import SIZES, load_photos, make_frames, video_frames, write_clip
from camvideo.tools.benchmark.openvino import OpenVINOBench, openvino_setup, run_streams
from camvideo.tools.benchmark.report import build_report, stream_summary
from camvideo.tools.benchmark.runs import run_end_to_end, run_live, run_soak

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchConfig:
    frames: int = 24  # distinct frames per contestant and round
    rounds: int = 5  # interleaved rounds
    threads: int = 2
    device: str = "cpu"
    model: str = "lite0"
    topk: int = 3
    batch: int | None = None  # frames a forward pass end to end (None: the file run's own, workers.auto_batch)
    workers: int | None = None  # forward threads of the end-to-end pipeline (None: auto)
    e2e_frames: int = 240  # frames of the end-to-end clip (coherent motion, see video_frames)
    peers: bool = True
    end_to_end: bool = True
    live: bool = True
    live_fps: float = 60.0  # the live source's rate, faster than inference
    soak: int = 0  # frames through the inference stage for the memory soak (0: off)
    compile: bool = False  # also measure the inference stage with torch.compile
    openvino: bool = True  # also measure the forward pass, the stage, end to end and live on OpenVINO
    presets: bool = True  # also measure the inference stage of the other quality presets
    precision: str = "auto"  # OpenVINO's arithmetic for its contestants (camvideo.settings.PRECISIONS)
    smooth: bool = True  # camvideo's contestants smooth across frames, as `camvideo process` on a video

    def __post_init__(self) -> None:
        for name in ("frames", "rounds", "threads", "topk", "batch", "e2e_frames"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        from camvideo.runtime.workers import check_workers

        check_workers(self.workers)
        if self.soak < 0:
            raise ValueError(f"soak must be 0 (off) or a number of frames, got {self.soak}")
        if self.live_fps <= 0:
            raise ValueError(f"live_fps must be positive, got {self.live_fps}")
        from camvideo.settings import PRECISIONS

        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


QUICK = dict(frames=2, rounds=1, live_fps=60.0, e2e_frames=2)


@dataclass
class _Lineup:
    """What the rounds run: the contestants, and the stage the pipeline runs use."""

    contestants: list[Contestant]
    localizer: object
    annotator: object
    model: object  # camvideo's own copy (batch norms folded in place)
    base: list  # the 640x480 frames
    photos: list
    peers_missing: list[str]
    openvino: OpenVINOBench | None = None  # the OpenVINO side (None: not measured)
    openvino_missing: str | None = None  # why not


def run_bench(config: BenchConfig = BenchConfig(), progress: Callable[[str], None] | None = None) -> dict:
    """One interleaved run; returns the report (see ``format_table``)."""
    say = progress or (lambda msg: log.info("%s", msg))
    torch.set_num_threads(config.threads)
    lineup = _lineup(config, say)
    times, e2e_runs, live_runs = _rounds(config, lineup, say)
    ov = lineup.openvino
    report = build_report(config, lineup.contestants, times, e2e_runs, live_runs, folded_norms(lineup.model),
                          lineup.peers_missing, ov.e2e_runs if ov else [], ov.live_runs if ov else [],
                          lineup.openvino_missing)
    if ov is not None and ov.stream_runs:
        report["stream_openvino"] = stream_summary(ov.stream_runs, report)
    if config.end_to_end:
        say("the limit: decode, forward and encode alone, one thread each")
        report["limit"] = _limit(config, lineup, report)
    if config.soak:
        say(f"soak: {config.soak} frames")
        report["soak"] = run_soak(lineup.localizer, lineup.annotator, lineup.base, config.soak)
    return report


def _lineup(config: BenchConfig, say: Callable[[str], None]) -> _Lineup:
    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.presets import DEFAULT_QUALITY, QUALITY_PRESETS, quality_settings
    from camvideo.runtime.loading import check_classes
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import LocalizeSettings, ModelOptions, SmoothingSettings

    # The stock network as loaded (the floor), the stock network in
    # channels_last (the floor in its fastest eager layout), and camvideo's own
    # copy, which FrameLocalizer changes in place (batch norms folded,
    # channels_last): its forward pass alone is the strict baseline.
    plain = load_model(config.model, device=config.device).eval()
    check_classes(plain, ModelOptions(model=config.model, topk=config.topk))  # --topk beyond its classes: one line
    model = load_model(config.model, device=config.device).eval()
    settings = LocalizeSettings(topk=config.topk, smoothing=SmoothingSettings() if config.smooth else None)
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
    # The other quality presets at the first size ("camvideo WxH" is the default preset).
    for name in QUALITY_PRESETS if config.presets else ():
        if name != DEFAULT_QUALITY:
            other = FrameLocalizer(model, quality_settings(name, settings))
            contestants.append(camvideo_contestant(other, annotator, base, f" [{name}]"))
    if config.compile:
        say("compiling (torch.compile, first call)")
        compiled, floor = _compiled_contestants(config, settings, annotator, base)
        contestants.append(compiled)
        contestants.insert(2, floor)
    peers, peers_missing = _peer_contestants(config, base) if config.peers else ([], [])
    contestants += peers
    ov, ov_missing = None, None
    if config.openvino:
        ov, ov_missing = openvino_setup(config, frames, annotator, settings, say)
        contestants += ov.contestants if ov is not None else []
    return _Lineup(contestants, localizer, annotator, model, base, photos, peers_missing, ov, ov_missing)


def _compiled_contestants(config: BenchConfig, settings, annotator, base) -> tuple[Contestant, Contestant]:
    """camvideo with torch.compile, and the stricter baseline for it: the compiled forward
    pass alone (channels_last)."""
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer

    compiled = FrameLocalizer(load_model(config.model, device=config.device).eval(), settings, compile=True)
    compiled([base[0]])
    floor_model = load_model(config.model, device=config.device).eval().to(memory_format=torch.channels_last)
    floor_model.features.compile()
    return (camvideo_contestant(compiled, annotator, base, " compiled"),
            floor_contestant(floor_model, base, "floor (compiled)", channels_last=True))


def _peer_contestants(config: BenchConfig, base) -> tuple[list[Contestant], list[str]]:
    """The peers (torchcam, pytorch-grad-cam) that are installed, and the names of those
    that are not."""
    from camvideo.models import load_model

    contestants, missing = [], []
    for make in (torchcam_contestant, gradcam_contestant):
        # A model of their own: the hooks they leave would run in the floor's forward passes.
        c = make(load_model(config.model, device=config.device).eval(), base)
        if c is None:
            missing.append(make.__name__.replace("_contestant", ""))
        else:
            contestants.append(c)
    return contestants, missing


def _limit(config: BenchConfig, lineup: _Lineup, report: dict) -> dict:
    """Per runtime: the unavoidable parts' CPU ms a frame, the limit they set on this
    machine's cores, and the end-to-end run of the rounds as a fraction of it."""
    from camvideo.tools.benchmark.limit import measure_limit

    on = {"end_to_end": lineup.localizer}
    if lineup.openvino is not None:
        on["end_to_end_openvino"] = lineup.openvino.single
    rows = {}
    with tempfile.TemporaryDirectory(prefix="camvideo-limit-") as tmp:
        frames = video_frames(*SIZES[0], config.e2e_frames, lineup.photos)
        clip = write_clip(Path(tmp) / "limit_in.mp4", frames)
        for key, localizer in on.items():
            e2e = report.get(key)
            row = measure_limit(clip, frames, localizer, Path(tmp), batch=(e2e or {}).get("batch") or 1)
            # The limit is a rate frame to frame: the run's steady rate compares with it (the
            # whole run's, start-up and teardown in, beside it; a clip too short has only that).
            fps = e2e.get("steady_fps", e2e["fps"]) if e2e else None
            row["end_to_end_fps"] = fps
            row["whole_run_fps"], row["fixed_ms"] = (e2e["fps"], e2e.get("fixed_ms")) if e2e else (None, None)
            row["fraction"] = round(fps / row["limit_fps"], 3) if fps and row["limit_fps"] else None
            if key == "end_to_end_openvino" and lineup.openvino.limit_runs:
                row.update(_paired(lineup.openvino.limit_runs))
            rows[row["runtime"]] = row
    return rows


def _paired(runs: list[dict]) -> dict:
    """The limit measured each round beside its end-to-end run: each round's fraction
    (its run's steady fps over its own limit), their median, and the parts' medians."""
    fractions = [r["end_to_end_fps"] / r["limit_fps"] for r in runs if r["limit_fps"]]
    parts = {k: round(float(np.median([r["parts_ms"][k] for r in runs])), 3) for k in runs[0]["parts_ms"]}
    return {"round_fractions": [round(f, 3) for f in fractions], "round_parts_ms": parts,
            "paired_fraction": round(float(np.median(fractions)), 3) if fractions else None}


def _round_limit(clip: Path, frames: list, ov: OpenVINOBench, tmp: Path) -> dict:
    """OpenVINO's limit (``measure_limit``, the forward half timed over one pass of the
    clip) measured right after a round's end-to-end run, and that run's steady fps."""
    from camvideo.tools.benchmark.limit import measure_limit

    e2e = ov.e2e_runs[-1]
    row = measure_limit(clip, frames, ov.single, tmp, batch=e2e.get("batch") or 1, rounds=1)
    steady = e2e.get("steady_ms_per_frame") or e2e["ms_per_frame"]
    return {**row, "end_to_end_fps": 1000.0 / steady}


def _rounds(config: BenchConfig, lineup: _Lineup, say: Callable[[str], None]):
    """Per-frame milliseconds of each contestant over all rounds, and the
    end-to-end and live runs (one of each a round)."""
    contestants, localizer, annotator, ov = lineup.contestants, lineup.localizer, lineup.annotator, lineup.openvino
    times: dict[str, list[float]] = {c.name: [] for c in contestants}
    e2e_runs: list[dict] = []
    live_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="camvideo-bench-") as tmp:
        tmp_path = Path(tmp)
        clip, video = None, None  # a video's pans and cuts: the end-to-end clip and a stream of the OpenVINO stage
        if config.end_to_end or ov is not None:
            video = video_frames(*SIZES[0], config.e2e_frames, lineup.photos)
        if config.end_to_end:
            clip = write_clip(tmp_path / "bench_in.mp4", video)
        say(f"warm-up ({len(contestants)} contestants)")
        for c in contestants:
            for i in range(2):
                c.run(i)
        for c in contestants:
            getattr(c, "stages", {}).clear()
        # Each runtime's pipelines: torch's, and OpenVINO's (throughput mode for the file, latency mode live).
        e2e = [(localizer, e2e_runs)] + ([(ov.throughput, ov.e2e_runs)] if ov is not None else [])
        live = [(localizer, live_runs)] + ([(ov.live, ov.live_runs)] if ov is not None else [])
        for on, _ in e2e if clip is not None else []:
            run_end_to_end(on, annotator, clip, tmp_path, config.batch, config.workers)
        if ov is not None:
            run_streams(ov, annotator, lineup.base, min(config.e2e_frames, 8), config.workers)
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
            if ov is not None and clip is not None:  # OpenVINO's limit beside the round's end to end: a pair
                ov.limit_runs.append(_round_limit(clip, video, ov, tmp_path))
            for on, runs in live if config.live else []:
                runs.append(run_live(on, annotator, lineup.base, config.frames, config.live_fps))
            if ov is not None:  # the 640x480 stage as a file run uses it, and its forward pass, as streams
                ov.stream_runs.append(run_streams(ov, annotator, lineup.base, config.e2e_frames, config.workers,
                                                  ("stage", "forward")[r % 2], video))
        for c in contestants:
            close = getattr(c, "close", None)
            if close is not None:
                close()
    return times, e2e_runs, live_runs
