"""``camvideo bench`` on OpenVINO: the contestants that run the forward pass there.

- ``floor (OpenVINO)``: OpenVINO's forward pass alone (image -> the maps and the
  logits: the head is in the graph, ``ovbuild.with_head``), on the same
  preprocessed 224x224 batches as the torch floor, at the run's precision;
- ``forward for 640x480 (OpenVINO)``: the same at the input size the stage feeds a
  640x480 frame (224x288 under the default preset): the stage's own forward pass
  alone, the denominator of ``stage_x_forward_alone``;
- ``camvideo WxH (OpenVINO)``: the inference stage with ``--runtime openvino``
  (latency mode, as a live source or an image runs it), OpenVINO at the bench's
  thread count as torch's contestants and torch's small ops at a live worker's
  (``live_threads``), on the same preset (the default: the frame's
  aspect kept, so one compiled model per input size);
- end to end on OpenVINO's throughput mode (files) and live latency on its
  latency mode, beside torch's;
- ``run_streams``: the 640x480 stage as a file run uses it (throughput mode, the
  forward half on the pool, the in-order half and overlay on the writer, frames in
  memory) and its forward pass alone on the same pool, as streams, once a round.

Every ratio is taken against floors measured in the same run: the torch floor
and the fastest forward pass of the run (``fastest_forward``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from camvideo.tools.benchmark.contestants import Contestant, camvideo_contestant

log = logging.getLogger(__name__)

OV_FLOOR = "floor (OpenVINO)"


@dataclass
class OpenVINOBench:
    """The OpenVINO side of a bench run: its contestants and two localizers."""

    contestants: list[Contestant]
    latency: object  # FrameLocalizer on OpenVINO's latency mode, the bench's threads (the stage)
    throughput: object  # FrameLocalizer on OpenVINO's throughput mode (end to end)
    live: object  # latency mode as a live source runs it (``live_openvino_threads``: every core)
    single: object  # latency mode at one thread: the forward pass of the limit table (``limit``)
    e2e_runs: list[dict] = field(default_factory=list)
    live_runs: list[dict] = field(default_factory=list)
    stream_inputs: list = field(default_factory=list)  # the stage's input size, preprocessed (forward alone)
    stream_runs: list[dict] = field(default_factory=list)  # one a round: ``run_streams``
    limit_runs: list[dict] = field(default_factory=list)  # one a round: the limit beside that round's end to end


def _sized(model, size: tuple[int, int] | None):
    """``model``'s preprocessing at ``size`` (height, width; None: its own)."""
    from camvideo.cam.preprocess import at_size

    return model if size is None else at_size(model, size)


def prepared(model, forward, frames: list[np.ndarray], size: tuple[int, int] | None = None, per_call: int = 1) -> list:
    """``frames`` preprocessed to ``size`` (see ``_sized``) in batches of ``per_call``
    (the frames in turn, as many batches as frames), as ``forward`` takes them: the
    input of the forward pass alone."""
    from camvideo.cam.preprocess import preprocess

    sized = _sized(model, size)
    return [forward.prepare(preprocess([frames[(i + j) % len(frames)] for j in range(per_call)], sized))
            for i in range(len(frames))]


def openvino_floor_contestant(model, forward, frames: list[np.ndarray], size: tuple[int, int] | None = None,
                              name: str = OV_FLOOR) -> Contestant:
    """OpenVINO's forward pass alone, image -> what exact CAM needs (the maps and the
    logits, one inference: the head is in the graph; the model's head in torch where
    it is not), on frames preprocessed beforehand to ``size`` (height, width; default:
    the model's own input), at ``forward``'s precision."""
    xs = prepared(model, forward, frames, size)

    def run(i: int):
        with torch.inference_mode():
            feats, logits = forward.features_and_logits(xs[i % len(xs)])
            return feats, model.classify(feats) if logits is None else logits

    height, width = _sized(model, size).preprocessing.size
    return Contestant(name, run, (width, height),
                      f"OpenVINO forward pass alone (image -> maps and logits), preprocessed {width}x{height} "
                      f"input, {forward.device}, {forward.precision}")


def _at_live_threads(contestant: Contestant, model) -> Contestant:
    """The OpenVINO stage with torch's small ops (maps, boxes) at the threads a live
    source's worker gives them on OpenVINO (``live_threads``: 1 on a CPU), as the
    product runs it; OpenVINO's inference keeps the bench's threads."""
    from camvideo.runtime.workers import live_threads, torch_threads

    run = contestant.run

    def at_live_threads(i: int):
        with torch_threads(live_threads(model, "openvino"), torch.get_num_threads()):
            return run(i)

    contestant.run = at_live_threads
    return contestant


