"""Exported classifiers (``.onnx``, OpenVINO IR ``.xml`` + ``.bin``) as ``GapClassifier``s.

A deployed network is a graph file, not a Python class. When the graph ends in
global average pooling and one linear layer (``camvideo.models.graph_head``),
exact CAM needs nothing else: ``load_exported`` cuts the graph at the pooled
tensor's input (the feature maps become its output), and puts the linear layer's
weight and bias (from the graph's constants) in an ``nn.Linear``. The result is
a ``GapClassifier`` like any other: its ``features`` is a ``GraphFeatures``, a
module whose forward pass is the cut graph compiled by OpenVINO (there are no
torch layers to run), so torch's ``ExactCam``, smoothing, boxes and overlay work
on its maps unchanged. ``camvideo.runtime.openvino.OpenVINOForward`` compiles the
same cut graph for its modes and devices.

Preprocessing comes from the graph where it says it: the input layout (NCHW or
NHWC, told by which axis has 3 channels), and its height and width when they are
fixed; a graph with a free height and width takes the presets' sizes as lite0
does (224x224 unless ``input_size``). ``mean``/``std`` default to ImageNet's (a graph
with an integer input, uint8, takes the pixels themselves: mean 0, std 1/255);
``bgr``: the graph takes its channels in BGR order (the flip is part of the
compiled graph). Labels: a file, else the graph's metadata (ONNX
``metadata_props`` or IR ``rt_info`` key ``labels``: one name a line, or a JSON
list), else "class 0", "class 1", ...
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from camvideo import is_exported  # noqa: F401 - the registry takes it from here
from camvideo.classnames import read_labels
from camvideo.errors import Hint, ModelLoadError
from camvideo.models.classifiers import IMAGENET_MEAN, IMAGENET_STD, GapClassifier, Preprocessing
from camvideo.models.graph_head import NEEDS, Head, find_head

DEFAULT_SIZE = 224
_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}


def load_exported(path, *, device="cpu", labels=None, input_size=None, mean=None, std=None,
                  bgr: bool = False) -> GapClassifier:
    """The exact-CAM model of the graph at ``path``, on the CPU (OpenVINO runs it;
    ``device`` may be "auto" or "cpu"). A ``ModelLoadError`` with one line for a
    file that is missing, unreadable or whose graph exact CAM cannot use."""
    path = Path(path)
    if str(device) not in ("auto", "cpu"):
        raise ModelLoadError(f"{path.name} is an exported graph, which OpenVINO runs: ",
                             Hint("device", "cpu", "use"), " or openvino:GPU")
    graph = read_graph(path)
    try:
        head = find_head(graph, path.name)
    except ModelLoadError as exc:  # another head: Grad-CAM, which takes any, runs on torch
        if NEEDS not in str(exc):
            raise
        raise ModelLoadError(*exc.parts, " (Grad-CAM takes any head: load the network in PyTorch with ",
                             Hint("checkpoint", "PATH"), ")") from None
    layout, size, fixed = _input_of(graph, path.name, input_size)
    names = _labels(graph, labels, head.num_classes, path.name)
    fc = nn.Linear(head.weight.shape[1], head.num_classes)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(head.weight))
        fc.bias.copy_(torch.from_numpy(head.bias))
    layer = head.features.get_node().get_friendly_name()
    source = GraphSource.of(path, f"{layer}|{head.layout}|{layout}|bgr={bool(bgr)}")
    features = GraphFeatures(cut_graph(graph, head, layout, bgr), layer, size if fixed else None, source)
    pixels = _takes_pixels(graph)  # an integer input: the 0..255 pixels themselves, whatever it does with them
    mean = tuple(mean or ((0.0, 0.0, 0.0) if pixels else IMAGENET_MEAN))
    std = tuple(std or ((1 / 255,) * 3 if pixels else IMAGENET_STD))
    prep = Preprocessing(size=size, mean=mean, std=std, fixed=fixed)
    return GapClassifier(path.name, features, fc, names, prep).eval().requires_grad_(False)


def _labels(graph, labels, classes: int, name: str) -> list[str]:
    """The class names: the ``labels`` file's, else the graph's metadata's, else
    "class 0", "class 1", ...; a count that is not the graph's is one line saying
    where the names came from and what to do."""
    if labels is not None:
        names = read_labels(labels)
        if len(names) != classes:
            raise ModelLoadError(f"{name}: the classifier has {classes} classes but {len(names)} labels were given: "
                                 "one class name per line, in class order")
        return names
    names = graph_labels(graph)
    if names is not None and len(names) != classes:
        raise ModelLoadError(f"{name}: the classifier has {classes} classes but the graph's metadata names "
                             f"{len(names)} labels: give the right ones with ", Hint("labels", "FILE"))
    return names or [f"class {i}" for i in range(classes)]


def read_graph(path: Path):
    """The ``openvino.Model`` of an ``.onnx`` or ``.xml`` file, read by the frontend
    of its suffix alone (OpenVINO's ``read_model`` tries every frontend on a file
    that is not its suffix's, and TensorFlow's writes a line of its own to stderr);
    one line when it cannot be read."""
    if not path.is_file():
        raise ModelLoadError(f"model file {path} not found")
    if path.stat().st_size == 0:  # the ONNX reader takes no bytes for a graph of nothing
        raise ModelLoadError(f"model file {path} is empty (0 bytes): export it again")
    ir = path.suffix.lower() == ".xml"
    if ir and not path.with_suffix(".bin").is_file():
        raise ModelLoadError(f"{path.with_suffix('.bin')} not found: an OpenVINO IR is the .xml and the .bin beside it")
    missing = [name for name in external_names(path) if not (path.parent / name).is_file()] if not ir else []
    if missing:
        raise ModelLoadError(f"{path.parent / missing[0]} not found: {path.name} keeps its weights in that file; "
                             "put it beside the .onnx")
    from openvino.frontend import FrontEndManager

    try:
        frontend = FrontEndManager().load_by_framework("ir" if ir else "onnx")
        return frontend.convert(frontend.load(str(path)))
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's
        raise ModelLoadError(f"cannot read {path.name} as {'an OpenVINO IR' if ir else 'an ONNX'} model "
                             f"({_last_line(exc)}): a damaged or cut-short file, or another format; "
                             "export it again") from None


def _last_line(exc: BaseException) -> str:
    """The reader's own words: the last line of its message (OpenVINO's open with
    the C++ checks it passed through)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def graph_labels(graph) -> list[str] | None:
    """Class names from the graph's metadata (``labels``: ONNX ``metadata_props``,
    read by OpenVINO under ``framework``, or the IR's own ``rt_info``), or None."""
    for key in (["framework", "labels"], ["labels"]):
        try:
            if not graph.has_rt_info(key):
                continue
            text = graph.get_rt_info(key).astype(str)
        except Exception:  # noqa: BLE001 - metadata of another shape: not labels
            continue
        if text.lstrip().startswith("["):
            try:
                names = [str(v) for v in json.loads(text)]
            except ValueError:
                names = []
        else:
            names = [line.strip() for line in text.splitlines() if line.strip()]
        if names:
            return names
    return None


