"""Steady maps on video: the evidence averaged across frames, label hysteresis, consistent intensity.

A CAM computed frame by frame flickers: the top label swaps between close classes,
boxes jitter by a feature cell, and per-frame min-max scaling makes the colours
pulse. ``TemporalState`` carries a frame's ``Evidence`` over to the next, one
``step(evidence, motion)`` a frame:

- an exponential moving average (EMA) of the last convolutional features
  (``_FeatureAverage``; one more for a multi-scale run's first pass). A CAM is
  linear in the features, so this *is* the EMA of every class map at once, at
  feature resolution (1280 x 7 x 7 floats for Lite0: nearly free), whatever
  classes are shown next; the average is moved with the picture's measured motion
  (``camvideo.cam.motion``) first, so the maps do not trail a pan or a zoom (a slow
  drift is gathered until it moves a cell by ``LAG``, a twentieth: ``motion.Lag``);
- an EMA of the class probabilities;
- label hysteresis (``LabelHysteresis``): the shown top-1 changes only when another
  class leads it by ``margin`` or leads for ``hold`` frames in a row;
- a cut (the pooled features of two consecutive frames differ by more than
  ``cut_distance`` in cosine distance, or the map size changes) starts afresh, and
  so does ``reset()`` (a seek). The step marks the cut on the evidence, so that the
  box tracks (``camvideo.cam.tracking.BoxTracker``) and the heat maps' scale start
  afresh at that frame too.

``MapScaler`` turns a raw map into the [0, 1] heat map the overlay draws: per-frame
min-max (the default), a running maximum with decay (colours comparable across
frames), or a fixed maximum. ``IntensitySettings.gate`` is the least probability a
class needs to get a box and a full-strength map: below it the class is listed
without a box and its map is drawn faint ("nothing confident", not a box on the
wall).

Everything here is Qt-free and works on one frame at a time, in frame order.
Single images use none of the state (smoothing is off for them).
"""

from __future__ import annotations

import logging
import math
from functools import cache

import numpy as np
import torch

from camvideo.cam.boxes import normalize
from camvideo.cam.evidence import Evidence, as_array
from camvideo.cam.motion import Lag, Motion, MotionEstimator, follow
from camvideo.settings import IntensitySettings, SmoothingSettings

log = logging.getLogger(__name__)

class MapScaler:
    """Raw class map -> heat map in [0, 1], with the running maxima as state."""

    MAX_CLASSES = 64  # running maxima kept; the least recently seen go first

    def __init__(self, settings: IntensitySettings = IntensitySettings()) -> None:
        self.settings = settings
        self._peaks: dict[int, float] = {}

    def reset(self) -> None:
        self._peaks.clear()

    def __call__(self, class_id: int, cam: np.ndarray) -> np.ndarray:
        cam = np.asarray(cam, dtype=np.float32)
        s = self.settings
        if s.scale == "minmax":
            return normalize(cam)
        if s.scale == "fixed":
            top = s.fixed_max
        else:
            top = max(float(cam.max()), s.decay * self._peaks.pop(class_id, 0.0))
            self._peaks[class_id] = top  # re-inserted: dict order = least recently seen first
            while len(self._peaks) > self.MAX_CLASSES:
                self._peaks.pop(next(iter(self._peaks)))
        if top <= 1e-12:
            return np.zeros_like(cam)
        return np.clip(cam / top, 0.0, 1.0)