def stage_floor_name(width: int, height: int) -> str:
    """The contestant of OpenVINO's forward pass alone at the input size the stage
    feeds a ``width`` x ``height`` frame (the denominator of ``stage_x_forward_alone``)."""
    return f"forward for {width}x{height} (OpenVINO)"


def openvino_setup(config, frames: dict, annotator, settings, say) -> tuple[OpenVINOBench | None, str | None]:
    """The OpenVINO contestants, or (None, why not): OpenVINO missing, a Grad-CAM
    model, a GPU device, or a model that will not convert."""
    from camvideo.cam.multiscale import input_sizes
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward, available
    from camvideo.runtime.runtimes import choose_runtime
    from camvideo.runtime.workers import auto_batch, live_openvino_threads

    if not available():
        return None, "OpenVINO is not installed"
    model = load_model(config.model, device=config.device).eval()
    try:
        if choose_runtime(model, "openvino") != "openvino":
            return None, "OpenVINO does not run this model"
        # Every input size the preset feeds for the bench's frame sizes, and the model's own (the floor).
        base_size = tuple(model.preprocessing.size)
        sizes = list(dict.fromkeys([base_size] + [s for (w, h) in frames
                                                   for s in input_sizes(w, h, base_size, settings.maps)]))
        say(f"OpenVINO: converting (cached after the first run) and compiling {len(sizes)} input sizes")
        precision = config.precision
        latency = OpenVINOForward(model, mode="latency", threads=config.threads, sizes=sizes,  # torch's threads
                                  precision=precision)
        throughput = OpenVINOForward(model, mode="throughput", sizes=sizes, precision=precision)
        live = OpenVINOForward(model, mode="latency", threads=live_openvino_threads(), sizes=sizes,
                               precision=precision)
        single = latency if config.threads == 1 else OpenVINOForward(model, mode="latency", threads=1, sizes=sizes,
                                                                     precision=precision)
    except Exception as exc:  # noqa: BLE001 - the bench goes on with torch alone
        from camvideo.errors import reason

        return None, reason(exc)
    base = frames[next(iter(frames))]
    on_latency = FrameLocalizer(model, settings, forward=latency)
    contestants = [openvino_floor_contestant(model, latency, base)]
    # The stage's own forward pass alone: the first frame size's input size, at the stage's precision.
    width, height = next(iter(frames))
    stage_sizes = input_sizes(width, height, base_size, settings.maps)
    if len(stage_sizes) == 1 and tuple(stage_sizes[0]) != base_size:  # one pass, not at the floor's size
        contestants.append(openvino_floor_contestant(model, latency, base, stage_sizes[0],
                                                     stage_floor_name(width, height)))
    contestants += [_at_live_threads(camvideo_contestant(on_latency, annotator, f, " (OpenVINO)"), model)
                    for f in frames.values()]
    return OpenVINOBench(contestants, on_latency, FrameLocalizer(model, settings, forward=throughput),
                         FrameLocalizer(model, settings, forward=live),
                         FrameLocalizer(model, settings, forward=single),
                         stream_inputs=prepared(model, throughput, base, stage_sizes[0],
                                                auto_batch(throughput, live=False))), None


def run_streams(ov: OpenVINOBench, annotator, frames: list[np.ndarray], count: int, workers: int | None,
                first: str = "stage", video: list[np.ndarray] | None = None) -> dict:
    """One round of the stream pair, in the order ``first`` says (the rounds alternate
    it): the 640x480 stage as a file run uses it (``runs.run_stream``, OpenVINO's
    throughput mode) and its forward pass alone at the stage's input size on the same
    compiled model, streams and pool (``runs.run_forward_stream``); with ``video`` (a
    video's frames: pans and cuts, as the end-to-end clip), the stage over them too
    (``stage_video``, last when the stage goes first, else first)."""
    from camvideo.runtime.workers import auto_batch, auto_workers
    from camvideo.tools.benchmark.runs import run_forward_stream, run_stream

    localizer = ov.throughput
    forward = localizer.method.forward
    pool = workers or auto_workers(localizer.model, forward)
    batch = auto_batch(forward, live=False)  # the file run's frames a pass; stream_inputs are batches of it
    jobs = {"stage": lambda: run_stream(localizer, annotator, frames, count, workers),
            "forward": lambda: run_forward_stream(forward.features_and_logits, ov.stream_inputs,
                                                  max(1, count // batch), pool, per_call=batch)}
    if video:
        jobs["stage_video"] = lambda: run_stream(localizer, annotator, video, count, workers)
    order = [first] + [k for k in jobs if k != first]
    if video and first != "stage":
        order = ["stage_video"] + [k for k in order if k != "stage_video"]
    out = {key: jobs[key]() for key in order}
    return {**out, "workers": pool, "batch": batch, "streams": int(forward.jobs), "precision": forward.precision}