def _input_of(graph, name: str, input_size) -> tuple[str, tuple[int, int], bool]:
    """The input's layout, (height, width) and whether the graph fixes them."""
    if len(graph.inputs) != 1:
        raise ModelLoadError(f"{name} has {len(graph.inputs)} inputs; camvideo feeds it one image batch")
    shape = graph.inputs[0].get_partial_shape()
    if not shape.rank.is_static or shape.rank.get_length() != 4:
        raise ModelLoadError(f"{name}: the input has shape {shape}, not an image batch (N, 3, H, W or N, H, W, 3)")
    dims = list(shape)
    if dims[1].is_static and dims[1].get_length() == 3:
        layout, sides = "NCHW", dims[2:]
    elif dims[3].is_static and dims[3].get_length() == 3:
        layout, sides = "NHWC", dims[1:3]
    else:
        raise ModelLoadError(f"{name}: the input {shape} has no axis of 3 colour channels (NCHW or NHWC): "
                             "export it taking colour images")
    if all(side.is_static for side in sides):
        size = (sides[0].get_length(), sides[1].get_length())
        asked = (input_size, input_size) if isinstance(input_size, int) else input_size
        if asked is not None and tuple(asked) != size:
            raise ModelLoadError(f"{name} takes {size[1]}x{size[0]} images (fixed in the graph): leave ",
                                 Hint("input_size"), " out")
        return layout, size, True
    if input_size is None:
        return layout, (DEFAULT_SIZE, DEFAULT_SIZE), False
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    return layout, size, False


