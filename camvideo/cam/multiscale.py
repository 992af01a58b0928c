"""Model inputs other than the squashed square: the frame's aspect kept, a second,
larger pass for the maps, and horizontal-flip averaging (``MapSettings``).

The network is fully convolutional up to the pooling, so it runs at any input size;
the class weights are the same at every size, so a CAM can be made from the
features of any pass. Each input keeps covering the whole frame (it is resized,
never cropped), so the maps still map back to the frame by one scale per axis.
Sides are multiples of 32, the network's stride, so that the last feature cell
covers frame pixels and not padding.

Measured on the development set (docs/eval.md): keeping the aspect ratio is what
helps most on 4:3 and 16:9 video (objects are not squashed, so the classes are
right more often and the boxes fit better); a second pass at a short side of 288
gives maps of 9x12 cells instead of 7x7 for tighter boxes, at about three times
the cost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camvideo.cam.preprocess import preprocess
from camvideo.settings import MapSettings

STRIDE = 32


def _round(value: float) -> int:
    return STRIDE * max(1, round(value / STRIDE))


def class_input_size(width: int, height: int, base: tuple[int, int], settings: MapSettings) -> tuple[int, int]:
    """(height, width) of the pass that chooses the classes, for a ``width`` x
    ``height`` frame and a model whose own input is ``base`` (height, width).

    ``"squash"``: ``base`` itself. ``"aspect"``: the frame's aspect ratio at the
    base's short side, with at most ``settings.max_pixels`` times the base's pixels
    (a wider frame gets a shorter short side): 288x224 for 4:3, 320x192 for 16:9."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if settings.input == "squash":
        return base
    ratio = max(width, height) / min(width, height)
    cap = settings.max_pixels * base[0] * base[1]
    short = min(base)
    if short * short * ratio > cap:
        short = math.sqrt(cap / ratio)
    short32, long32 = _round(short), _round(short * ratio)
    if short32 * long32 > cap:
        long32 = STRIDE * max(1, int(cap / short32) // STRIDE)
    return (short32, long32) if width >= height else (long32, short32)


def combined_maps(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The mean of two passes' min-max normalized maps (k, h, w each), at the
    second's resolution (the first resized bilinearly to it)."""
    import cv2

    from camvideo.cam.boxes import normalize

    h, w = second.shape[1:]
    out = np.empty(second.shape, np.float32)
    for j in range(len(second)):
        resized = cv2.resize(normalize(first[j]), (w, h), interpolation=cv2.INTER_LINEAR)
        out[j] = 0.5 * (resized + normalize(second[j]))
    return out


def map_input_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(height, width) of a map pass: the frame's aspect ratio at a short side of
    ``short`` pixels (384x288 for a 4:3 frame at 288)."""
    if width >= height:
        return _round(short), _round(short * width / height)
    return _round(short * height / width), _round(short)


def input_sizes(width: int, height: int, base: tuple[int, int], settings: MapSettings) -> list[tuple[int, int]]:
    """The (height, width) input sizes the passes of ``settings`` feed the network
    for a ``width`` x ``height`` frame: the class pass's, then the map pass's when
    there is one (what a runtime that compiles one model per size makes ready)."""
    sizes = [tuple(class_input_size(width, height, tuple(base), settings))]
    if settings.map_side is not None:
        sizes.append(map_input_size(width, height, settings.map_side))
    return list(dict.fromkeys(sizes))


@dataclass(frozen=True, eq=False)
class ScaledEvidence:
    """What the passes give a smoother: per frame, the map pass's features (K, h, w)
    and, for combined maps, the class pass's (``firsts``); the class pass's
    probabilities (B, C). Lists, because frames of different sizes give features of
    different shapes."""

    probs: torch.Tensor
    features: list
    firsts: list | None = None


class ScaledPasses:
    """Forward passes of an exact-CAM method at any input size (features only),
    through the method's own ``Forward`` (``prepare`` and the call): a forward pass
    of another runtime must accept any input size to serve these settings."""

    def __init__(self, method) -> None:
        self.method = method
        self.model = method.model
        self._shims: dict[tuple[int, int], object] = {}

    def features(self, frames: Sequence[np.ndarray], size: tuple[int, int], flip: bool, timer=None) -> torch.Tensor:
        """(B, K, h, w) float32 features of ``frames`` resized to ``size`` (height,
        width); with ``flip`` the mean of the frame's and its mirror image's
        features (the mirror's flipped back). Call under ``inference_mode``.
        ``timer``: a ``camvideo.runtime.timing.StageTimer`` for the "preprocess"
        and "forward" stages."""
        stage = timer if timer is not None else (lambda name: contextlib.nullcontext())
        shim = self._shims.get(size)
        if shim is None:
            prep = dataclasses.replace(self.model.preprocessing, size=tuple(size))
            shim = self._shims[size] = types.SimpleNamespace(preprocessing=prep, device=self.model.device)
        with stage("preprocess"):
            x = preprocess(frames, shim)
            if flip:
                x = torch.cat([x, x.flip(3)])
            x = self.method.prepare(x)
        with stage("forward"):
            feats = self.method.forward(x).float()
            if flip:
                n = len(frames)
                feats = (feats[:n] + feats[n:].flip(3)) * 0.5
        return feats

    def run(self, frames: Sequence[np.ndarray], settings: MapSettings, timer=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(class features, map features) of a batch of frames of one size: the
        class pass's features give the probabilities, the map pass's the maps (the
        same tensor without a map pass)."""
        height, width = frames[0].shape[:2]
        if any(f.shape[:2] != (height, width) for f in frames):
            raise ValueError("frames of one batch must have one size")
        size = class_input_size(width, height, tuple(self.model.preprocessing.size), settings)
        feats = self.features(frames, size, settings.flip, timer)
        if settings.map_side is None:
            return feats, feats
        return feats, self.features(frames, map_input_size(width, height, settings.map_side), settings.flip, timer)

    def __call__(self, frames: Sequence[np.ndarray], settings, smoothed: bool, timer=None):
        """A batch (any sizes) under ``settings`` (LocalizeSettings): for a smoother
        the ``ScaledEvidence``; else per frame (class ids, scores, raw maps) of the
        ``topk`` best classes or of ``class_ids``. Call under ``inference_mode``.
        ``timer``: preprocessing and the passes are timed as "preprocess" and
        "forward", the maps as "forward"."""

        stage = timer if timer is not None else (lambda name: contextlib.nullcontext())

        groups: dict[tuple[int, int], list[int]] = {}
        for b, f in enumerate(frames):
            groups.setdefault(f.shape[:2], []).append(b)
        n = len(frames)
        feats, probs, firsts = [None] * n, [None] * n, [None] * n
        for members in groups.values():
            cls_feats, map_feats = self.run([frames[b] for b in members], settings.maps, timer)
            with stage("forward"):
                p = self.model.classify(cls_feats).float().softmax(dim=1)
            for j, b in enumerate(members):
                feats[b], probs[b], firsts[b] = map_feats[j], p[j], cls_feats[j]
        combine = settings.maps.combine
        if smoothed:
            return ScaledEvidence(torch.stack(probs), feats, firsts if combine else None)
        with stage("forward"):
            return self._chosen(feats, probs, firsts, settings)

    def _chosen(self, feats, probs, firsts, settings) -> list:
        from camvideo.cam.methods import class_maps

        combine = settings.maps.combine
        weight = self.model.weight
        fixed = None if settings.class_ids is None else torch.tensor([[int(c) for c in settings.class_ids]])
        out = []
        for f, p, first in zip(feats, probs, firsts):
            if fixed is None:
                scores, ids = p[None].topk(settings.topk, dim=1)
            else:
                ids = fixed.to(p.device)
                scores = p[None].gather(1, ids)
            maps = class_maps(f[None], weight, ids)[0].cpu().numpy()
            if combine:
                maps = combined_maps(class_maps(first[None], weight, ids)[0].cpu().numpy(), maps)
            out.append((ids[0].cpu().numpy(), scores[0].cpu().numpy(), maps))
        return out
