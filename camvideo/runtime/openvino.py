"""OpenVINO for exact CAM's forward pass: converted once, cached on disk, no copies.

On a CPU the forward pass is nearly all of an exact-CAM frame's cost, and
OpenVINO runs lite0's feature extractor about twice as fast as eager torch
(folded, channels_last) on this machine (see README, Speed). ``OpenVINOForward``
is a ``camvideo.cam.forward.Forward``: the class weights, smoothing, boxes and
overlay stay in torch and NumPy, unchanged. camvideo's conversions hold the
model's head too (``ovbuild.with_head``): ``features_and_logits`` gives the maps
and the logits of one inference, which ``ExactCam`` takes instead of running the
head in torch (docs/measuring.md, The inference stage around its forward pass).

- **Conversion** happens once per model and input size, kept in the user cache
  folder and checked against a manifest (``camvideo.runtime.ovcache``), the
  compiled model beside it with its own digest.
- **Pixels in**: the forward half hands OpenVINO the frames' pixels resized to the
  input size (``prepare_frames``: ``preprocess.pixels``, uint8 BGR NHWC, OpenCV's
  resize as torch's), and each size's compiled model converts them to float,
  reverses the channels and normalizes them itself (``ovbuild.with_pixels``, its
  own blob in the cache): the same numbers as ``preprocess``'s batch, with no
  normalizing pass in Python. The IR keeps its float input, compiled on its first
  float batch (the benchmark's forward pass alone; a batch prepared by torch while a
  window switched runtimes). OpenVINO's own resize (Interpolate) costs several times OpenCV's
  here, so the resize stays outside (docs/measuring.md, The frame's pixels into
  OpenVINO's graph).
- **No copies**: the input batch is shared with OpenVINO (``shared_memory``), and
  each call hands OpenVINO fresh NumPy arrays to write the features (and logits)
  into, which come back as tensors through ``torch.from_numpy``. A fresh array per call,
  because a request's own output buffer is reused by its next inference while
  the features of a batch may still wait for the in-order half.
- **Input sizes**: the quality presets feed the network the frame's aspect ratio
  (224x288 for 4:3 under ``balanced``, a second, larger pass under ``best``), so
  one ``OpenVINOForward`` holds one compiled model per input size: each converted
  at its own size (its own cache entry) on first use and compiled, the
  ``MAX_SHAPES`` last used kept. A static-shape model, not one dynamic-shape
  model: tracing freezes shape arithmetic (lite0's "same" padding), so a model
  converted with a free height and width still gives the traced size's features
  (7x9 for any input when traced at 224x288), and at the traced size itself it
  took 1.39x the static model's time on this machine (95 ms against 68 ms, 1
  thread, one run on the busy machine).
- **Batches**: each size compiles its IR with the batch fixed at one frame (a
  static shape; what a window and a live source feed it), which costs less CPU a
  frame than the free batch (docs/measuring.md, The forward half around OpenVINO's
  inference); a larger batch (a file run's 4 frames on the CPU,
  ``workers.auto_batch``; ``--batch-size``; mirror averaging) compiles its own
  static batch on its first use (4 frames: ~0.6 CPU ms a frame less than the free
  batch); a file run's last, partial batch runs a frame at a time (``_Shape``).
- **Modes**: ``latency`` (live sources, single images: one request, OpenVINO's
  LATENCY hint) and ``throughput`` (files: the THROUGHPUT hint's streams, driven
  by an ``AsyncInferQueue``; callers keep their own order, as the pipeline does).
  Latency mode with no thread count (``live_openvino_threads``) is one stream
  over every core with its threads not pinned to cores: a request spread over
  cores waits for its slowest thread, and a pinned thread cannot leave a core that
  another process holds (measured on 2 shared cores: docs/measuring.md, Live).
- **Devices**: ``CPU`` (the default), or an Intel ``GPU``/``NPU`` where
  OpenVINO sees one (``--device openvino:GPU``).
- **Exported graphs** (``camvideo.models.exported``: an ``.onnx`` or IR file): no
  conversion; each size compiles the graph's own cut (read from the file in
  milliseconds), its compiled model cached by the files' digest
  (``camvideo.runtime.ovgraph``), in the same modes and on the same devices. A
  graph with a fixed input size compiles that size only.

Precision on the CPU (``INFERENCE_PRECISION_HINT``), always set outright:
``precision="f32"`` (this class's default), or ``"bf16"``: bfloat16 but for the first
convolutions, kept in f32 (``quantize.bf16_ir``; about 1.7x as fast on a CPU with native
bf16, and the same classes and boxes on the development set: docs/measuring.md), or
``"auto"`` (the command line's default): bf16 where the CPU runs it natively, else
f32. The hint is part of the compiled model's cache tag (``ovcache._compiled``): each
precision keeps its own compiled blob, bf16's beside its own marked IR.
``precision="int8"`` compiles the int8 IR that ``camvideo.runtime.quantize`` makes
from that f32 IR (NNCF, calibrated once per input size and kept in the cache; the
layers left in floating point run f32).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from camvideo.cam.preprocess import from_pixels, is_pixels, pixels, preprocess
from camvideo.runtime.ovcache import (  # noqa: F401 - the cache's names, here too
    FORMAT,
    CacheEntry,
    _compiled,
    _size,
    _valid,
    cache_entry,
    cache_root,
    cached,
    convert,
    weights_digest,
)

log = logging.getLogger(__name__)

MODES = ("latency", "throughput")
MAX_SHAPES = 4  # compiled input sizes kept by one OpenVINOForward (the last used)
MAX_BATCHES = 3  # batch sizes above one frame compiled static by one input size; more run on the free batch
_WAIT_S = 120.0  # one inference never takes this long; a bound so that no caller hangs


def available() -> bool:
    """Whether OpenVINO can be imported here."""
    try:
        import openvino  # noqa: F401
    except Exception:  # noqa: BLE001 - any reason it cannot load means "not here"
        return False
    return True


def devices() -> list[str]:
    """The devices OpenVINO sees ("CPU", "GPU", "GPU.1", "NPU", ...); [] without OpenVINO."""
    if not available():
        return []
    from camvideo.models.ovcore import core

    return list(core().available_devices)


def _check_options(model, mode: str, precision: str, threads, bf16_f32_first, max_shapes) -> None:
    """``OpenVINOForward``'s arguments checked where they enter: ValueError naming the first wrong one."""
    from camvideo.settings import PRECISIONS

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be None or a positive int, got {threads!r}")
    if bf16_f32_first is not None and (isinstance(bf16_f32_first, bool) or not isinstance(bf16_f32_first, int)
                                       or bf16_f32_first < 0):
        raise ValueError(f"bf16_f32_first must be None or a non-negative int, got {bf16_f32_first!r}")
    if isinstance(max_shapes, bool) or not isinstance(max_shapes, int) or max_shapes < 1:
        raise ValueError(f"max_shapes must be a positive int, got {max_shapes!r}")
    if model.device.type != "cpu":
        raise ValueError(f"OpenVINO takes a model on the CPU (its maps go back to torch there), not {model.device}")