def _takes_pixels(graph) -> bool:
    """Whether the graph's input is of an integer type (uint8 images, as many
    TensorFlow exports take): it is fed the pixels' values, 0..255."""
    return graph.inputs[0].get_element_type().is_integral()


def cut_graph(graph, head: Head, layout: str, bgr: bool):
    """The graph from its input to the feature maps (NCHW out, whatever its own
    layout), taking a float32 NCHW batch in RGB order (BGR flipped inside for
    ``bgr``; rounded to the nearest integer inside for an integer input)."""
    import openvino as ov
    import openvino.opset13 as ops
    from openvino.preprocess import PrePostProcessor

    features = head.features
    if head.layout == "NHWC":
        features = ops.transpose(features, ops.constant(np.array([0, 3, 1, 2], np.int64))).output(0)
    cut = ov.Model([ops.result(features)], graph.get_parameters(), "camvideo-features")
    ppp = PrePostProcessor(cut)
    ppp.input().tensor().set_element_type(ov.Type.f32).set_layout(ov.Layout("NCHW"))
    ppp.input().model().set_layout(ov.Layout(layout))
    if bgr:
        ppp.input().preprocess().reverse_channels()
    if _takes_pixels(graph):  # the float values to integers by rounding, not by the conversion's truncation
        ppp.input().preprocess().custom(lambda node: ops.round(node, "half_to_even").output(0))
    return ppp.build()


@dataclass(frozen=True)
class GraphSource:
    """The files a graph was read from (the ``.onnx`` and the external data files
    it names, or the IR's ``.xml`` and ``.bin``), their size and modification time
    then, and how it was cut: what a compiled-model cache keys on (``digest``)."""

    files: tuple[Path, ...]
    stats: tuple[tuple[int, int], ...]
    cut: str

    @classmethod
    def of(cls, path: Path, cut: str) -> GraphSource:
        if path.suffix.lower() == ".xml":
            files = (path, path.with_suffix(".bin"))
        else:
            files = (path, *external_data(path))
        return cls(files, _stats(files), cut)

    def digest(self) -> str | None:
        """SHA-256 of the files' contents and the cut, or None when a file changed
        since the graph was read (its compiled model is then not the file's)."""
        digest = hashlib.sha256(self.cut.encode())
        try:
            for path in self.files:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):  # noqa: B023 - read at once
                        digest.update(block)
            if _stats(self.files) != self.stats:
                return None
        except OSError:
            return None
        return digest.hexdigest()


def _stats(files) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in files)
    except OSError:
        return ()


_LOCATION = b"\x0a\x08location\x12"  # a StringStringEntryProto: key "location", then its value's tag


def external_data(path: Path) -> tuple[Path, ...]:
    """The external data files an ``.onnx`` file names (``external_names``) that
    are files, in the order first named."""
    return tuple(dict.fromkeys(path.parent / name for name in external_names(path)
                               if (path.parent / name).is_file()))


