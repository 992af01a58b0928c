"""The checks of a command's inputs that need no torch: a SOURCE path that names
nothing, a folder with nothing to process, a ``--model`` name that is no model,
and the model options every command shares (``check_model_args``: a ``--device``
that no torch or OpenVINO device is spelt like, with the one it may be a typo of;
``--device``, ``--runtime`` and ``--precision`` that no model can run together; a
``--weights``, ``--checkpoint``, ``--labels`` or exported ``--model`` file that is
not there; ``--precision int8`` without NNCF). They run before the command imports
torch (seconds on a busy machine), so a typo is one line at once.

The model names come from the list the window keeps (``camvideo.app.catalogue``,
one per torchvision version, made the first time the window or ``camvideo gui``
lists the models, or when ``camvideo models`` or a model load that failed has
imported torchvision: ``keep_model_names``); with no list kept, a name is left to the model
load to check.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import re
import sys
from pathlib import Path

from camvideo import is_exported
from camvideo.errors import CamvideoError, Hint, InputError, ModelLoadError, unknown_model
from camvideo.settings import DEVICES, ModelOptions
from camvideo.video.spec import IMAGE_SUFFIXES, SourceSpec


def check_source(text: str, *, videos: bool = False) -> None:
    """A SOURCE path that does not exist, or a folder with no images, is an
    ``InputError`` (``videos``: the line says that a folder of videos is taken too, as
    ``process`` does, a batch); a camera, a URL, a glob or a file is left to open."""
    spec = SourceSpec.parse(text)
    if spec.kind == "file" and not spec.path.exists():
        raise InputError(f"{text}: no such file or folder")
    if spec.kind != "folder":
        return
    try:
        names = [e.name for e in os.scandir(spec.path) if e.is_file()]
    except OSError:
        return  # unreadable: opening it says why
    if any(os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES for n in names):
        return
    if not videos:
        raise InputError(f"{text}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
    from camvideo.batch.plan import VIDEO_SUFFIXES

    raise InputError(f"{text}: folder has no images ({', '.join(IMAGE_SUFFIXES)}) and no videos "
                     f"({', '.join(VIDEO_SUFFIXES)}; a folder of videos, its subfolders too, is a batch)")


def kept_model_names() -> set[str] | None:
    """Every model name of the window's kept list (no torch), or None when none is kept."""
    import json

    from camvideo.app.catalogue import catalogue_path

    try:
        pairs = json.loads(catalogue_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(pairs, list) or not all(isinstance(p, list) and p for p in pairs):
        return None
    return {str(p[0]) for p in pairs}


def keep_model_names() -> None:
    """Keep the model list (``camvideo.app.catalogue``) when none is kept and this process
    has imported torchvision anyway (a failed model load, ``camvideo models``): 0.1 s once per
    torchvision version, and from then on a ``--model`` typo is one line before torch.
    Never an error: a list that cannot be made or kept is made another time."""
    import contextlib
    import sys

    if "torchvision.models" not in sys.modules or kept_model_names() is not None:
        return
    from camvideo.app.catalogue import catalogue_here, keep

    with contextlib.suppress(Exception):
        keep(catalogue_here())


def check_model_name(name: str, names: set[str] | None = None) -> None:
    """A ``--model`` NAME missing from ``names`` (default: ``kept_model_names``) is a
    ``ModelLoadError`` naming the models it may be a typo of, as the model load says
    it; an exported graph's file, a ``timm:NAME`` or no list kept pass unchecked."""
    if not name or is_exported(name) or name.startswith("timm:"):
        return
    names = kept_model_names() if names is None else names
    bare = name.removeprefix("torchvision:")
    if not names or bare in names:
        return
    raise unknown_model(name, sorted(names), typed=bare)


# torch's device types: what torch.device takes, alone or as TYPE:N (torch 2.x); the PrivateUse1
# backend under the name an extension gives it: privateuse1_device
TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                      "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_TORCH_DEVICE = re.compile(rf"(?:{'|'.join(TORCH_DEVICE_TYPES)})(?::(?:0|[1-9][0-9]*))?")
# what people type for a device, and the value that means it
DEVICE_WORDS = {"gpu": "cuda", "nvidia": "cuda", "apple": "mps", "metal": "mps", "intel": "openvino:GPU",
                "npu": "openvino:NPU", "openvino": "openvino:CPU", "ov": "openvino:CPU"}


def check_model_args(args: argparse.Namespace) -> None:
    """The model options of ``args`` (a command with ``--device``), checked before torch
    loads: the ``ModelOptions`` they make, the device's spelling, the runtime's choices
    that no model can meet, the files they name; a ``CamvideoError`` (one line) at the
    first that is wrong. A command without them passes."""
    if not isinstance(getattr(args, "device", None), str):
        return
    check_device(args.device)
    if not hasattr(args, "runtime"):  # bench: its own options
        return
    from camvideo.cli.options import model_options_from_args

    options = model_options_from_args(args)  # --input-size, --mean, --std, --topk
    check_runtime_choice(options)
    check_model_files(options)


def check_device(device: str) -> None:
    """``--device`` spelt as no device is (``gpu``, ``CUDA``, ``cuda0``): a ``CamvideoError``
    with the value it may be a typo of. auto, a torch device type (``cuda``, ``cuda:1``,
    ``mps``, ``xpu``), the name of torch's PrivateUse1 backend (``privateuse1_device``) and
    ``openvino:NAME`` pass; whether the machine has it is the model load's to say. A
    name spelt like a torch device (``gpu``, ``cdua``) is refused with its guess even
    where a device extension is installed."""
    if device == "auto" or _TORCH_DEVICE.fullmatch(device):
        return
    if device.lower().startswith("openvino:") and device[len("openvino:"):].strip():
        return
    guess = device_guess(device)
    typo = guess is not None and guess != device and not guess.startswith("openvino:")
    if not typo and privateuse1_device(device):
        return
    raise CamvideoError(Hint("device"), f" must be {DEVICES}, got {device!r}"
                        + (f"; did you mean {guess}?" if guess and guess != device else ""))


def privateuse1_device(device: str) -> bool:
    """May ``device`` (``TYPE`` or ``TYPE:N``) be torch's PrivateUse1 backend, which an
    out-of-tree extension names (Ascend's ``npu``)? When torch is imported already, its
    own answer (``torch._C._get_privateuse1_backend_name()``); before (torch is not
    imported here), whether a device extension is installed that torch loads when it is
    imported (an entry point of the group ``torch.backends``): then the load says
    whether the name is a device."""
    found = re.fullmatch(r"([a-z_][a-z0-9_]*)(?::(?:0|[1-9][0-9]*))?", device)
    if found is None:
        return False
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            return found.group(1) == torch._C._get_privateuse1_backend_name()
        except (AttributeError, RuntimeError):
            return False
    from importlib.metadata import entry_points

    return bool(entry_points(group="torch.backends"))


def device_guess(device: str) -> str | None:
    """The value ``device`` may be a typo of: its own spelling in lower case without spaces
    (``CUDA`` -> cuda, ``cuda 1`` -> cuda:1), a word for one (``gpu`` -> cuda, ``intel`` ->
    openvino:GPU), or the value it is closest to (``cdua`` -> cuda); None for none."""
    text = re.sub(r"\s+", "", device.lower())
    if text.startswith("openvino:"):
        return "openvino:" + (text[len("openvino:"):].upper() or "CPU")
    found = re.fullmatch(r"([a-z_]+):?([0-9]*)", text)
    if found is None:
        return None
    head, index = found.groups()
    head = DEVICE_WORDS.get(head, head)
    if head not in TORCH_DEVICE_TYPES and head != "auto" and not head.startswith("openvino:"):
        close = difflib.get_close_matches(head, ("auto", "cpu", "cuda", "mps"), n=1, cutoff=0.6)
        if not close:
            return None
        head = close[0]
    if head == "auto" or head.startswith("openvino:"):
        return head
    return f"{head}:{int(index)}" if index else head


def check_runtime_choice(options: ModelOptions) -> None:
    """``--device``, ``--runtime`` and ``--precision`` that no model can run together:
    an OpenVINO device or precision with ``--runtime torch``, a GPU of torch's with
    ``--runtime openvino``; ``--precision int8`` or ``--runtime torch`` for an exported graph; int8 without
    NNCF (the words of ``camvideo.runtime.choices``, which the load says them in,
    and ``quantize``'s)."""
    from camvideo.runtime.choices import (
        int8_of_exported,
        openvino_off_cpu,
        openvino_with_torch,
        precision_with_torch,
        torch_of_exported,
    )

    if options.runtime == "torch" and options.device.lower().startswith("openvino:"):
        raise openvino_with_torch(options.device)
    if options.runtime == "torch" and options.precision not in ("auto", "f32"):
        raise precision_with_torch(options.precision)
    if options.runtime == "openvino" and options.device.split(":")[0] in ("cuda", "mps", "xpu"):
        raise openvino_off_cpu(options.device)
    if options.precision == "int8" and is_exported(options.model):
        raise int8_of_exported(Path(options.model).name)
    if options.runtime == "torch" and is_exported(options.model):
        raise torch_of_exported(Path(options.model).name)
    if options.precision == "int8" and importlib.util.find_spec("nncf") is None:
        raise CamvideoError(Hint("precision", "int8", subject=True),
                            "needs NNCF: pip install 'camvideo[int8]' (or choose ", Hint("precision", "f32"), ")")


def check_model_files(options: ModelOptions) -> None:
    """The files the model options name, as the load says it: ``--weights`` and
    ``--checkpoint`` missing, or a folder, a pipe, a device (what a file holds is the
    load's to say); ``--labels`` read (``classnames.read_labels``: a small text file);
    an exported ``--model``'s files (``check_graph_files``)."""
    from camvideo.errors import not_a_file

    for kind, path in (("weights file", options.weights), ("checkpoint", options.checkpoint)):
        if not path:
            continue
        if not os.path.exists(path):
            raise ModelLoadError(f"{kind} {path} does not exist")
        special = not_a_file(os.stat(path).st_mode)
        if special:
            raise ModelLoadError(f"cannot read {kind} {path}: it is {special}, not a file")
    if options.labels:
        from camvideo.classnames import read_labels

        read_labels(options.labels)
    if is_exported(options.model):
        check_graph_files(Path(options.model))


def check_graph_files(path: Path) -> None:
    """An exported graph's files are there: the ``.onnx``, or the ``.xml`` and its ``.bin``."""
    for need in (path, path.with_suffix(".bin")) if path.suffix.lower() == ".xml" else (path,):
        if not need.is_file():
            also = ": an OpenVINO IR is the .xml and the .bin beside it" if need != path else ""
            raise ModelLoadError(f"model file {need} {'is a folder' if need.is_dir() else 'not found'}"
                                 + also)
