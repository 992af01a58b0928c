"""Which inference runtime runs the forward pass: ``auto``, ``torch`` or ``openvino``.

``auto`` takes OpenVINO for an exact-CAM model on the CPU (about twice as fast as
eager torch there) and torch everywhere else: on CUDA and MPS (torch is the fast
path on a GPU) and for Grad-CAM (it needs torch's backward pass). ``openvino``
asks for it outright; an OpenVINO device (``openvino:GPU``, ``openvino:NPU``)
implies it, and one OpenVINO does not have here is a ``CamvideoError`` that lists
the ones it has (``check_openvino_device``: asked for outright, never a quiet
fallback). A model that will not convert, or an OpenVINO that will not load,
falls back to torch with one log line saying why: the runtime is an
optimization, never the reason a model cannot run.

``make_forward`` builds the forward pass for a ``FrameLocalizer`` (None: torch's
own); ``convert_in_background`` does it in a thread, for a window that starts
the stream on torch and switches (``FrameLocalizer.use_forward``) when the
conversion is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from camvideo.cam.forward import Forward
from camvideo.cam.methods import method_class
from camvideo.errors import CamvideoError, Hint, reason
from camvideo.runtime.choices import int8_of_exported, openvino_off_cpu, openvino_with_torch, precision_with_torch
from camvideo.settings import PRECISIONS, RUNTIMES

log = logging.getLogger(__name__)

_OPENVINO_PREFIX = "openvino:"
# OpenVINO's devices that stand for others (``AUTO:GPU,CPU``): not in ``available_devices``
_VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI", "BATCH")
_SKIPPING = ("AUTO", "MULTI")  # virtual devices that leave out the listed devices OpenVINO lacks


@dataclass(frozen=True)
class DeviceChoice:
    """``--device`` split in two: the torch device the model loads on, and the
    OpenVINO device (None unless ``openvino:NAME`` was asked for)."""

    torch: str
    openvino: str | None = None


def parse_device(device: str) -> DeviceChoice:
    """``openvino:GPU`` -> (cpu, GPU): the model loads on the CPU and OpenVINO
    compiles it for its GPU; any other value is the torch device, unchanged."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a str, got {type(device).__name__}")
    if device.lower().startswith(_OPENVINO_PREFIX):
        name = device[len(_OPENVINO_PREFIX):].strip().upper()
        if not name:
            raise ValueError(f"device {device!r}: name an OpenVINO device, e.g. openvino:GPU or openvino:CPU")
        return DeviceChoice("cpu", name)
    return DeviceChoice(device)


def check_openvino_device(name: str) -> None:
    """A ``CamvideoError`` (one line, the devices OpenVINO has) unless OpenVINO has
    every device ``name`` names here: "GPU" names any of "GPU.0", "GPU.1", and
    "GPU.1" only itself; a virtual device names those in its list ("AUTO:GPU,CPU",
    "HETERO:GPU,CPU", "MULTI:GPU(4),CPU", "BATCH:GPU(8)": ``named_devices``), and
    "AUTO" alone, or a list with nothing missing, is OpenVINO's to check. AUTO and
    MULTI run on the listed devices OpenVINO has (``AUTO:NPU,CPU``: the NPU where
    there is one, else the CPU): only a list of which it has none is the error.
    Nothing to check without OpenVINO (the forward pass then says why it runs on torch)."""
    from camvideo.runtime import openvino

    if not openvino.available():
        return
    have = openvino.devices()
    families = {d.split(".")[0] for d in have}
    named = named_devices(name)
    missing = [d for d in named if not (d in have or ("." not in d and d in families))]
    if not missing or (name.split(":")[0] in _SKIPPING and len(missing) < len(named)):
        return
    which = f"device {missing[0]}" if len(missing) == 1 else f"devices {', '.join(missing)}"
    raise CamvideoError(Hint("device", f"openvino:{name}", subject=True),
                        f"OpenVINO has no {which} here; it has {', '.join(have) or 'none'} (",
                        Hint("device", f"openvino:{have[0] if have else 'CPU'}", "use"), ")")


def named_devices(name: str) -> list[str]:
    """The real devices an OpenVINO device string names: ["GPU.1"] for "GPU.1"; for
    a virtual device, those in its list ("AUTO:GPU,CPU" -> GPU, CPU; "MULTI:GPU(4)"
    -> GPU), without the ones it excludes ("AUTO:-CPU") or a virtual one inside it."""
    head, _, listed = name.partition(":")
    if head.split(".")[0] not in _VIRTUAL_DEVICES:
        return [head]
    entries = (entry.strip().split("(")[0].strip() for entry in listed.split(","))
    return [e for e in entries if e and not e.startswith("-") and e.split(".")[0].split(":")[0] not in _VIRTUAL_DEVICES]