def _input_sizes(model, sizes) -> list[tuple[int, int]]:
    """The input sizes (height, width) to make ready: ``sizes``' (default, and always for a
    graph with a fixed input, the model's own); ValueError when none."""
    if getattr(model.preprocessing, "fixed", False):  # a graph with a fixed input takes that size only
        sizes = None
    sizes = [_size(model, None)] if sizes is None else [_size(model, tuple(v)) for v in sizes]
    if not sizes:
        raise ValueError("sizes must name at least one input size")
    return sizes


def _compile_config(device: str, mode: str, precision: str, threads: int | None) -> dict:
    """The compile properties: ``mode``'s performance hint; on a CPU device also the
    inference precision (f32 for an int8 model: the layers its graph leaves in floating
    point) and, in latency mode, ``threads`` inference threads (None: one stream over
    every core, the threads not pinned)."""
    config: dict = {"PERFORMANCE_HINT": mode.upper()}
    if device.split(".")[0] == "CPU":
        config["INFERENCE_PRECISION_HINT"] = "f32" if precision == "int8" else precision
        if threads is not None and mode == "latency":
            config["INFERENCE_NUM_THREADS"] = threads
        elif mode == "latency":  # the live compile: one stream over every core, the threads not pinned
            config["ENABLE_CPU_PINNING"] = False
    return config


