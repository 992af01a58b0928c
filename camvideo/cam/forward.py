"""The forward pass of an exact-CAM model as a replaceable part: image batch -> last maps.

``ExactCam`` (``camvideo.cam.methods``) needs only the last convolutional maps
from the network; the class weights, the smoothing, the boxes and the overlay
work on those maps whatever made them. A ``Forward`` is the object that makes
them: ``prepare_frames`` makes the batch it runs from BGR frames (timed as
preprocessing: ``TorchForward`` the normalized float batch of
``camvideo.cam.preprocess.preprocess``, ``OpenVINOForward`` the resized uint8 pixels
its graph normalizes), ``prepare`` puts an already preprocessed batch in the
layout it wants, and calling it on either returns the (B, K, h, w) maps as a
tensor on the model's device. ``TorchForward`` runs the model's own feature extractor in eager
PyTorch, the default; another inference runtime plugs in as another ``Forward``
(``ExactCam(model, forward=...)``, ``FrameLocalizer(model, forward=...)``).
Grad-CAM needs torch's backward pass and takes no ``Forward``. A ``Forward`` may
also have ``features_and_logits(x)``, the maps and the head's logits of one
inference (``OpenVINOForward``'s graphs hold the head): ``ExactCam`` then takes
the logits from it instead of running the model's head in torch.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import torch

from camvideo.cam.preprocess import from_pixels, is_pixels, preprocess
from camvideo.models import GapClassifier
from camvideo.models.fold import fold_batchnorm

log = logging.getLogger(__name__)


@runtime_checkable
class Forward(Protocol):
    """Image batch -> the model's last feature maps."""

    name: str  # the runtime, for logs and the benchmark: "torch", "openvino", ...

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed (B, 3, H, W) batch in the layout this forward pass wants."""
        ...

    def prepare_frames(self, frames, model) -> torch.Tensor:
        """The batch this forward pass runs, made from BGR uint8 frames (any sizes)
        at ``model.preprocessing.size`` (``model``: what ``preprocess`` takes):
        ``preprocess``'s float batch, prepared, or a ``preprocess.pixels`` batch."""
        ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) feature maps of a prepared batch (either kind). Called under
        ``torch.inference_mode()`` and the method's autocast, as the model's own
        forward pass would be."""
        ...


class TorchForward:
    """The model's feature extractor in eager PyTorch (the default ``Forward``).

    ``channels_last``: convert the model (in place) and each batch to NHWC memory,
    measured 15-20% faster for lite0 on the CPU (oneDNN) and the layout tensor
    cores want. ``fold``: replace the model's feature extractor by a copy with its
    batch norms folded into the convolutions before them (same maps to float
    rounding, ~19% faster for lite0 on the CPU; see ``camvideo.models.fold``); a
    model folded once (by another localizer) is not folded again. ``compile``:
    ``torch.compile`` the feature extractor in place (opt-in; hooks registered
    before this are traced with it); the first batch of each size pays the
    compilation.
    """

    name = "torch"

    def __init__(self, model: GapClassifier, *, channels_last: bool = False, fold: bool = False,
                 compile: bool = False) -> None:
        self.model = model
        self.channels_last = channels_last
        if fold and not hasattr(model.features, "folded_norms"):
            model.features = folded(model)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if compile:
            model.features.compile()

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def prepare_frames(self, frames, model) -> torch.Tensor:
        return self.prepare(preprocess(frames, model))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if is_pixels(x):  # prepared by another runtime's forward pass (a switch with a batch in flight)
            x = self.prepare(from_pixels(x, self.model))
        return self.model(x)


def folded(model: GapClassifier) -> torch.nn.Module:
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