def external_names(path: Path) -> tuple[str, ...]:
    """The external data files an ``.onnx`` file names, as written (a large model's
    weights beside it: each tensor's ``external_data`` entry ``location``, relative
    to the file's folder), first named first. Read from the protobuf's bytes (no
    ONNX package at run time), once for each size and modification time of the file."""
    try:
        stat = os.stat(path)
    except OSError:  # the reader says why
        return ()
    return _names_in(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _names_in(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    """``external_names`` of the file at ``path`` of that ``size`` and ``mtime_ns``."""
    import mmap

    found: dict[str, None] = {}
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            at = data.find(_LOCATION)
            while at >= 0:
                length, start = _varint(data, at + len(_LOCATION))
                name = data[start:start + length].decode("utf-8", "replace")
                if name:
                    found[name] = None
                at = data.find(_LOCATION, start)
    except (OSError, ValueError):  # unreadable or empty: the reader says so
        return ()
    return tuple(found)


def _varint(data, at: int) -> tuple[int, int]:
    """The protobuf varint at ``at`` in ``data``, and where what follows it starts."""
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value, shift, at = value | (byte & 0x7F) << shift, shift + 7, at + 1
        if not byte & 0x80:
            break
    return value, at


class GraphFeatures(nn.Module):
    """The feature maps of an exported graph: its cut (``cut_graph``) compiled by
    OpenVINO on the CPU, one compiled model per input size (a graph with a fixed
    size takes only that one), one infer request per calling thread. A module so
    that an exported model is a ``GapClassifier`` like any other; it has no torch
    parameters and nothing to fold (``folded_norms``). ``source``: the files it
    came from (``GraphSource``; None: a graph built in memory), whose digest
    ``camvideo.runtime.ovgraph`` keys its compiled models on, taken once."""

    def __init__(self, graph, layer: str, fixed: tuple[int, int] | None = None,
                 source: GraphSource | None = None) -> None:
        super().__init__()
        self.graph = graph
        self.layer = layer
        self.fixed = fixed
        self.source = source
        self._digest: list[str | None] = []  # taken on first use (hashing 45 MB costs ~0.1 s)
        self.folded_norms = 0  # camvideo.cam.forward folds torch batch norms; there are none here
        self._compiled: dict[tuple[int, int], object] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def at(self, size: tuple[int, int]):
        """The cut graph for (height, width) inputs and any batch."""
        import openvino as ov

        if self.fixed is not None and tuple(size) != self.fixed:
            raise ValueError(f"this graph takes {self.fixed[1]}x{self.fixed[0]} inputs only, not {size[1]}x{size[0]}")
        model = self.graph.clone()
        model.reshape(ov.PartialShape([-1, 3, int(size[0]), int(size[1])]))
        return model

    def digest(self) -> str | None:
        """The source files' digest (``GraphSource.digest``), taken once; None
        without a source or when a file changed since it was read."""
        with self._lock:
            if not self._digest:
                self._digest.append(self.source.digest() if self.source is not None else None)
            return self._digest[0]

    def compile(self, core, size: tuple[int, int], device: str = "CPU", config: dict | None = None):
        """The cut graph at ``size`` compiled for ``device``."""
        return core.compile_model(self.at(size), device, dict(config if config is not None else _CONFIG))

    def _request(self, size: tuple[int, int]):
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if size not in requests:
            with self._lock:
                compiled = self._compiled.get(size)
                if compiled is None:
                    from camvideo.models.ovcore import core

                    compiled = self._compiled[size] = self.compile(core(), size)
            requests[size] = compiled.create_infer_request()
        return requests[size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        request = self._request((int(x.shape[2]), int(x.shape[3])))
        request.infer([np.ascontiguousarray(x.detach().float().cpu().numpy())])
        return torch.from_numpy(np.array(request.get_output_tensor(0).data, copy=True))