def choose_runtime(model, runtime: str = "auto", *, openvino_device: str | None = None,
                   precision: str = "f32") -> str:
    """"torch" or "openvino" for ``model`` (see the module). A request that cannot
    be met (``openvino`` for Grad-CAM or a GPU model, a ``precision`` other than
    f32 or auto with ``torch``, int8 for an exported graph) is a ``CamvideoError``; with ``auto``, a model that runs
    on torch runs f32 whatever ``precision`` asks (one warning says so, but for auto)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and _exported(model):
        raise int8_of_exported(model.name)
    chosen = _choose(model, runtime, openvino_device)
    if chosen == "torch" and precision not in ("auto", "f32"):
        if runtime == "torch":
            raise precision_with_torch(precision)
        log.warning("%s runs on torch here, in f32: precision %s is OpenVINO's", model.name, precision)
    return chosen


def _exported(model) -> bool:
    """Whether ``model`` is an exported graph's (its features are the graph's own)."""
    from camvideo.models.exported import GraphFeatures

    return isinstance(getattr(model, "features", None), GraphFeatures)


def _choose(model, runtime: str, openvino_device: str | None) -> str:
    exact = method_class(model).other_runtimes
    on_cpu = model.device.type == "cpu"
    if openvino_device is not None:
        if runtime == "torch":
            raise openvino_with_torch(f"openvino:{openvino_device}")
        check_openvino_device(openvino_device)
        runtime = "openvino"
    if runtime == "torch":
        return "torch"
    if runtime == "openvino":
        if not exact:
            raise CamvideoError(Hint("runtime", "openvino", subject=True),
                                f"{model.name} gets Grad-CAM, which needs torch's backward pass; ",
                                Hint("runtime", "torch", "use"), " (or auto)")
        if not on_cpu:
            raise openvino_off_cpu(model.device)
        return "openvino"
    if not (exact and on_cpu):
        return "torch"
    from camvideo.runtime import openvino

    return "openvino" if openvino.available() else "torch"


def make_forward(model, runtime: str = "auto", *, mode: str = "latency", openvino_device: str | None = None,
                 threads: int | None = None, cache: Path | None = None, sizes=None,
                 background: bool = False, precision: str = "f32") -> Forward | None:
    """The forward pass ``runtime`` picks for ``model``: an ``OpenVINOForward``, or
    None for torch's own. ``sizes``: the input sizes (height, width) to make ready
    now (``camvideo.cam.multiscale.input_sizes`` of the source's frames; default:
    the model's own); others are made on first use (``background``: in a thread,
    torch meanwhile). ``precision``: OpenVINO's arithmetic (``PRECISIONS``).
    OpenVINO failing to convert or compile the model gives None and one warning
    with the reason."""
    if choose_runtime(model, runtime, openvino_device=openvino_device, precision=precision) == "torch":
        return None
    from camvideo.runtime.openvino import OpenVINOForward

    try:
        return OpenVINOForward(model, device=openvino_device or "CPU", mode=mode, threads=threads, cache=cache,
                               sizes=sizes, background=background, precision=precision)
    except Exception as exc:  # noqa: BLE001 - an optimization: fall back, say why
        log.warning("OpenVINO cannot run %s (%s); running the forward pass on torch", model.name, reason(exc))
        return None


def convert_in_background(model, runtime: str = "auto", *, mode: str = "latency",
                          openvino_device: str | None = None, threads: int | None = None, cache: Path | None = None,
                          sizes=None, background: bool = False, precision: str = "f32",
                          on_ready: Callable[[Forward | None], None] | None = None) -> Future:
    """``make_forward`` in a daemon thread: a Future of its result (an OpenVINO
    forward, or None for torch), also handed to ``on_ready`` (in that thread).
    The runtime request is checked here, before the thread starts."""
    chosen = choose_runtime(model, runtime, openvino_device=openvino_device, precision=precision)
    future: Future = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            forward = None if chosen == "torch" else make_forward(
                model, chosen, mode=mode, openvino_device=openvino_device, threads=threads, cache=cache, sizes=sizes,
                background=background, precision=precision)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
            future.set_exception(exc)
            return
        future.set_result(forward)
        if on_ready is not None:
            try:
                on_ready(forward)
            except Exception:  # noqa: BLE001 - a bad callback must not go unnoticed, nor kill anything
                log.exception("on_ready callback failed")

    threading.Thread(target=run, name="camvideo-convert", daemon=True).start()
    return future
