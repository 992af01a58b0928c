"""The forward passes of a frame (``MapSettings``): the model's own input, or the
frame's aspect kept, a second, larger pass for the maps, and horizontal-flip averaging.

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
import functools
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from camvideo.cam.evidence import Evidence, choose_classes
from camvideo.cam.preprocess import at_size
from camvideo.settings import LocalizeSettings, MapSettings

STRIDE = 32
_PLAIN = MapSettings()  # ``MapSettings.plain``'s settings, made once


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


def map_input_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(height, width) of a map pass: the frame's aspect ratio at a short side of
    ``short`` pixels (384x288 for a 4:3 frame at 288)."""
    if width >= height:
        return _round(short), _round(short * width / height)
    return _round(short * height / width), _round(short)


# The sizes of every frame of a stream, computed once per frame size and settings.
_class_size = functools.lru_cache(maxsize=64)(class_input_size)
_map_size = functools.lru_cache(maxsize=64)(map_input_size)


def input_sizes(width: int, height: int, base: tuple[int, int], settings: MapSettings) -> list[tuple[int, int]]:
    """The (height, width) input sizes the passes of ``settings`` feed the network
    for a ``width`` x ``height`` frame: the class pass's, then the map pass's when
    there is one (what a runtime that compiles one model per size makes ready)."""
    sizes = [tuple(base)] if settings.class_view == "square" else []
    sizes.append(tuple(class_input_size(width, height, tuple(base), settings)))
    if settings.map_side is not None:
        sizes.append(map_input_size(width, height, settings.map_side))
    return list(dict.fromkeys(sizes))


class ScaledPasses:
    """The forward passes ``LocalizeSettings.maps`` asks for, through a method's own
    ``evidence`` (so through its ``Forward``, whatever runtime that is): the model's
    own input for plain CAM, else the aspect-kept class pass, a map pass and mirror
    averaging. A forward pass of another runtime must accept any input size to serve
    settings other than plain; a model whose ``preprocessing.fixed`` is set gets
    its own input size only (one pass, mirror averaging kept)."""

    def __init__(self, method) -> None:
        self.method = method
        self.model = method.model
        self._shims: dict[tuple[int, int], object] = {}

    def evidence(self, frames: Sequence[np.ndarray], settings: LocalizeSettings, timer=None) -> list[Evidence]:
        """Each frame's ``Evidence`` (any sizes): the class pass's probabilities, the
        map pass's features, and for combined maps the class pass's own evidence as
        ``first``. ``timer``: a ``camvideo.timing.StageTimer`` for the
        "preprocess" and "forward" stages."""
        if settings.maps == _PLAIN or self.model.preprocessing.fixed:  # one batch at the model's own input size
            flip = settings.maps.flip  # False when plain; a fixed-size graph keeps the mirror averaging
            return self._pass(frames, None, lambda b, probs: choose_classes(probs, settings).class_ids, flip, timer)
        shape = frames[0].shape[:2]
        if all(f.shape[:2] == shape for f in frames):  # a stream's batch: every frame of one size
            return self._scaled(frames, settings, timer)
        groups: dict[tuple[int, int], list[int]] = {}
        for b, f in enumerate(frames):
            groups.setdefault(f.shape[:2], []).append(b)
        out: list[Evidence | None] = [None] * len(frames)
        for members in groups.values():
            for b, ev in zip(members, self._scaled([frames[b] for b in members], settings, timer)):
                out[b] = ev
        return out

    def _scaled(self, frames: Sequence[np.ndarray], settings: LocalizeSettings, timer) -> list[Evidence]:
        """The passes of a group of frames of one size."""
        maps = settings.maps
        height, width = frames[0].shape[:2]
        chosen: dict[int, tuple[int, ...]] = {}

        def choose(b: int, probs: torch.Tensor) -> tuple[int, ...]:
            if b not in chosen:  # the class pass chooses; the map pass keeps its choice
                chosen[b] = choose_classes(probs, settings).class_ids
            return chosen[b]

        size = _class_size(width, height, tuple(self.model.preprocessing.size), maps)
        if maps.class_view == "square":  # the classes at the model's own input, the maps at ``size``
            firsts = self._pass(frames, None, choose, maps.flip, timer)
        else:
            firsts = self._pass(frames, size, choose, maps.flip, timer)
            if maps.map_side is None:
                return firsts
            size = _map_size(width, height, maps.map_side)
        seconds = self._pass(frames, size, choose, maps.flip, timer)
        return [replace(second, probs=first.probs, logits=first.logits, first=first if maps.combine else None)
                for first, second in zip(firsts, seconds)]

    def _pass(self, frames, size: tuple[int, int] | None, choose, flip: bool, timer) -> list[Evidence]:
        """One pass of ``frames`` resized to ``size`` (height, width; None: the model's own)."""
        stage = timer if timer is not None else (lambda name: contextlib.nullcontext())
        with stage("preprocess"):
            x = self.method.prepare_frames(frames, self._sized(size))
        with stage("forward"):
            return self.method.evidence(x, choose, flip)

    def _sized(self, size: tuple[int, int] | None):
        """What ``prepare_frames`` needs of a model (``preprocessing``, ``device``) at ``size``."""
        if size is None:
            return self.model
        shim = self._shims.get(size)
        if shim is None:
            shim = self._shims[size] = at_size(self.model, size)
        return shim
