"""Frames in, FrameResults out: the inference stage every front end runs.

Two halves. ``forward(frames)`` is parallel-safe: preprocessing and the forward
passes, one ``Evidence`` per frame (``camvideo.cam.evidence``: probabilities and
features; where nothing is carried across frames, smoothing off, also the classes the
frame shows and their raw maps). ``finish(evidence, ...)`` is the in-order half, one
frame at a time against the state carried across frames (``StreamState``):

    motion -> TemporalState.step -> choose_classes -> evidence_maps
           -> MapScaler (heat maps) -> region_boxes -> BoxTracker.update
           -> MovingExtent.apply -> FrameResult

Settings are a frozen dataclass; assigning a new one to ``FrameLocalizer.settings``
takes effect on the next batch (each ``Evidence`` carries the settings of its pass).
With ``LocalizeSettings.smoothing`` set, and a method whose maps are linear in the
features, the state averages the evidence across frames (frames must then come in
order; call ``reset()`` on a seek); otherwise every frame stands alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from camvideo.cam.boxes import boxes_from_cam
from camvideo.cam.evidence import Chosen, Evidence, OwnMaps, check_request, choose_classes, evidence_maps
from camvideo.cam.extent import MovingExtent
from camvideo.cam.forward import Forward, TorchForward
from camvideo.cam.methods import CamMethod, cam_method
from camvideo.cam.motion import thumbnail
from camvideo.cam.multiscale import ScaledPasses
from camvideo.cam.regions import region_boxes
from camvideo.cam.smoothing import MapScaler, TemporalState
from camvideo.cam.tracking import BoxTracker
from camvideo.models import GapClassifier
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import BoxRule, LocalizeSettings, SmoothingSettings
from camvideo.timing import StageTimer

# FrameLocalizer(autocast=...): the forward pass's precision ("auto": fp16 on CUDA only).
AUTOCAST = {"auto": None, "fp16": torch.float16, "bf16": torch.bfloat16, None: None}


@dataclass(eq=False)
class StreamState:
    """Everything carried from one frame of a video to the next: the averaged
    evidence, the box tracks, the heat maps' running scale and the moving region."""

    evidence: TemporalState
    boxes: BoxTracker
    scale: MapScaler
    extent: MovingExtent = field(default_factory=MovingExtent)

    @classmethod
    def fresh(cls, settings: LocalizeSettings, smoothable: bool = True) -> StreamState:
        """A state with nothing carried yet (a new video; a paused frame that stands alone)."""
        smoothing = settings.smoothing if smoothable else None
        return cls(TemporalState(smoothing), BoxTracker(smoothing), MapScaler(settings.intensity))

    def reset(self) -> None:
        self.evidence.reset()
        self.boxes.reset()
        self.scale.reset()
        self.extent.reset()

    def step(self, evidence: Evidence) -> Evidence:
        """This frame's evidence carried over: the picture's motion measured, the
        averages stepped (``TemporalState.step``); a cut restarts the heat maps' scale
        here (the box tracks restart in ``BoxTracker.update``, told of the cut)."""
        evidence = self.evidence.step(evidence, self.evidence.motion(evidence))
        if evidence.cut:
            self.scale.reset()
        return evidence

    def follow(self, settings: LocalizeSettings, smoothable: bool) -> None:
        """Take (possibly new) settings: smoothing turned on starts afresh (what was kept
        while it was off is forgotten then), turned off carries nothing; a new intensity
        scale restarts the running maxima."""
        smoothing = settings.smoothing if smoothable else None
        if smoothing is not None and self.evidence.settings is None:
            self.evidence.reset()
            self.boxes.reset()
        self.evidence.settings = self.boxes.settings = smoothing
        if settings.intensity.scale != self.scale.settings.scale:
            self.scale.reset()
        self.scale.settings = settings.intensity


