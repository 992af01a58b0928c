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

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camvideo.cam.boxes import boxes_from_cam
from camvideo.cam.methods import CamEngine, class_maps
from camvideo.cam.multiscale import ScaledPasses, combined_maps
from camvideo.cam.preprocess import preprocess
from camvideo.cam.smoothing import MapScaler, TemporalSmoother
from camvideo.models import GapClassifier
from camvideo.models.fold import fold_batchnorm
from camvideo.results import Detection, FrameResult
from camvideo.settings import LocalizeSettings

log = logging.getLogger(__name__)

# FrameLocalizer(autocast=...): the forward pass's precision ("auto": fp16 on CUDA only).
AUTOCAST = {"auto": None, "fp16": torch.float16, "bf16": torch.bfloat16, None: None}


class FrameLocalizer:
    """Runs the model on a batch of BGR frames and returns one FrameResult per frame."""

    def __init__(
        self,
        model: GapClassifier,
        settings: LocalizeSettings = LocalizeSettings(),
        *,
        channels_last: bool = True,
        fold: bool = True,
        autocast: str | None = "auto",
        compile: bool = False,
    ) -> None:
        """``channels_last``: convert the model (in place) and each batch to NHWC
        memory, measured 15-20% faster for lite0 on the CPU (oneDNN) and the layout
        tensor cores want. ``fold``: replace the model's feature extractor by a
        copy with its batch norms folded into the convolutions before them (same
        maps to float rounding, ~19% faster for lite0 on the CPU; see
        ``camvideo.models.fold``; CAM models only). ``autocast``: ``"auto"`` runs the forward pass in
        float16 on CUDA (never on the CPU, where it is slower), ``"fp16"`` /
        ``"bf16"`` force it, None never; class maps are always summed and
        normalized in float32. ``compile``: ``torch.compile`` the feature
        extractor in place (opt-in; hooks registered before this call are
        traced with it); the first batch of each size pays the compilation."""
        if autocast not in AUTOCAST:
            raise ValueError(f"autocast must be one of {sorted(k for k in AUTOCAST if k)} or None, got {autocast!r}")
        self.model = model
        self.engine = CamEngine(model)
        self._passes = ScaledPasses(model, channels_last)
        self._first_ema: torch.Tensor | None = None  # combined maps: the class pass's smoothed features
        self.settings = settings
        self._smoother: TemporalSmoother | None = None
        self._scaler = MapScaler(settings.intensity)
        self.channels_last = channels_last
        device = model.device.type
        dtype = AUTOCAST[autocast]
        if autocast == "auto":
            dtype = torch.float16 if device == "cuda" else None
        self.autocast_dtype = dtype
        if fold and getattr(model, "method", "cam") == "cam" and not hasattr(model.features, "folded_norms"):
            model.features = _folded(model)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if compile:
            model.features.compile()

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.model.device.type, dtype=self.autocast_dtype)

    def reset(self) -> None:
        """Forget the state carried across frames (call it on a seek or a new video)."""
        if self._smoother is not None:
            self._smoother.reset()
        self._scaler.reset()

    def _sync_state(self, settings: LocalizeSettings) -> TemporalSmoother | None:
        """Bring the smoother and the scaler in line with (possibly new) settings."""
        # Feature averaging gives smoothed CAMs because a CAM is linear in the
        # features; a Grad-CAM map is not, so Grad-CAM models run unsmoothed.
        if settings.smoothing is None or getattr(self.model, "method", "cam") != "cam":
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
        may run it at once on different batches (the files pipeline does); the
        batches then go through ``finish`` one at a time, in frame order.
        Unsmoothed, the class maps are made here too; with smoothing, the
        features and probabilities are kept for ``finish`` to smooth."""
        if not frames:
            raise ValueError("frames must hold at least one frame")
        settings = self.settings
        smoothed = settings.smoothing is not None and getattr(self.model, "method", "cam") == "cam"
        if smoothed:
            _check_classes(settings, self.model.num_classes)
        t0 = time.perf_counter()
        if settings.maps.plain or getattr(self.model, "method", "cam") != "cam":
            x = preprocess(frames, self.model)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()  # other inputs: their preprocessing counts with the forward pass
        if not settings.maps.plain and getattr(self.model, "method", "cam") == "cam":
            data, method = self._scaled(frames, settings, smoothed), "cam"
        elif smoothed:
            with self._autocast(), torch.inference_mode():
                feats = self.model(x).float()
                probs = self.model.classify(feats).float().softmax(dim=1)
            data, method = (feats, probs), "cam"
        else:
            with self._autocast():
                out = self.engine(x, topk=settings.topk, class_ids=settings.class_ids)
            maps = out.maps.cpu().numpy()
            ids = out.class_ids.cpu().numpy()
            scores = out.scores.cpu().numpy()
            data = [(ids[b], scores[b], maps[b]) for b in range(len(frames))]
            method = out.method
        t2 = time.perf_counter()
        per_frame = 1000.0 / len(frames)
        return RawBatch(settings, tuple(f.shape[:2] for f in frames), smoothed, method, data,
                        {"preprocess": (t1 - t0) * per_frame, "forward": (t2 - t1) * per_frame})

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
        smoother = self._sync_state(settings)  # None unless raw.smoothed (same rule)
        t2 = time.perf_counter()
        if raw.smoothed:
            assert smoother is not None
            with self._autocast():
                feats, probs, *firsts = raw.data  # firsts: the class pass's features, for combined maps
                per_frame = self._smoothed(feats, probs, smoother, settings, firsts[0] if firsts else None)
        else:
            per_frame = raw.data
        t_maps = time.perf_counter()
        results = []
        for b, (height, width) in enumerate(raw.sizes):
            frame_ids, frame_scores, frame_maps = per_frame[b]
            heatmaps, opacity, detections = [], [], []
            for rank, (class_id, score, cam) in enumerate(zip(frame_ids, frame_scores, frame_maps), start=1):
                class_id, score = int(class_id), float(score)
                label = self.model.labels[class_id]
                heatmaps.append(self._scaler(class_id, cam))
                confident = score >= settings.intensity.gate
                opacity.append(1.0 if confident else settings.intensity.faint)
                boxes = boxes_from_cam(cam, width, height, settings.box_rule) if confident else []  # it normalizes
                if smoother is not None and boxes:
                    boxes = smoother.smooth_boxes(class_id, boxes)
                for box in boxes or [None]:
                    detections.append(Detection(rank, class_id, label, score, box))
            if smoother is not None:
                smoother.keep_tracks({d.class_id for d in detections if d.box is not None})
            results.append(
                FrameResult(
                    frame=int(indices[b]),
                    time=float(times[b]),
                    width=width,
                    height=height,
                    detections=tuple(detections),
                    heatmaps=np.stack(heatmaps).astype(np.float32, copy=False),
                    map_class_ids=tuple(int(c) for c in frame_ids),
                    map_opacity=tuple(opacity),
                    method=raw.method,
                )
            )
        t3 = time.perf_counter()
        per = 1000.0 / count
        timings = dict(raw.timings)
        # The smoothed maps count with the forward pass, as they did before the split.
        timings["forward"] += (t_maps - t2) * per
        timings["boxes"] = (t3 - t_maps) * per
        for r in results:
            r.timings.update(timings)
        return results

    def _scaled(self, frames: Sequence[np.ndarray], settings: LocalizeSettings, smoothed: bool):
        """``forward``'s data for ``settings.maps`` other than plain CAM: the class
        pass's probabilities and the map pass's features (smoothed) or the chosen
        classes' maps (unsmoothed). Frames of different sizes run one size at a time."""
        groups: dict[tuple[int, int], list[int]] = {}
        for b, f in enumerate(frames):
            groups.setdefault(f.shape[:2], []).append(b)
        feats: list = [None] * len(frames)
        probs: list = [None] * len(frames)
        firsts: list = [None] * len(frames)  # the class pass's features, for combined maps
        combine = settings.maps.combine
        with self._autocast(), torch.inference_mode():
            for members in groups.values():
                cls_feats, map_feats = self._passes.run([frames[b] for b in members], settings.maps)
                p = self.model.classify(cls_feats).float().softmax(dim=1)
                for j, b in enumerate(members):
                    feats[b], probs[b], firsts[b] = map_feats[j], p[j], cls_feats[j]
            if smoothed:
                return feats, torch.stack(probs), firsts if combine else None
            _check_classes(settings, self.model.num_classes)
            fixed = None if settings.class_ids is None else torch.tensor([[int(c) for c in settings.class_ids]])
            out = []
            for f, p in zip(feats, probs):
                if fixed is None:
                    scores, ids = p[None].topk(settings.topk, dim=1)
                else:
                    ids = fixed.to(p.device)
                    scores = p[None].gather(1, ids)
                maps = class_maps(f[None], self.model.weight, ids)[0].cpu().numpy()
                if combine:
                    first = firsts[len(out)]
                    maps = combined_maps(class_maps(first[None], self.model.weight, ids)[0].cpu().numpy(), maps)
                out.append((ids[0].cpu().numpy(), scores[0].cpu().numpy(), maps))
        return out

    def _smoothed(
        self, feats: torch.Tensor, probs: torch.Tensor, smoother: TemporalSmoother, settings: LocalizeSettings,
        firsts: list | None = None,
    ) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """(class ids, scores, raw maps) per frame, from features and probabilities
        smoothed across frames; the maps are made from the smoothed features, at
        feature resolution, for the classes the smoothed probabilities choose.
        ``firsts``: the class pass's features, smoothed alike, for combined maps."""
        model = self.model
        out = []
        with torch.inference_mode():
            for b in range(len(feats)):  # a tensor, or a list of one size per frame
                smooth_feats, smooth_probs, cut = smoother.update(feats[b], probs[b])
                if cut:
                    self._scaler.reset()
                if firsts is not None:
                    first = self._first_ema
                    if cut or smoother.frames == 1 or first is None or first.shape != firsts[b].shape:
                        self._first_ema = firsts[b].clone()
                    else:
                        first.lerp_(firsts[b], smoother.settings.map_alpha)
                p = smooth_probs.cpu().numpy()
                if settings.class_ids is not None:
                    ids = [int(c) for c in settings.class_ids]
                else:
                    ids = smoother.top_classes(p, settings.topk)
                chosen = torch.tensor([ids], device=smooth_feats.device)
                maps = class_maps(smooth_feats[None], model.weight, chosen)[0].cpu().numpy()
                if firsts is not None:
                    maps = combined_maps(class_maps(self._first_ema[None], model.weight, chosen)[0].cpu().numpy(), maps)
                out.append((ids, p[ids], maps))
        return out