class OpenVINOForward:
    """The features of an exact-CAM model from OpenVINO (a ``Forward``), at any
    input size.

    ``device``: an OpenVINO device ("CPU", "GPU", "NPU", ...). ``mode``:
    ``latency`` or ``throughput`` (see the module). ``threads``: OpenVINO's
    inference threads in latency mode (None: its own choice). ``cache``: the
    folder of converted models (default: ``cache_root() / "openvino"``).
    ``precision``: f32, bf16 or int8 (``camvideo.settings.PRECISIONS``; the CPU
    device's ``INFERENCE_PRECISION_HINT``; other devices pick their own), or auto
    (``quantize.auto_precision``: bf16 on a CPU that runs it natively, for camvideo's
    own Lite models, those the precision rule was measured on; else f32).
    ``bf16_f32_first``: the first convolutions bf16 keeps in f32 on the CPU
    (default ``quantize.BF16_F32_FIRST``; 0: none).
    ``sizes``: the input sizes (height, width) made ready now (default: the
    model's own), e.g. those the quality preset gives a source's frames; any other
    size is converted (or found in the cache) and compiled on its first batch:
    in that call, or with ``background`` in a thread of its own while the batches
    of that size run on torch (a window's stream never waits for a conversion).

    One compiled model per input size, the ``max_shapes`` last used kept (the
    default preset feeds one size per frame aspect, ``best`` two): a model with a
    free height and width converts wrong and runs slower (see the module). A size that will not
    convert runs on torch, with one warning. Thread-safe: every calling thread
    gets its own infer request (latency), or a request of the queue (throughput).
    """

    name = "openvino"

    def __init__(self, model, *, device: str = "CPU", mode: str = "latency", threads: int | None = None,
                 cache: Path | None = None, sizes=None, max_shapes: int = MAX_SHAPES,
                 background: bool = False, precision: str = "f32", bf16_f32_first: int | None = None) -> None:
        from camvideo.runtime.quantize import BF16_F32_FIRST

        _check_options(model, mode, precision, threads, bf16_f32_first, max_shapes)
        from camvideo.models.ovcore import core

        sizes = _input_sizes(model, sizes)
        self.model = model
        self.device = device
        self.mode = mode
        if precision == "auto":  # bf16 only where it was measured: camvideo's Lite, converted here
            from camvideo.runtime import ovbuild
            from camvideo.runtime.quantize import auto_precision

            precision = auto_precision(device) if ovbuild.supported(model.features) else "f32"
        self.precision = precision
        self.bf16_f32_first = BF16_F32_FIRST if bf16_f32_first is None else bf16_f32_first
        self.cache = cache
        self.max_shapes = max_shapes
        self.background = bool(background)
        self._pending: set[tuple[int, int]] = set()  # sizes converting in the background
        self._core = core()  # the process's one Core: a Core of its own crashed a later signal (ovcore)
        self._config = _compile_config(device, mode, precision, threads)
        self._shapes: OrderedDict[tuple[int, int], _Shape | None] = OrderedDict()  # None: torch at that size
        self._last: tuple[tuple[int, int], _Shape | None] | None = None  # the last entry of _shapes, read unlocked
        self._lock = threading.Lock()  # the dict
        self._build = threading.Lock()  # one conversion at a time
        first = self._make(sizes[0])  # raises: a model that will not convert at all falls back whole
        self._shapes[sizes[0]] = first
        self._last = (sizes[0], first)
        self.entry = first.entry
        self.jobs = first.jobs
        for size in sizes[1:]:
            self._shape(size)
        log.info("OpenVINO: %s on %s, %s mode (%d request%s), %s, input %s", model.name, device, mode, self.jobs,
                 "" if self.jobs == 1 else "s", precision, ", ".join(f"{w}x{h}" for h, w in sizes))

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """The input sizes (height, width) compiled now, the least recently used first."""
        with self._lock:
            return [size for size, shape in self._shapes.items() if shape is not None]

    def _make(self, size: tuple[int, int]) -> _Shape:
        from camvideo.models.exported import GraphFeatures

        if isinstance(self.model.features, GraphFeatures):  # an exported graph: its own cut, nothing to convert
            from camvideo.runtime.ovgraph import compiled_graph

            compiled = compiled_graph(self._core, self.model.features, size, self.device, self._config, self.cache)
            return _Shape(None, lambda batch, pixels: compiled, self.mode, static=False, pixels=False)
        entry = convert(self.model, self.cache, size)
        xml = self._ir(entry)
        prep = self.model.preprocessing
        norm = (tuple(prep.mean), tuple(prep.std))

        def compile(batch: int | None, pixels: bool):
            return _compiled(self._core, entry, self.device, self._config, xml, batch, norm if pixels else None)

        try:
            return _Shape(entry, compile, self.mode)
        except Exception as exc:  # noqa: BLE001 - an optimization: that size may take the float batch
            failed = exc
        shape = _Shape(entry, compile, self.mode, pixels=False)  # raises: the size cannot run at all
        from camvideo.errors import reason

        log.warning("OpenVINO cannot take the frames' pixels at %dx%d (%s); that size takes the normalized batch",
                    size[1], size[0], reason(failed))
        return shape

    def _ir(self, entry: CacheEntry) -> Path | None:
        """The IR this precision compiles for ``entry``: bf16's (its first layers
        marked f32) on a CPU, int8's, or None: the entry's own."""
        if self.precision == "bf16" and self.device.split(".")[0] == "CPU":
            from camvideo.runtime.quantize import bf16_ir

            return bf16_ir(entry, self.bf16_f32_first)  # None: every layer in bf16, over the entry's own IR
        if self.precision == "int8":
            from camvideo.runtime.quantize import quantized

            return quantized(self.model, entry)
        return None

    def _shape(self, size: tuple[int, int]) -> _Shape | None:
        """The compiled model of ``size``, made on its first use (None: torch). The
        size used last (every frame of a stream) is answered without the lock."""
        last = self._last
        if last is not None and last[0] == size:
            return last[1]
        with self._lock:
            if size in self._shapes:
                self._shapes.move_to_end(size)
                self._last = (size, self._shapes[size])
                return self._shapes[size]
            if self.background:
                if size not in self._pending:
                    self._pending.add(size)
                    threading.Thread(target=self._build_in_background, args=(size,), daemon=True,
                                     name=f"camvideo-openvino-{size[1]}x{size[0]}").start()
                return None  # torch until it is ready
        return self._build_shape(size)

    def _build_in_background(self, size: tuple[int, int]) -> None:
        try:
            self._build_shape(size)
        finally:
            with self._lock:
                self._pending.discard(size)

    def _build_shape(self, size: tuple[int, int]) -> _Shape | None:
        with self._build:
            with self._lock:
                if size in self._shapes:
                    return self._shapes[size]
            try:
                shape = self._make(size)
            except Exception as exc:  # noqa: BLE001 - an optimization: that size runs on torch
                from camvideo.errors import reason

                log.warning("OpenVINO cannot run %s at %dx%d (%s); that size runs on torch", self.model.name,
                            size[1], size[0], reason(exc))
                shape = None
            with self._lock:
                self._shapes[size] = shape
                while len(self._shapes) > self.max_shapes:
                    # A batch in flight on an evicted shape holds it; it is freed when done.
                    self._shapes.popitem(last=False)
                self._last = (size, shape)
            return shape

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous()  # NCHW, as the IR takes it (preprocess makes it so: no copy)

    def prepare_frames(self, frames, model) -> torch.Tensor:
        """The frames' resized BGR pixels (``preprocess.pixels``) where the size's
        graph normalizes them itself (camvideo's conversions), else ``preprocess``'s
        float batch (an exported graph; a size on torch, or still converting)."""
        height, width = model.preprocessing.size
        shape = self._shape((int(height), int(width)))
        if shape is not None and shape.pixels:
            return pixels(frames, model)
        return self.prepare(preprocess(frames, model))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[0]

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The (B, K, h, w) features of a prepared batch (``preprocess``'s float batch
        or ``preprocess.pixels``) and, where the graph has the model's head
        (``ovbuild.with_head``: camvideo's conversions), its (B, classes) logits from
        the same inference; None where it has not (an exported graph, a size on
        torch): the caller's head makes them."""
        raw = is_pixels(x)
        shape = self._shape((int(x.shape[1]), int(x.shape[2])) if raw else (int(x.shape[2]), int(x.shape[3])))
        if raw and (shape is None or not shape.pixels):
            x, raw = from_pixels(x, self.model), False
        if shape is None:
            return self.model(x), None
        return shape(x, raw)

    def close(self) -> None:
        """Wait for the inferences in flight (throughput mode)."""
        with self._lock:
            shapes = [shape for shape in self._shapes.values() if shape is not None]
        for shape in shapes:
            shape.close()


class _Shape:
    """One input size's compiled models, each with its batch fixed (a static shape,
    see the module): a batch of one frame (a window's stream, a live source) on the
    model compiled for one frame, made now; a batch of ``n`` frames (a file run's 4
    on the CPU, mirror averaging, ``--batch-size``) on one compiled for ``n``, made
    on its first use and kept, up to ``MAX_BATCHES`` sizes above one (more: the IR's
    free batch). A batch smaller than a size above one already made (a file run's
    last, partial batch) runs a frame at a time on the one-frame model rather than
    compile another: each frame's outputs do not depend on the batch it runs in
    (the same bits at batch 1, 4 and the free batch on the CPU, bf16 and f32). With
    ``pixels`` (camvideo's conversions) the models take the frames' resized uint8
    BGR pixels and normalize them in the graph (``ovbuild.with_pixels``); the IR's
    own float input (``preprocess``'s batch, e.g. the benchmark's forward pass
    alone) compiles on its first use. An exported graph (``static=False``) runs its
    one compiled model, float input, for every batch."""

    def __init__(self, entry: CacheEntry | None, compile, mode: str, static: bool = True,
                 pixels: bool = True) -> None:
        self.entry = entry
        self.mode = mode
        self.pixels = pixels
        self._compile = compile  # (batch: int, or None: free; pixels: bool) -> a compiled model
        self._static = static
        first = _Runner(compile(1 if static else None, pixels), mode)
        self._runners: dict[tuple[bool, int | None], _Runner] = {(pixels, 1 if static else None): first}
        self._lock = threading.Lock()
        self.compiled = first.compiled  # the model of a batch of one (the only one, unless static)
        self.feature_shape = first.outputs[0]  # (K, h, w)
        self.logits_shape = first.outputs[1] if len(first.outputs) > 1 else None  # (classes,): the head's output
        self.jobs = first.jobs

    def _runner(self, batch: int, pixels: bool = False) -> _Runner | None:
        """The runner of a batch of ``batch`` frames, compiled on its first use; None:
        run it a frame at a time (a batch smaller than a larger one already made)."""
        key = (pixels and self.pixels, batch if self._static else None)
        runner = self._runners.get(key)
        if runner is None:
            with self._lock:
                runner = self._runners.get(key)
                if runner is None:
                    larger = [b for p, b in self._runners if p == key[0] and b is not None and b > 1]
                    if any(b > batch for b in larger):
                        return None
                    if len(larger) >= MAX_BATCHES:
                        key = (key[0], None)
                        runner = self._runners.get(key)
                    if runner is None:
                        runner = self._runners[key] = _Runner(self._compile(key[1], key[0]), self.mode)
        return runner

    def __call__(self, x: torch.Tensor, pixels: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features, logits or None: a graph without the head) of a prepared batch
        (``pixels``: a ``preprocess.pixels`` batch, for a shape that takes them)."""
        batch = np.ascontiguousarray(x.numpy())  # shared: no copy for a contiguous batch
        count = batch.shape[0]
        outs = [np.empty((count, *self.feature_shape), np.float32)]
        if self.logits_shape is not None:
            outs.append(np.empty((count, *self.logits_shape), np.float32))
        runner = self._runner(count, pixels)
        if runner is not None:
            runner.run(batch, outs)
        else:  # a partial batch: each frame on the one-frame model, into its rows of the outputs
            one = self._runner(1, pixels)
            for i in range(count):
                one.run(batch[i:i + 1], [out[i:i + 1] for out in outs])
        return torch.from_numpy(outs[0]), torch.from_numpy(outs[1]) if len(outs) > 1 else None

    def close(self) -> None:
        for runner in list(self._runners.values()):
            runner.close()


class _Runner:
    """One compiled model and its requests: one a calling thread (latency), or an
    ``AsyncInferQueue`` of the model's optimal number (throughput)."""

    def __init__(self, compiled, mode: str) -> None:
        import openvino as ov

        self.compiled = compiled
        self.outputs = [tuple(int(d.get_length()) for d in list(out.get_partial_shape())[1:])
                        for out in compiled.outputs]
        self.jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._local = threading.local()
        self._queue = None
        if mode == "throughput":
            self._queue = ov.AsyncInferQueue(compiled, self.jobs)
            self._queue.set_callback(_job_done)
            self._requests = [self._queue[i] for i in range(len(self._queue))]  # wrappers made once: indexing makes one
            self._start_async = _start_async(self._queue)
            self._start = threading.Lock()

    def run(self, batch: np.ndarray, outs: list[np.ndarray]) -> None:
        """Infer ``batch`` into ``outs`` (the model's outputs, in order)."""
        if self._queue is None:
            request = getattr(self._local, "request", None)
            if request is None:
                request = self._local.request = self.compiled.create_infer_request()
            _bind(request, batch, outs)
            request.infer()
            return
        job = _Job()
        with self._start:  # the request get_idle_request_id names is the one start_async takes
            request = self._requests[self._queue.get_idle_request_id()]
            _bind(request, batch, outs)
            self._start_async(job)
        if not job.done.acquire(timeout=_WAIT_S):
            raise TimeoutError(f"OpenVINO: no result within {_WAIT_S:.0f} s")
        if job.error is not None:
            raise job.error

    def close(self) -> None:
        if self._queue is not None:
            self._queue.wait_all()


def _bind(request, batch: np.ndarray, outs: list[np.ndarray]) -> None:
    """Share ``batch`` as the request's input and ``outs`` as its outputs, in order (no copies)."""
    import openvino as ov

    request.set_input_tensor(ov.Tensor(batch, shared_memory=True))
    if len(outs) == 1:
        request.set_output_tensor(0, ov.Tensor(outs[0], shared_memory=True))
    else:  # one call for the features and the logits
        request.set_output_tensors({i: ov.Tensor(out, shared_memory=True) for i, out in enumerate(outs)})


def _start_async(queue):
    """``queue.start_async`` for a request whose input is bound already: a function
    of the userdata. pyopenvino's own method where there is one (the Python
    subclass's indexes the queue and makes a request wrapper on every call to set
    no inputs), else the queue's."""
    base = next((cls for cls in type(queue).__mro__[1:] if "start_async" in vars(cls)), None)
    if base is None or base.__module__ != "openvino._pyopenvino":
        return lambda job: queue.start_async(userdata=job)
    return lambda job: base.start_async(queue, {}, job)


class _Job:
    """One inference in flight: ``done`` is a lock taken at the start and released
    by OpenVINO's callback (cheaper to make and to wake on than an Event), ``error``
    what the callback found."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None


def _job_done(request, job: _Job) -> None:
    """AsyncInferQueue's callback, in an OpenVINO thread: wake the caller."""
    try:
        request.get_output_tensor(0)  # raises when the inference failed
    except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
        job.error = exc
    job.done.release()
