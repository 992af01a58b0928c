"""The two shapes of classifier camvideo localizes with.

``GapClassifier``: features -> global average pooling -> one linear layer, the
shape exact CAM needs. ``GradCamClassifier``: any other head; its maps come from
Grad-CAM on the last 4-D map. ``Preprocessing`` travels with either.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from camvideo.errors import ModelLoadError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How a frame becomes model input: resize the whole frame to ``size``, scale
    RGB to [0, 1], subtract ``mean`` and divide by ``std``.

    The whole frame is resized (not cropped), so the class maps cover the whole
    frame and map back to source pixels by a plain scale. ``fixed``: the network
    takes ``size`` only (an exported graph with a fixed input), so every pass is
    at that size whatever the quality preset asks.
    """

    size: tuple[int, int] = (224, 224)  # (height, width)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    fixed: bool = False


class GapClassifier(nn.Module):
    """``features`` -> global average pooling -> ``fc``: the shape CAM needs.

    ``forward`` returns the last convolutional maps (B, K, h, w); ``classify``
    turns them into logits exactly as the original network's head does.
    """

    method = "cam"

    def __init__(
        self,
        name: str,
        features: nn.Module,
        fc: nn.Linear,
        labels: list[str],
        preprocessing: Preprocessing,
        network: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if fc.out_features != len(labels):
            raise ModelLoadError(
                f"{name}: the classifier has {fc.out_features} classes but {len(labels)} labels were given"
            )
        self.name = name
        self.features = features
        self.fc = fc
        self.labels = list(labels)
        self.preprocessing = preprocessing
        self.layer = getattr(features, "layer", "")  # the feature layer's name in the network
        # The untouched network, for checking that features + fc reproduce it. Kept
        # outside the module tree: its parameters are the same tensors.
        object.__setattr__(self, "network", network)

    @property
    def weight(self) -> torch.Tensor:
        return self.fc.weight

    @property
    def bias(self) -> torch.Tensor:
        if self.fc.bias is None:
            return torch.zeros(self.fc.out_features, device=self.fc.weight.device, dtype=self.fc.weight.dtype)
        return self.fc.bias

    @property
    def device(self) -> torch.device:
        return self.fc.weight.device

    @property
    def num_classes(self) -> int:
        return self.fc.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def classify(self, feature_maps: torch.Tensor) -> torch.Tensor:
        return self.fc(feature_maps.mean(dim=(2, 3)))


class GradCamClassifier(nn.Module):
    """A classifier whose head is not GAP -> Linear: maps come from Grad-CAM.

    ``forward(x)`` returns ``(maps, logits)``: ``maps`` is the chosen layer's 4-D
    output as a leaf that requires grad (the rest of the network sees a copy), so
    under ``torch.enable_grad()`` a backward from a logit runs through the head
    only. See ``camvideo.cam.methods.GradCam``.
    """

    method = "gradcam"

    def __init__(
        self,
        name: str,
        net: nn.Module,
        num_classes: int,
        labels: list[str],
        preprocessing: Preprocessing,
        network: nn.Module | None = None,
        layer: str = "",
    ) -> None:
        super().__init__()
        if num_classes != len(labels):
            raise ModelLoadError(f"{name}: the classifier has {num_classes} classes but {len(labels)} labels were given")
        self.name = name
        self.net = net
        self.labels = list(labels)
        self.preprocessing = preprocessing
        self.layer = layer
        self._num_classes = num_classes
        object.__setattr__(self, "network", network)

    @property
    def device(self) -> torch.device:
        return next((p.device for p in self.parameters()), torch.device("cpu"))

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x)


CamModel = GapClassifier | GradCamClassifier