class TemporalState:
    """The evidence carried across the frames of one video: one ``step`` a frame, in
    frame order. With ``settings`` None it carries nothing (``step`` returns the
    evidence as it came): single images, methods whose maps are not linear in the
    features, smoothing off."""

    def __init__(self, settings: SmoothingSettings | None = SmoothingSettings()) -> None:
        self.settings = settings
        self._camera = MotionEstimator()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a seek, a new video): the next frame starts afresh."""
        self._forget()
        self._camera.reset()

    def _forget(self) -> None:
        """Forget the averages and the label hysteresis (a cut)."""
        self._features = _FeatureAverage()  # the frame's features
        self._first_pass = _FeatureAverage()  # the first pass's features (``Evidence.first``)
        self._pooled: tuple[np.ndarray, float] | None = None  # the last frame's pooled features (float64), their norm
        self._ahead: tuple[torch.Tensor, tuple[np.ndarray, float]] | None = None  # ``_cuts``' features, their pooling
        self._probs: torch.Tensor | None = None
        self._labels = LabelHysteresis()
        self.frames = 0  # frames since the last reset or cut

    def motion(self, evidence: Evidence) -> Motion | None:
        """How the picture moved from the previous frame to this one, measured on
        ``evidence.thumb`` (``camvideo.cam.motion.thumbnail``); None when unknown. A
        frame without a thumbnail forgets the last one (a motion must not span frames
        that went by unmeasured); at a cut (``step`` will find one: the averages and
        the box tracks start afresh, nothing is moved) the motion is not measured."""
        if self.settings is None or evidence.thumb is None or not self.settings.motion:
            self._camera.reset()
            return None
        if self._cuts(evidence.features):  # nothing is moved at a cut: the averages and the tracks start afresh
            self._camera.skip(evidence.thumb)
            return None
        return self._camera(evidence.thumb)

    def step(self, evidence: Evidence, motion: Motion | None = None) -> Evidence:
        """This frame's evidence averaged with the frames before it, after the average
        is moved with the picture's ``motion``; ``cut`` says that a new shot starts
        here (the average starts afresh), ``leader`` the top class to show, ``motion``
        the motion it was moved with."""
        s = self.settings
        if s is None:
            return evidence
        cut = self._cut(evidence.features)
        feats, probs = evidence.features, evidence.probs
        if self._features.value is None:
            self._features.start(feats)
            self._probs = probs.clone()
        else:
            self._features.add(feats, motion, s.map_alpha)
            self._probs.lerp_(probs, s.prob_alpha)
        first = evidence.first
        if first is not None:
            average = self._first_pass
            if average.value is None or average.value.shape != first.features.shape:
                average.start(first.features)
            else:
                average.add(first.features, motion, s.map_alpha)
            first = first.but(features=average.value)
        self.frames += 1
        leader = None if evidence.settings.class_ids is not None else self._labels(as_array(self._probs), s)
        return evidence.but(features=self._features.value, probs=self._probs, first=first, cut=cut, leader=leader,
                            motion=motion)

    def _cut(self, feats: torch.Tensor) -> bool:
        """Whether ``feats`` start a new shot (``_cut_reason``); then the averages are
        forgotten. ``feats``' pooling is kept for the next frame's test."""
        reason, pooled = self._cut_reason(feats), self._pooling(feats)
        if reason is not None:
            log.debug("cut at frame %d (%s)", self.frames, reason)
            self._forget()
        self._pooled, self._ahead = pooled, None
        return reason is not None

    def _cuts(self, feats: torch.Tensor) -> bool:
        """Whether ``step`` will find a cut at ``feats`` (``_cut``'s answer, asked before the
        motion is measured; nothing forgotten here)."""
        return self._cut_reason(feats) is not None

    def _cut_reason(self, feats: torch.Tensor) -> str | None:
        """Why ``feats`` start a new shot, or None: another map size (the frame size
        changed under an aspect-kept input), or pooled features further than
        ``cut_distance`` (cosine) from the last frame's."""
        average = self._features.value
        if average is not None and average.shape != feats.shape:
            return f"new map size {tuple(feats.shape)}"
        if self._pooled is not None:
            distance = _cosine_distance(*self._pooling(feats), *self._pooled)
            if distance > self.settings.cut_distance:
                return f"feature distance {distance:.3f}"
        return None

    def _pooling(self, feats: torch.Tensor) -> tuple[np.ndarray, float]:
        """``feats``' pooled features and their norm (pooled once a frame: ``_cuts`` keeps them for ``_cut``)."""
        if self._ahead is not None and self._ahead[0] is feats:
            return self._ahead[1]
        pooled = _pooled(feats)
        self._ahead = feats, (pooled, _norm(pooled))
        return self._ahead[1]


