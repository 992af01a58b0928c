"""A model and its forward pass from a ``ModelOptions``: the one way every front
end loads one (the command line, a batch's workers).

``load_model_from(options)`` loads the model on the torch device ``options.device``
names (``openvino:GPU``: the CPU, OpenVINO compiles it for its device), checks
the classes asked for against the model's own, and turns an allocation that fails
into one line (``memory_errors``). ``forward_for(model, options)`` is the forward
pass ``options.runtime`` picks (``runtimes.make_forward``; None: torch's). torch
is imported when they run, not with this module.
"""

from __future__ import annotations

import contextlib
import re

from camvideo.errors import CamvideoError, Hint, reason
from camvideo.settings import ModelOptions


def load_model_from(options: ModelOptions):
    """The model of ``options`` (a ``CamModel``); a ``CamvideoError`` that says which
    option is wrong when it cannot be loaded."""
    if not isinstance(options, ModelOptions):
        raise TypeError(f"options must be a ModelOptions, got {type(options).__name__}")
    from camvideo.models import load_model
    from camvideo.runtime.runtimes import check_openvino_device, parse_device

    try:
        choice = parse_device(options.device)  # openvino:GPU: the model loads on the CPU
    except ValueError as exc:
        raise CamvideoError(Hint("device", subject=True), str(exc)) from None
    if choice.openvino is not None:  # a device OpenVINO lacks fails before the model loads
        check_openvino_device(choice.openvino)
    device = choice.torch
    try:
        with memory_errors(options):
            model = load_model(options.model, device=device, **options.load_kwargs())
    except ValueError as exc:
        raise CamvideoError(str(exc)) from None
    check_classes(model, options)
    return model


def check_classes(model, options: ModelOptions) -> None:
    """The class ids and the top-k of ``options`` can only be checked against the
    model's own class count."""
    n = model.num_classes
    ids = options.class_ids or ()
    wrong = [str(c) for c in ids if not 0 <= c < n]
    if wrong:
        raise CamvideoError(Hint("class"), f" must be a class id of {options.model} in 0..{n - 1}, got {', '.join(wrong)}")
    if (options.topk or 1) > n:
        raise CamvideoError(Hint("topk"), f" must be at most {n}, the classes of {options.model}, got {options.topk}")


def forward_for(model, options: ModelOptions, *, mode: str = "latency", threads: int | None = None, sizes=None):
    """The forward pass ``options.runtime`` and ``options.device`` pick for ``model``:
    an OpenVINO forward in ``mode`` (latency or throughput) at ``threads`` and
    ``options.precision``, or None for torch's own
    (``camvideo.runtime.runtimes.make_forward``). ``sizes``: the input sizes
    (height, width) made ready now (``frame_sizes``; default: the model's own)."""
    from camvideo.runtime.runtimes import make_forward, parse_device

    device = parse_device(options.device)
    return make_forward(model, options.runtime, mode=mode, openvino_device=device.openvino, threads=threads,
                        precision=options.precision, sizes=sizes)


def frame_sizes(model, settings, frame_size: tuple[int, int] | None):
    """The input sizes (height, width) the passes of ``settings`` (a
    ``LocalizeSettings``) feed ``model`` for frames of ``frame_size`` (width,
    height): the ones to make ready before the first frame, so that a 4:3 file on
    the default preset compiles its 224x288 model only, not the model's own
    224x224 too. None (the model's own size) when the frame size is not known."""
    if frame_size is None or settings is None:
        return None
    from camvideo.cam.multiscale import input_sizes

    width, height = frame_size
    return input_sizes(width, height, tuple(model.preprocessing.size), settings.maps)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed: Python's MemoryError, torch's
    OutOfMemoryError (CUDA), its CPU allocator's RuntimeError, or oneDNN's "could
    not create a primitive" (a convolution whose workspace could not be allocated:
    which of the two a run hits near the limit is chance; CI saw the second), or
    OpenVINO's CPU plugin's "can't alloc" or "Failed to allocate N bytes" (a node's
    buffer), or OpenCV's ``cv2.error`` "Insufficient memory" (a frame's resize or blob)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    if _opencv_error(exc):
        return "insufficient memory" in text
    return isinstance(exc, RuntimeError) and any(
        words in text for words in ("can't alloc", "failed to allocate", "out of memory", "could not create a primitive"))


def _opencv_error(exc: BaseException) -> bool:
    """Whether ``exc`` is OpenCV's ``cv2.error`` (not imported here: cv2 may not be yet)."""
    return type(exc).__module__ == "cv2" and type(exc).__name__ == "error"


@contextlib.contextmanager
def memory_errors(options):
    """An allocation that fails inside (the model, a forward pass) becomes one line.
    ``options``: a ``ModelOptions``, or anything with its ``model``, ``device`` and
    ``input_size``."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - all but an allocation that failed is raised again as it was
        if not out_of_memory(exc):
            raise
        raise memory_error(exc, options) from None


def memory_error(exc: BaseException, options) -> CamvideoError:
    """``not enough memory for lite0 on cpu (it asked for 120.0 GB); try ...``"""
    asked = re.search(r"(?:tried|failed) to allocate ([0-9.]+) ?(bytes|[KMGT]i?B)", str(exc), re.IGNORECASE)
    if asked and asked.group(2).lower() == "bytes":
        why = f"it asked for {_size(int(asked.group(1)))}"
    elif asked:
        why = f"it asked for {asked.group(1)} {asked.group(2)}"  # CUDA says e.g. 20.00 GiB
    elif "can't alloc" in str(exc) and "can't allocate memory" not in str(exc):
        why = "OpenVINO could not allocate a layer's buffer"  # its message: a node's name, over lines
    else:
        why = reason(exc)
    size = getattr(options, "input_size", None)
    hint = ("a smaller ", Hint("input_size"), f" than {size}") if size else ("a smaller model or batch",)
    return CamvideoError(f"not enough memory for {options.model} on {options.device} ({why}); try ", *hint)


def _size(count: int) -> str:
    """``134217728`` -> ``128.0 MiB``."""
    value, unit = float(count), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{value:.0f} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
