"""Steady maps on video: temporal smoothing, label hysteresis, consistent intensity.

A CAM computed frame by frame flickers: the top label swaps between close classes,
boxes jitter by a feature cell, and per-frame min-max scaling makes the colours
pulse. ``TemporalSmoother`` keeps a little state across the frames of one video:

- an exponential moving average (EMA) of the last convolutional features. A CAM is
  linear in the features, so this *is* the EMA of every class map at once, at
  feature resolution (1280 x 7 x 7 floats for Lite0: nearly free), whatever
  classes are shown next;
- an EMA of the class probabilities;
- label hysteresis: the shown top-1 changes only when another class leads it by
  ``margin`` or leads for ``hold`` frames in a row;
- boxes matched to the previous frame's boxes of the same class by IoU and
  smoothed: moved with the picture's measured motion (``camvideo.cam.motion``) and
  averaged, or, where no motion was measured, an EMA of the corners with a damped
  velocity term, so that steady motion does not lag;
- the averaged features moved with the picture's motion too, so the maps do not
  trail a pan or a zoom;
- a reset on a cut (the pooled features of two consecutive frames differ by more
  than ``cut_distance`` in cosine distance) and on ``reset()`` (a seek); the box
  tracks, in pixels, also start afresh when the frame size changes (a folder of
  images of several sizes, a stream that reconnects at another size), and a
  smoothed box is kept inside its frame (the trend may point past the edge).

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

import numpy as np
import torch

from camvideo.cam.boxes import iou, normalize
from camvideo.cam.motion import Motion, MotionEstimator, follow, move_box
from camvideo.results import Box
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


class TemporalSmoother:
    """State carried across the frames of one video (frames must come in order)."""

    def __init__(self, settings: SmoothingSettings = SmoothingSettings()) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget everything (a seek, a new video): the next frame starts afresh."""
        self._forget_evidence()
        self._camera = MotionEstimator()
        # Per class, its tracks: (corners, velocity); velocity None for a track that was
        # moved with the picture this frame (move_tracks: the motion did the velocity's work).
        self._tracks: dict[int, list[tuple[np.ndarray, np.ndarray | None]]] = {}
        self._track_size: tuple[int, int] | None = None  # (width, height) the tracks are in

    def _forget_evidence(self) -> None:
        """Forget the averaged features and probabilities and the label hysteresis (a
        cut). Not the box tracks: they are the box stage's, which clears them at the
        cut's own frame (``clear_tracks``), after the boxes of the frames before it in
        a batch whose features were all averaged first."""
        self._feats: torch.Tensor | None = None
        self._pooled: torch.Tensor | None = None
        self._probs: torch.Tensor | None = None
        self._shown: int | None = None
        self._challenger: int | None = None
        self._streak = 0
        self.frames = 0  # frames since the last reset or cut

    def camera_motion(self, thumb: np.ndarray) -> Motion | None:
        """How the picture moved from the previous frame to this one (``SmoothingSettings.motion``),
        measured on ``camvideo.cam.motion.thumbnail(frame)``; None when unknown."""
        return self._camera(thumb)

    def forget_motion(self) -> None:
        """Forget the last thumbnail (frames went by unmeasured: the next motion would
        span all of them)."""
        self._camera.reset()

    def update(self, feats: torch.Tensor, probs: torch.Tensor,
               motion: Motion | None = None) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """One frame's features (K, h, w) and probabilities (C,) -> their smoothed
        values and whether this frame was taken as a cut (the evidence is then forgotten;
        the box stage clears the box tracks at that frame). ``motion``: the camera's
        (``camera_motion``); the average is moved with it before this frame joins it."""
        s = self.settings
        pooled = feats.float().mean(dim=(1, 2))
        cut = False
        if self._feats is not None and self._feats.shape != feats.shape:
            # Another map size (the frame size changed under an aspect-kept input): a new shot.
            log.debug("new map size %s at frame %d: a cut", tuple(feats.shape), self.frames)
            self._forget_evidence()
            cut = True
        if self._pooled is not None:
            distance = 1.0 - float(torch.nn.functional.cosine_similarity(pooled, self._pooled, dim=0))
            if distance > s.cut_distance:
                log.debug("cut at frame %d (feature distance %.3f)", self.frames, distance)
                self._forget_evidence()
                cut = True
        self._pooled = pooled
        if self._feats is None:
            self._feats, self._probs = feats.clone(), probs.clone()
        else:
            self._feats = follow(self._feats, feats, motion)
            self._feats.lerp_(feats, s.map_alpha)  # one fused op: old + alpha * (new - old)
            self._probs.lerp_(probs, s.prob_alpha)
        self.frames += 1
        return self._feats, self._probs, cut

    def top_classes(self, probs: np.ndarray, k: int) -> list[int]:
        """The ``k`` classes to show, best first: top-1 with hysteresis, the rest by
        (smoothed) probability."""
        s = self.settings
        leader = int(np.argmax(probs))
        shown = self._shown
        if shown is None or leader == shown:
            self._shown, self._challenger, self._streak = leader, None, 0
        else:
            self._streak = self._streak + 1 if leader == self._challenger else 1
            self._challenger = leader
            if probs[leader] - probs[shown] >= s.margin or self._streak >= s.hold:
                self._shown, self._challenger, self._streak = leader, None, 0
        shown = self._shown
        if k == 1:
            return [shown]
        kk = min(k, len(probs) - 1)
        order = np.argpartition(-probs, kk)[: kk + 1]
        rest = [int(c) for c in order[np.argsort(-probs[order])] if int(c) != shown]
        return [shown] + rest[: k - 1]

    def smooth_boxes(self, class_id: int, boxes: list[Box], size: tuple[int, int] | None = None) -> list[Box]:
        """This frame's boxes of one class, each matched (greedily, by IoU) to one
        of the previous frame's (of that class; for a class new in the picture, of
        any class) and smoothed with a damped-trend EMA of its corners
        (Holt's linear method): steady motion is followed without lag, jitter is
        averaged out. ``size`` (width, height) of the frame: tracks made at another
        size are dropped, and each box is kept inside the frame."""
        s = self.settings
        if size is not None and size != self._track_size:
            self._tracks.clear()  # pixels of another frame size mean nothing here
            self._track_size = size
        old = self._tracks.get(class_id)
        if old is None:
            # A class without a track of its own (the shown label went from tabby to
            # Egyptian cat on the same cat): its boxes continue the overlapping tracks of
            # the classes boxed in the last frame, copied, so the box does not jump when
            # only the label changes. A cut has cleared every track already.
            old = [(level.copy(), None if trend is None else trend.copy())
                   for track in self._tracks.values() for level, trend in track]
        new = [(np.asarray(b, np.float64), np.zeros(4)) for b in boxes]
        pairs = sorted(
            ((iou(tuple(n[0]), tuple(o[0])), i, j) for i, n in enumerate(new) for j, o in enumerate(old)),
            reverse=True,
        )
        taken_new, taken_old = set(), set()
        for overlap, i, j in pairs:
            if overlap < s.match_iou:
                break
            if i in taken_new or j in taken_old:
                continue
            taken_new.add(i)
            taken_old.add(j)
            level, trend = old[j]
            if trend is None:  # moved with the picture already: a plain average of what is left
                new[i] = (s.moved_box_alpha * new[i][0] + (1.0 - s.moved_box_alpha) * level, np.zeros(4))
                continue
            predicted = level + s.trend_damping * trend
            smoothed = s.box_alpha * new[i][0] + (1.0 - s.box_alpha) * predicted
            trend = s.trend_alpha * (smoothed - level) + (1.0 - s.trend_alpha) * s.trend_damping * trend
            new[i] = (smoothed, trend)
        self._tracks[class_id] = new
        return [_inside(tuple(int(round(v)) for v in b), size) for b, _ in new]

    def move_tracks(self, motion: Motion, size: tuple[int, int]) -> None:
        """Move every box track with the picture inside it (``camera_motion``) before
        this frame's boxes join them, so that their average follows a pan, a zoom or
        the object itself without lag; such a track is then averaged with
        ``moved_box_alpha`` and no velocity term (a track not moved, as without the
        motion or when it could not be measured, keeps ``box_alpha`` and its velocity).
        ``size`` (width, height): the frame's; tracks made at another size are left."""
        if size != self._track_size:
            return
        for c, track in self._tracks.items():
            moved = []
            for level, trend in track:
                own = motion.within(level, *size)
                if own is None and motion.still:
                    moved.append((level, trend))  # a small object in a still picture: not measured, not moved
                else:
                    moved.append((move_box(level, motion.transform if own is None else own, *size), None))
            self._tracks[c] = moved

    def clear_tracks(self) -> None:
        """Forget every box track (a cut: the next boxes start afresh)."""
        self._tracks.clear()

    def keep_tracks(self, class_ids: set[int]) -> None:
        """Drop the box tracks of classes not shown in this frame."""
        for c in [c for c in self._tracks if c not in class_ids]:
            del self._tracks[c]


def _inside(box: Box, size: tuple[int, int] | None) -> Box:
    """``box`` clipped to a ``size`` (width, height) frame, at least a pixel wide and high."""
    if size is None:
        return box
    width, height = size
    x1, y1 = min(max(box[0], 0), width - 1), min(max(box[1], 0), height - 1)
    return x1, y1, min(max(box[2], x1 + 1), width), min(max(box[3], y1 + 1), height)