class _FeatureAverage:
    """An exponential moving average of a frame's features, moved with the picture's
    motion before each frame is added (``follow``; ``lag`` gathers a slow drift).
    ``value`` is None until ``start``."""

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None
        self.lag = Lag()  # the motion ``value`` trails the picture by
        self._borrowed = False  # whether ``value`` is a frame's own tensor (never written in place)

    def start(self, feats: torch.Tensor) -> None:
        """Start afresh at ``feats``, taken uncopied (a cut's frame: the next frame often
        cuts again, and then no copy was needed)."""
        self.value, self._borrowed = feats, True
        self.lag.reset()

    def add(self, feats: torch.Tensor, motion: Motion | None, alpha: float) -> None:
        """Move the average with ``motion``, then average ``feats`` in by ``alpha`` in one
        fused op (old + alpha * (new - old)): in place, except into a new tensor when the
        average is still a frame's own tensor and was not moved into a new one."""
        moved = follow(self.value, feats, motion, self.lag)  # ``value`` itself or a new tensor
        if self._borrowed and moved is self.value:
            self.value = torch.lerp(moved, feats, alpha)
        else:
            self.value = moved.lerp_(feats, alpha)
        self._borrowed = False


def _pooled(feats: torch.Tensor) -> np.ndarray:
    """The mean of each of ``feats``' (K, h, w) maps, (K,) float64: on the CPU one
    matrix-vector product in NumPy (torch's mean over two small dimensions costs 5x
    more), on float32 features without a torch call."""
    if feats.is_cpu and feats.dtype is torch.float32 and not feats.requires_grad:
        flat = feats.numpy().reshape(feats.shape[0], -1)
        return (flat @ _mean_weights(flat.shape[1])).astype(np.float64)
    flat = feats.float().reshape(feats.shape[0], -1)
    if flat.device.type != "cpu":
        return flat.mean(dim=1).cpu().numpy().astype(np.float64)
    return (flat.numpy() @ _mean_weights(flat.shape[1])).astype(np.float64)


@cache
def _mean_weights(count: int) -> np.ndarray:
    """``count`` float32 weights of 1 / ``count`` (one array a map size, shared)."""
    weights = np.full(count, 1.0 / count, np.float32)
    weights.flags.writeable = False
    return weights


def _norm(a: np.ndarray) -> float:
    """A vector's Euclidean norm (as ``np.linalg.norm``'s, without its checks)."""
    return math.sqrt(float(a @ a))


def _cosine_distance(a: np.ndarray, norm_a: float, b: np.ndarray, norm_b: float) -> float:
    """1 - the cosine similarity of two vectors of norms ``norm_a`` and ``norm_b``
    (each at least 1e-8, as torch's)."""
    return 1.0 - float(a @ b) / (max(norm_a, 1e-8) * max(norm_b, 1e-8))


class LabelHysteresis:
    """The top class shown changes only when another class leads it by ``margin`` or
    leads for ``hold`` frames in a row (``SmoothingSettings``)."""

    def __init__(self) -> None:
        self.shown: int | None = None
        self._challenger: int | None = None
        self._streak = 0

    def __call__(self, probs: np.ndarray, settings: SmoothingSettings) -> int:
        """The top class to show for this frame's (smoothed) ``probs``."""
        leader = int(np.argmax(probs))
        shown = self.shown
        if shown is None or leader == shown:
            self.shown, self._challenger, self._streak = leader, None, 0
        else:
            self._streak = self._streak + 1 if leader == self._challenger else 1
            self._challenger = leader
            if probs[leader] - probs[shown] >= settings.margin or self._streak >= settings.hold:
                self.shown, self._challenger, self._streak = leader, None, 0
        return self.shown