class FrameLocalizer:
    """Runs the model on batches of BGR frames; one FrameResult per frame.

    ``method`` (a ``camvideo.cam.methods.CamMethod``, chosen for the model) makes
    the evidence and the maps; ``state`` is what the in-order half carries."""

    def __init__(
        self,
        model: GapClassifier,
        settings: LocalizeSettings = LocalizeSettings(),
        *,
        channels_last: bool = True,
        fold: bool = True,
        autocast: str | None = "auto",
        compile: bool = False,
        forward: Forward | None = None,
    ) -> None:
        """``channels_last``, ``fold``, ``compile``: how the torch forward pass runs
        (``camvideo.cam.forward.TorchForward``: NHWC memory, batch norms folded,
        ``torch.compile``; folding and compiling are for exact-CAM models).
        ``autocast``: ``"auto"`` runs the forward pass in float16 on CUDA (never on
        the CPU, where it is slower), ``"fp16"`` / ``"bf16"`` force it, None never;
        class maps are always summed and normalized in float32. ``forward``: an
        exact-CAM model's forward pass from another runtime (a
        ``camvideo.cam.forward.Forward``) in place of torch's; the torch options
        (``channels_last``, ``fold``, ``compile``) are then that runtime's business."""
        if autocast not in AUTOCAST:
            raise ValueError(f"autocast must be one of {sorted(k for k in AUTOCAST if k)} or None, got {autocast!r}")
        self.model = model
        self.settings = settings
        self.channels_last = channels_last
        dtype = AUTOCAST[autocast]
        if autocast == "auto":
            dtype = torch.float16 if model.device.type == "cuda" else None
        self.autocast_dtype = dtype
        self._torch_options = {"channels_last": channels_last, "fold": fold, "compile": compile}
        self.method: CamMethod = cam_method(model, forward=forward, autocast=dtype, **self._torch_options)
        self._passes = ScaledPasses(self.method)
        self.state = StreamState.fresh(settings, self.method.smoothable)

    @property
    def runtime(self) -> str:
        """What runs the forward pass: "torch", "openvino", ... (Grad-CAM: "torch")."""
        return self.method.forward.name if self.method.forward is not None else "torch"

    def use_forward(self, forward: Forward | None) -> None:
        """Run the next batches' forward passes on ``forward`` (None: torch's, with
        this localizer's options): the switch a window makes when a conversion
        it started at launch is done, with no gap in the stream. Exact CAM only."""
        if self.method.forward is None:
            raise ValueError(f"forward: {type(self.method).__name__} runs on torch only")
        # One attribute assignment. A batch in flight may be prepared by the old forward
        # and run by the new one: each takes the other's input layout (NCHW or NHWC).
        self.method.forward = forward if forward is not None else TorchForward(self.model, **self._torch_options)

    def reset(self) -> None:
        """Forget the state carried across frames (call it on a seek or a new video)."""
        self.state.reset()

    def fresh_state(self, settings: LocalizeSettings | None = None) -> StreamState:
        """A state with nothing carried: ``finish(evidence, state=localizer.fresh_state())``
        localizes a frame on its own (a paused frame), leaving ``state`` alone."""
        return StreamState.fresh(settings or self.settings, self.method.smoothable)

    def __call__(self, frames: Sequence[np.ndarray], indices: Sequence[int] | None = None,
                 times: Sequence[float] | None = None) -> list[FrameResult]:
        """One FrameResult per frame: ``finish(forward(frames), indices, times)``."""
        if not frames:
            return []
        return self.finish(self.forward(frames), indices, times)

    def forward(self, frames: Sequence[np.ndarray]) -> list[Evidence]:
        """The parallel-safe half: each frame's ``Evidence`` (preprocessing and the
        forward passes; without smoothing also its chosen classes and their maps,
        ``_own_maps``). It reads the settings once and no state across frames, so
        several threads may run it at once on different batches (the files pipeline
        does, for a ``parallel`` method); the evidence then goes through ``finish``
        in frame order."""
        if not frames:
            raise ValueError("frames must hold at least one frame")
        settings = self.settings
        check_request(settings, self.model.num_classes)
        timer = StageTimer(sync=self.model.device)  # on a GPU "forward" waits for the kernels, not just their launch
        thumbs = [None] * len(frames)
        if settings.smoothing is not None and settings.smoothing.motion and self.method.smoothable:
            with timer("preprocess"):  # the pictures the camera's motion is measured on (finish)
                thumbs = [thumbnail(f) for f in frames]
        found = self._passes.evidence(frames, settings, timer)
        if settings.smoothing is None or not self.method.smoothable:  # nothing carried: the frame's own maps
            with timer("forward"), self.method.autocast_context(), torch.inference_mode():
                found = [self._own_maps(ev, settings) for ev in found]
        timings = timer.per_frame(len(frames))
        return [ev.but(size=(f.shape[1], f.shape[0]), thumb=thumb, settings=settings, timings=timings)
                for ev, f, thumb in zip(found, frames, thumbs)]

    def _own_maps(self, evidence: Evidence, settings: LocalizeSettings) -> Evidence:
        """``evidence`` with the classes it shows and their raw maps (``Evidence.own``),
        for a frame whose in-order half carries nothing from the frames before it: made
        here, on the thread that ran its batch, the same as ``finish`` would make them."""
        chosen = choose_classes(evidence.probs, settings)
        return evidence.but(own=OwnMaps(settings, chosen, evidence_maps(self.method, evidence, chosen.class_ids)))

    def finish(self, evidence: Sequence[Evidence], indices: Sequence[int] | None = None,
               times: Sequence[float] | None = None, state: StreamState | None = None) -> list[FrameResult]:
        """The in-order half: each frame's evidence, in frame order, against ``state``
        (default: this localizer's) -> its FrameResult. ``indices`` and ``times``:
        the frames' own numbers and times (default 0, 1, ... and 0.0)."""
        count = len(evidence)
        indices = list(indices) if indices is not None else list(range(count))
        times = list(times) if times is not None else [0.0] * count
        if len(indices) != count or len(times) != count:
            raise ValueError(f"indices and times must have one entry per frame ({count}), got {len(indices)} and {len(times)}")
        state = self.state if state is None else state
        timer = StageTimer()  # the batch's: each frame's result gets an equal share
        # The contexts once a batch, not once a frame (inference mode only where it is not on already).
        inference = contextlib.nullcontext() if torch.is_inference_mode_enabled() else torch.inference_mode()
        with self.method.autocast_context(), inference:
            found = [self._finish(ev, state, timer) for ev in evidence]
        return [FrameResult(frame=int(index), time=float(time), width=ev.size[0], height=ev.size[1],
                            detections=detections, maps=maps, timings=timer.per_frame(count, base=ev.timings),
                            method=self.method.name)
                for (ev, maps, detections), index, time in zip(found, indices, times)]

    def _finish(self, evidence: Evidence, state: StreamState,
                timer: StageTimer) -> tuple[Evidence, ClassMaps, tuple[Detection, ...]]:
        """One frame's evidence carried over by ``state``, its heat maps and detections (in
        inference mode and the method's autocast: ``finish``'s)."""
        state.follow(evidence.settings, self.method.smoothable)
        with timer("forward"):
            stepped = state.step(evidence)
            own = evidence.own
            if stepped is evidence and own is not None and own.valid_for(evidence.settings):  # made in forward()
                chosen, raw = own.chosen, own.maps
            else:
                chosen = choose_classes(stepped.probs, stepped.settings, stepped.leader)
                raw = evidence_maps(self.method, stepped, chosen.class_ids)
            evidence = stepped
        with timer("boxes"):
            maps, detections = self._localize(evidence, chosen, raw, state)
        return evidence, maps, detections

    def _localize(self, evidence: Evidence, chosen: Chosen, raw: np.ndarray,
                  state: StreamState) -> tuple[ClassMaps, tuple[Detection, ...]]:
        """Heat maps, gates and boxes of the chosen classes (smoothed by the tracker)."""
        settings = evidence.settings
        width, height = evidence.size
        gate = settings.intensity
        confident = [score >= gate.gate for score in chosen.scores]
        maps = [state.scale(c, cam) for c, cam in zip(chosen.class_ids, raw)]  # each a new array
        heat = (maps[0][None] if len(maps) == 1 else np.stack(maps)).astype(np.float32, copy=False)
        rule = _video_rule(settings.box_rule, state.evidence.settings)
        scaled = state.scale.settings.scale == "minmax"  # the heat maps are the raw maps normalized: not again
        regions = {c: region_boxes(map_ if scaled else cam, width, height, rule, normalized=scaled)  # the paper's first
                   for c, cam, map_, sure in zip(chosen.class_ids, raw, heat, confident) if sure}
        found = {c: r[:1] if rule.components == "largest" else boxes_from_cam(raw[chosen.class_ids.index(c)], width,
                                                                              height, rule)
                 for c, r in regions.items()}
        boxes = state.boxes.update(found, evidence.size, evidence.motion, evidence.cut)
        smoothing = settings.smoothing
        if smoothing is not None and smoothing.extent:  # the box fitted to what moves, where the map agrees
            boxes = state.extent.apply(boxes, evidence.size, evidence.thumb, evidence.motion, evidence.cut)
        detections = []
        for rank, (class_id, score) in enumerate(zip(chosen.class_ids, chosen.scores), start=1):
            for box in boxes.get(class_id) or [None]:
                assert box is None or (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height), \
                    f"box {box} is not inside its {width}x{height} frame"
                listed = (box, *regions[class_id][1:]) if box is not None and len(found[class_id]) == 1 else ()
                detections.append(Detection(rank, class_id, self.model.labels[class_id], score, box, listed))
        opacity = tuple(1.0 if sure else gate.faint for sure in confident)
        return ClassMaps(chosen.class_ids, heat, opacity), tuple(detections)


def _video_rule(rule: BoxRule, smoothing: SmoothingSettings | None) -> BoxRule:
    """The box rule of a frame stepped with ``smoothing`` (None: a frame on its own): a
    smoothed video's boxes are found on the map at ``smoothing.box_side`` pixels on its
    long side (the tracks average them over frames), a frame on its own's at ``rule``'s.
    Made anew each frame (a few microseconds: not worth a cache)."""
    if smoothing is None or smoothing.box_side >= rule.max_side:
        return rule
    return dataclasses.replace(rule, max_side=smoothing.box_side)