@dataclass(frozen=True, eq=False)
class RawBatch:
    """``FrameLocalizer.forward``'s output, ``finish``'s input: one batch after the
    forward pass. ``data``: unsmoothed, (class ids, scores, raw maps) per frame;
    smoothed, the (features, probabilities) tensors of the batch."""

    settings: LocalizeSettings
    sizes: tuple[tuple[int, int], ...]  # (height, width) of each frame
    smoothed: bool
    method: str
    data: object
    timings: dict[str, float]  # preprocess and forward, ms per frame


def _folded(model: GapClassifier) -> torch.nn.Module:
    """The model's feature extractor with its batch norms folded (marked with
    ``folded_norms`` so that a second localizer on the model does not fold
    again), or the extractor as it is when folding fails for any reason."""
    features = model.features.eval()
    height, width = model.preprocessing.size
    # A generator of its own: building a localizer leaves the user's seeded stream alone.
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(1, 3, height, width, generator=gen).to(model.device)
    try:
        features, count = fold_batchnorm(features, example)
    except Exception as exc:  # an optimization: never the reason a model cannot run
        log.warning("batch norms not folded (%s: %s); running the network as it is", type(exc).__name__, exc)
        count = 0
    features.folded_norms = count
    return features


def _check_classes(settings: LocalizeSettings, num_classes: int) -> None:
    if settings.class_ids is not None:
        bad = [c for c in settings.class_ids if not 0 <= int(c) < num_classes]
        if bad:
            raise ValueError(f"class_ids must be ids in [0, {num_classes}), got {list(settings.class_ids)}")
    elif settings.topk > num_classes:
        raise ValueError(f"topk must be between 1 and {num_classes}, got {settings.topk}")
