"""Frames in, FrameResults out: preprocessing, one forward pass with CAMs, boxes.

This is the inference stage that the command line, the video pipeline and the
window all run. Settings are a frozen dataclass; assigning a new one to
``FrameLocalizer.settings`` takes effect on the next batch.

With ``LocalizeSettings.smoothing`` set, the localizer keeps state across calls
(frames must come in order; call ``reset()`` on a seek): features and probabilities
are smoothed before the maps and boxes are made, so boxes come from smoothed maps
(see ``camvideo.cam.smoothing``). Without it every frame stands alone (images).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camvideo.cam.boxes import boxes_from_cam
from camvideo.cam.forward import Forward, TorchForward
from camvideo.cam.methods import CamMethod, CamOutput, ExactCam, cam_method
from camvideo.cam.motion import Motion, follow, thumbnail
from camvideo.cam.multiscale import ScaledEvidence, ScaledPasses, combined_maps
from camvideo.cam.preprocess import preprocess
from camvideo.cam.smoothing import MapScaler, TemporalSmoother
from camvideo.models import GapClassifier
from camvideo.results import Detection, FrameResult
from camvideo.settings import LocalizeSettings
from camvideo.timing import StageTimer

# FrameLocalizer(autocast=...): the forward pass's precision ("auto": fp16 on CUDA only).
AUTOCAST = {"auto": None, "fp16": torch.float16, "bf16": torch.bfloat16, None: None}


class FrameLocalizer:
    """Runs the model on a batch of BGR frames and returns one FrameResult per frame.

    ``method`` (a ``camvideo.cam.methods.CamMethod``, chosen for the model) makes
    the maps; what it can do (smoothing, parallel forward passes) is asked of it."""

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
        self._smoother: TemporalSmoother | None = None
        self._scaler = MapScaler(settings.intensity)
        self.channels_last = channels_last
        dtype = AUTOCAST[autocast]
        if autocast == "auto":
            dtype = torch.float16 if model.device.type == "cuda" else None
        self.autocast_dtype = dtype
        self._torch_options = {"channels_last": channels_last, "fold": fold, "compile": compile}
        self.method: CamMethod = cam_method(model, forward=forward, autocast=dtype, **self._torch_options)
        # LocalizeSettings.maps other than plain CAM (exact CAM only): other input sizes,
        # through the method's forward (so use_forward below switches them too).
        self._passes = ScaledPasses(self.method) if isinstance(self.method, ExactCam) else None
        self._first_ema: torch.Tensor | None = None  # combined maps: the class pass's smoothed features

    @property
    def runtime(self) -> str:
        """What runs the forward pass: "torch", "openvino", ... (Grad-CAM: "torch")."""
        forward = getattr(self.method, "forward", None)
        return forward.name if forward is not None else "torch"

    def use_forward(self, forward: Forward | None) -> None:
        """Run the next batches' forward passes on ``forward`` (None: torch's, with
        this localizer's options): the switch a window makes when a conversion
        it started at launch is done, with no gap in the stream. Exact CAM only."""
        if not isinstance(self.method, ExactCam):
            raise ValueError(f"forward: {type(self.method).__name__} runs on torch only")
        # One attribute assignment. A batch in flight may be prepared by the old forward
        # and run by the new one: each takes the other's input layout (NCHW or NHWC).
        self.method.forward = forward if forward is not None else TorchForward(self.model, **self._torch_options)

    def reset(self) -> None:
        """Forget the state carried across frames (call it on a seek or a new video)."""
        if self._smoother is not None:
            self._smoother.reset()
        self._scaler.reset()

    def _smoothing(self, settings: LocalizeSettings) -> bool:
        # Feature averaging gives smoothed CAMs because a CAM is linear in the
        # features; a method whose maps are not (Grad-CAM) runs unsmoothed.
        return settings.smoothing is not None and self.method.smoothable

    def _sync_state(self, settings: LocalizeSettings) -> TemporalSmoother | None:
        """Bring the smoother and the scaler in line with (possibly new) settings."""
        if not self._smoothing(settings):
            self._smoother = None
        elif self._smoother is None:
            self._smoother = TemporalSmoother(settings.smoothing)
        else:
            self._smoother.settings = settings.smoothing
        if settings.intensity.scale != self._scaler.settings.scale:
            self._scaler.reset()
        self._scaler.settings = settings.intensity
        return self._smoother

    def __call__(
        self,
        frames: Sequence[np.ndarray],
        indices: Sequence[int] | None = None,
        times: Sequence[float] | None = None,
    ) -> list[FrameResult]:
        """One FrameResult per frame: ``finish(forward(frames), indices, times)``."""
        if not frames:
            return []
        return self.finish(self.forward(frames), indices, times)

    def forward(self, frames: Sequence[np.ndarray]) -> RawBatch:
        """The parallel-safe half: preprocessing and the forward pass of a batch.

        It reads the settings once and no state across frames, so several threads
        may run it at once on different batches (the files pipeline does, for a
        ``parallel`` method); the batches then go through ``finish`` one at a
        time, in frame order. Unsmoothed, the class maps are made here too; with
        smoothing, the method's ``evidence`` (features, probabilities) is kept
        for ``finish`` to smooth and choose from."""
        if not frames:
            raise ValueError("frames must hold at least one frame")
        settings = self.settings
        method = self.method
        smoothed = self._smoothing(settings)
        if smoothed:
            _check_classes(settings, self.model.num_classes)
        timer = StageTimer()
        sizes = tuple(f.shape[:2] for f in frames)
        thumbs = None
        if smoothed and settings.smoothing.motion:
            with timer("preprocess"):  # the pictures the camera's motion is measured on (finish)
                thumbs = tuple(thumbnail(f) for f in frames)
        if self._passes is not None and not settings.maps.plain:
            # Other input sizes: each pass preprocesses its own input.
            with method.autocast_context(), torch.inference_mode():
                cams = self._passes(frames, settings, smoothed, timer)
            return RawBatch(settings, sizes, method, cams, timer.per_frame(len(frames)), thumbs)
        with timer("preprocess"):
            x = method.prepare(preprocess(frames, self.model))
        with timer("forward"):
            if smoothed:
                cams = method.evidence(x)
            else:
                # On a GPU the maps come to the host here, in the parallel half, as before.
                cams = method(x, topk=settings.topk, class_ids=settings.class_ids).host()
        return RawBatch(settings, sizes, method, cams, timer.per_frame(len(frames)), thumbs)

    def finish(
        self,
        raw: RawBatch,
        indices: Sequence[int] | None = None,
        times: Sequence[float] | None = None,
    ) -> list[FrameResult]:
        """The in-order half: temporal smoothing, class maps from the smoothed
        features, map scaling and boxes. Batches must come in frame order (the
        state carried across frames lives here)."""
        count = len(raw.sizes)
        indices = list(indices) if indices is not None else list(range(count))
        times = list(times) if times is not None else [0.0] * count
        if len(indices) != count or len(times) != count:
            raise ValueError(f"indices and times must have one entry per frame ({count}), got {len(indices)} and {len(times)}")
        settings = raw.settings
        smoother = self._sync_state(settings)  # None unless smoothing: the rule forward used
        timer = StageTimer()
        # The smoothed maps count with the forward pass, as they did before the split.
        cuts = [False] * count
        motions = [None] * count
        with timer("forward"):
            if smoother is not None:
                if raw.thumbs is not None and settings.smoothing.motion:
                    motions = [smoother.camera_motion(t) for t in raw.thumbs]
                else:
                    smoother.forget_motion()  # the motion off for these frames: none spans them later
                with raw.method.autocast_context():
                    per_frame, cuts = self._smoothed(raw.cams, smoother, settings, motions)
            else:
                per_frame = raw.cams if isinstance(raw.cams, list) else _chosen(raw.cams)
        parts = []
        with timer("boxes"):
            for b, (height, width) in enumerate(raw.sizes):
                frame_ids, frame_scores, frame_maps = per_frame[b]
                if cuts[b]:
                    # Here, not in the smoother's update: the batch's features were all averaged
                    # before any of its boxes, and the frames before the cut keep their scale
                    # and box tracks (a box after a cut never continues one from before it).
                    self._scaler.reset()
                    smoother.clear_tracks()
                elif motions[b] is not None:
                    smoother.move_tracks(motions[b], (width, height))
                heatmaps, opacity, detections = [], [], []
                for rank, (class_id, score, cam) in enumerate(zip(frame_ids, frame_scores, frame_maps), start=1):
                    class_id, score = int(class_id), float(score)
                    label = self.model.labels[class_id]
                    heatmaps.append(self._scaler(class_id, cam))
                    confident = score >= settings.intensity.gate
                    opacity.append(1.0 if confident else settings.intensity.faint)
                    boxes = boxes_from_cam(cam, width, height, settings.box_rule) if confident else []  # it normalizes
                    if smoother is not None and boxes:
                        boxes = smoother.smooth_boxes(class_id, boxes, (width, height))
                    for box in boxes or [None]:
                        assert box is None or (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height), \
                            f"box {box} is not inside its {width}x{height} frame"
                        detections.append(Detection(rank, class_id, label, score, box))
                if smoother is not None:
                    smoother.keep_tracks({d.class_id for d in detections if d.box is not None})
                parts.append((width, height, tuple(detections), np.stack(heatmaps).astype(np.float32, copy=False),
                              tuple(int(c) for c in frame_ids), tuple(opacity)))
        # Set once, shared (read-only) by the batch's results.
        timings = timer.per_frame(count, base=raw.timings)
        return [
            FrameResult(frame=int(indices[b]), time=float(times[b]), width=width, height=height,
                        detections=detections, heatmaps=heatmaps, map_class_ids=ids, map_opacity=opacity,
                        timings=timings, method=raw.method.name)
            for b, (width, height, detections, heatmaps, ids, opacity) in enumerate(parts)
        ]

    def _smoothed(
        self, cams: CamOutput | ScaledEvidence, smoother: TemporalSmoother, settings: LocalizeSettings,
        motions: Sequence[Motion | None],
    ) -> tuple[list[tuple[list[int], np.ndarray, np.ndarray]], list[bool]]:
        """(class ids, scores, raw maps) per frame, and whether each frame is a cut, from features and probabilities
        smoothed across frames; the maps are made from the smoothed features, at
        feature resolution, for the classes the smoothed probabilities choose.
        Combined maps (``ScaledEvidence.firsts``): the class pass's features are
        smoothed alike and its maps averaged in (``combined_maps``). ``motions``: the
        camera's per frame (or None), which the averages are moved by."""
        feats, probs = cams.features, cams.probs
        firsts = getattr(cams, "firsts", None)
        method = self.method
        out, cuts = [], []
        with torch.inference_mode():
            for b in range(len(feats)):  # a tensor, or a list (one size per frame)
                smooth_feats, smooth_probs, cut = smoother.update(feats[b], probs[b], motions[b])
                cuts.append(cut)
                if firsts is not None:
                    first = self._first_ema
                    if cut or smoother.frames == 1 or first is None or first.shape != firsts[b].shape:
                        self._first_ema = firsts[b].clone()
                    else:
                        first = self._first_ema = follow(first, firsts[b], motions[b])
                        first.lerp_(firsts[b], smoother.settings.map_alpha)
                p = smooth_probs.cpu().numpy()
                if settings.class_ids is not None:
                    ids = [int(c) for c in settings.class_ids]
                else:
                    ids = smoother.top_classes(p, settings.topk)
                chosen = torch.tensor([ids], device=smooth_feats.device)
                maps = method.maps(smooth_feats[None], chosen)[0].cpu().numpy()
                if firsts is not None:
                    maps = combined_maps(method.maps(self._first_ema[None], chosen)[0].cpu().numpy(), maps)
                out.append((ids, p[ids], maps))
        return out, cuts


