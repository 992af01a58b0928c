"""A frame's evidence, the one choice of classes and the one way to maps.

``Evidence`` is what the parallel half of the inference stage gives for each frame
(``FrameLocalizer.forward``): the class probabilities and the last convolutional
features of each pass; where nothing is carried across frames (no smoothing) also the
frame's own chosen classes and their maps, made there in the batch. Everything after
it works on evidence alone:
``TemporalState.step`` averages it across frames (``camvideo.cam.smoothing``),
``choose_classes`` picks the classes to show from its probabilities, and
``evidence_maps`` projects the chosen classes onto its features (a CAM is the class
weights times the features; Grad-CAM's weights are the frame's own gradients,
``Evidence.weights``). ``check_request`` checks what a ``LocalizeSettings`` asks
for against a model, once, where a batch enters.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import torch

from camvideo.settings import LocalizeSettings

if TYPE_CHECKING:
    from camvideo.cam.motion import Motion

_NO_TIMINGS: Mapping[str, float] = MappingProxyType({})
_DEFAULT_SETTINGS = functools.cache(LocalizeSettings)  # ``LocalizeSettings()`` (frozen) made once, not per Evidence


@dataclass(frozen=True, eq=False)
class Evidence:
    """One frame's evidence: what the forward pass found, no class chosen yet.

    Tensors stay on the model's device. After ``TemporalState.step`` the tensors may
    be the state's running averages: use them before the next step."""

    probs: torch.Tensor  # (C,) float32 softmax of the pass that chooses the classes
    logits: torch.Tensor  # (C,) float32, before the softmax
    features: torch.Tensor  # (K, h, w) float32: the maps' pass (the class pass's when there is one pass)
    # Per-frame class weights (K,) by class id, for a method whose weights are not the
    # model's own (Grad-CAM: the classes chosen at the pass); None: the model's class weights.
    weights: Mapping[int, torch.Tensor] | None = None
    first: Evidence | None = None  # combined maps (MapSettings.combine): the class pass's own evidence
    size: tuple[int, int] = (0, 0)  # (width, height) of the frame
    thumb: np.ndarray | None = None  # the picture the camera's motion is measured on (smoothing with motion)
    settings: LocalizeSettings = field(default_factory=_DEFAULT_SETTINGS)  # the settings of its pass
    timings: Mapping[str, float] = field(default_factory=lambda: _NO_TIMINGS)  # ms per frame so far
    cut: bool = False  # set by TemporalState.step: a new shot starts here
    leader: int | None = None  # set by TemporalState.step: the top class shown (label hysteresis)
    motion: Motion | None = None  # set by TemporalState.step: the picture's since the last frame, when measured
    # The frame's own classes and raw maps, made in the parallel half where nothing is carried
    # across frames (``FrameLocalizer.forward``); None: ``finish`` chooses and makes them.
    own: OwnMaps | None = None

    def but(self, **changes) -> Evidence:
        """A copy with the fields ``changes`` names set (``dataclasses.replace`` without
        running ``__init__`` again: a copy a frame on the in-order half); a name that is
        not a field is a TypeError, as there."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Evidence has no field(s) {sorted(unknown)}")
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy

    def covers(self, class_ids: Sequence[int]) -> bool:
        """True when maps of ``class_ids`` can be made from this evidence (always,
        with the model's own class weights)."""
        if self.first is not None and not self.first.covers(class_ids):
            return False
        return self.weights is None or all(int(c) in self.weights for c in class_ids)


_FIELDS = frozenset(f.name for f in fields(Evidence))


def check_request(settings: LocalizeSettings, num_classes: int) -> None:
    """ValueError unless the classes ``settings`` ask for exist in a model of
    ``num_classes`` classes."""
    if settings.class_ids is not None:
        bad = [c for c in settings.class_ids if not 0 <= int(c) < num_classes]
        if bad:
            raise ValueError(f"class_ids must be ids in [0, {num_classes}), got {list(settings.class_ids)}")
    elif not 1 <= settings.topk <= num_classes:
        raise ValueError(f"topk must be between 1 and {num_classes}, got {settings.topk}")


@dataclass(frozen=True)
class Chosen:
    """The classes a frame shows, best first, and their probabilities."""

    class_ids: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class OwnMaps:
    """A frame's own classes and their (k, h, w) raw maps, made under ``settings`` (the
    evidence's own settings object at its pass: any other settings choose again)."""

    settings: LocalizeSettings
    chosen: Chosen
    maps: np.ndarray

    def valid_for(self, settings: LocalizeSettings) -> bool:
        return settings is self.settings


def choose_classes(probs: torch.Tensor, settings: LocalizeSettings, leader: int | None = None) -> Chosen:
    """The classes to show for a frame's ``probs`` (C,): ``settings.class_ids`` when
    fixed, else the ``settings.topk`` most likely; ``leader`` (label hysteresis) goes
    first when given, the rest by probability."""
    if leader is None and settings.class_ids is None:
        scores, ids = probs.topk(settings.topk)
        return Chosen(tuple(ids.tolist()), tuple(scores.tolist()))  # tolist: no tensor a number
    p = as_array(probs)
    if settings.class_ids is not None:
        ids = [int(c) for c in settings.class_ids]
    elif settings.topk == 1:
        ids = [leader]
    else:
        ids = [leader] + [c for c in probs.topk(min(settings.topk + 1, len(p))).indices.tolist()
                          if c != leader][: settings.topk - 1]
    return Chosen(tuple(ids), tuple(float(p[c]) for c in ids))


def as_array(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array: its own memory when it is on the CPU and
    needs no gradient (no ``detach`` or ``cpu`` call to pay for), a copy otherwise."""
    if tensor.is_cpu and not tensor.requires_grad:
        return tensor.numpy()
    return tensor.detach().cpu().numpy()


def evidence_maps(method, evidence: Evidence, class_ids: Sequence[int]) -> np.ndarray:
    """(k, h, w) float32 raw maps of ``class_ids`` from ``evidence`` by ``method``
    (a ``camvideo.cam.methods.CamMethod``). Combined maps (``evidence.first``): the
    mean of both passes' min-max normalized maps, at the maps' pass resolution."""
    maps = method.array_maps(evidence, class_ids)
    if evidence.first is None:
        return maps
    return combined_maps(method.array_maps(evidence.first, class_ids), maps)


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