@dataclass(frozen=True, eq=False)
class RawBatch:
    """``FrameLocalizer.forward``'s output, ``finish``'s input: one batch after the
    forward pass. ``cams``: the method's output, with the maps of the chosen
    classes, or (smoothing) its evidence: features and probabilities, no class
    chosen yet (``finish`` chooses from the smoothed ones). Under
    ``LocalizeSettings.maps`` other than plain CAM: a ``ScaledEvidence``
    (smoothing) or per frame (class ids, scores, raw maps)."""

    settings: LocalizeSettings
    sizes: tuple[tuple[int, int], ...]  # (height, width) of each frame
    method: CamMethod
    cams: CamOutput | ScaledEvidence | list
    timings: Mapping[str, float]  # preprocess and forward, ms per frame (read-only)
    thumbs: tuple[np.ndarray, ...] | None = None  # smoothing with motion: camvideo.cam.motion.thumbnail per frame


def _chosen(cams: CamOutput) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(class ids, scores, raw maps) per frame of a method's chosen classes."""
    maps = cams.maps.cpu().numpy()
    ids = cams.class_ids.cpu().numpy()
    scores = cams.scores.cpu().numpy()
    return [(ids[b], scores[b], maps[b]) for b in range(maps.shape[0])]


def _check_classes(settings: LocalizeSettings, num_classes: int) -> None:
    if settings.class_ids is not None:
        bad = [c for c in settings.class_ids if not 0 <= int(c) < num_classes]
        if bad:
            raise ValueError(f"class_ids must be ids in [0, {num_classes}), got {list(settings.class_ids)}")
    elif settings.topk > num_classes:
        raise ValueError(f"topk must be between 1 and {num_classes}, got {settings.topk}")
