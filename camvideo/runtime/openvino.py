"""OpenVINO for exact CAM's forward pass: converted once, cached on disk, no copies.

On a CPU the forward pass is nearly all of an exact-CAM frame's cost, and
OpenVINO runs lite0's feature extractor about twice as fast as eager torch
(folded, channels_last) on this machine (see README, Speed). ``OpenVINOForward``
is a ``camvideo.cam.forward.Forward``: the class weights, smoothing, boxes and
overlay stay in torch and NumPy, unchanged.

- **Conversion** (``openvino.convert_model`` on ``model.features``, several
  seconds) happens once per model: the IR is kept in the user cache folder
  (``cache_root()``), under a key made of the model's name and layer, a digest of
  its feature extractor's weights, the input size and the OpenVINO version. A
  manifest written last holds the SHA-256 of the IR's files: a cache entry whose
  files do not match it (a crash while writing, a disk error, an edit) is rebuilt,
  never trusted. The compiled model (OpenVINO's blob, ``export_model``) is kept
  beside it, one per device and configuration, with its own SHA-256, and imported
  the next time (0.2 s where compiling takes 0.6-1 s). Not OpenVINO's ``CACHE_DIR``:
  it imports a blob whose bytes were damaged and runs it (measured: features off
  by 0.64), where a blob that does not match its digest here is compiled again.
- **No copies**: the input batch is shared with OpenVINO (``shared_memory``), and
  each call hands OpenVINO a fresh NumPy array to write the features into, which
  comes back as a tensor through ``torch.from_numpy``. A fresh array per call,
  because a request's own output buffer is reused by its next inference while
  the features of a batch may still wait for the in-order half.
- **Modes**: ``latency`` (live sources, single images: one request, OpenVINO's
  LATENCY hint) and ``throughput`` (files: the THROUGHPUT hint's streams, driven
  by an ``AsyncInferQueue``; callers keep their own order, as the pipeline does).
- **Devices**: ``CPU`` (the default), or an Intel ``GPU``/``NPU`` where
  OpenVINO sees one (``--device openvino:GPU``).

Float32 on the CPU (``INFERENCE_PRECISION_HINT``): OpenVINO would pick bfloat16 on
CPUs that have it, and the maps should match torch's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

MODES = ("latency", "throughput")
FORMAT = 1  # bump when what is stored in a cache entry changes
_FILES = ("features.xml", "features.bin")
_MANIFEST = "manifest.json"
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
    import openvino as ov

    return list(ov.Core().available_devices)


def cache_root() -> Path:
    """camvideo's user cache folder (``CAMVIDEO_CACHE`` overrides it): the XDG cache
    on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows."""
    if os.environ.get("CAMVIDEO_CACHE"):
        return Path(os.environ["CAMVIDEO_CACHE"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "camvideo"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "camvideo" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "camvideo"


def weights_digest(module: torch.nn.Module) -> str:
    """BLAKE2b of a module's parameters and buffers (names, shapes, dtypes, values)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        data = tensor.detach().cpu().contiguous()
        if data.dtype == torch.bfloat16:  # no NumPy dtype: hash the raw bits
            data = data.view(torch.int16)
        digest.update(data.numpy())  # the buffer itself, no copy
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One converted model on disk: ``folder`` holds features.xml/.bin and the manifest."""

    key: str
    folder: Path
    fields: dict

    @property
    def xml(self) -> Path:
        return self.folder / _FILES[0]


def cache_entry(model, cache: Path | None = None) -> CacheEntry:
    """Where ``model``'s converted features live (whether or not they are there yet)."""
    import openvino as ov

    height, width = model.preprocessing.size
    fields = {
        "format": FORMAT,
        "model": model.name,
        "layer": getattr(model, "layer", ""),
        "weights": weights_digest(model.features),
        "input": [height, width],
        "openvino": ov.get_version(),
    }
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model.name)
    root = Path(cache) if cache is not None else cache_root() / "openvino"
    return CacheEntry(key, root / f"{safe}-{key}", fields)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _valid(entry: CacheEntry) -> bool:
    """The entry's manifest matches its key and every file's digest."""
    try:
        manifest = json.loads((entry.folder / _MANIFEST).read_text())
        if manifest.get("key") != entry.key or manifest.get("fields") != entry.fields:
            return False
        return all(manifest["files"].get(name) == _sha256(entry.folder / name) for name in _FILES)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def cached(model, cache: Path | None = None) -> bool:
    """Whether ``model``'s conversion is in the cache and intact (then building an
    ``OpenVINOForward`` only compiles it, or imports the compiled model kept from
    an earlier run: well under a second)."""
    return _valid(cache_entry(model, cache))


def convert(model, cache: Path | None = None) -> CacheEntry:
    """``model.features`` as OpenVINO IR in the cache: converted the first time (or
    when the entry on disk does not match its manifest), found afterwards."""
    entry = cache_entry(model, cache)
    if _valid(entry):
        log.debug("OpenVINO: %s from the cache (%s)", model.name, entry.folder)
        return entry
    if entry.folder.exists():
        log.warning("OpenVINO: the cached conversion of %s does not match its manifest; converting again", model.name)
    import openvino as ov

    height, width = model.preprocessing.size
    example = torch.zeros(1, 3, height, width, device=model.device)
    with warnings.catch_warnings(), _root_logger_kept(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shape arithmetic: the input size is fixed
        converted = ov.convert_model(model.features.eval(), example_input=example,
                                     input=[ov.PartialShape([-1, 3, height, width])])
    entry.folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.folder.name}-", dir=entry.folder.parent))
    try:
        ov.save_model(converted, staging / _FILES[0], compress_to_fp16=False)  # the weights as they are
        files = {name: _sha256(staging / name) for name in _FILES}
        manifest = {"key": entry.key, "fields": entry.fields, "files": files}
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        shutil.rmtree(entry.folder, ignore_errors=True)
        try:
            os.replace(staging, entry.folder)
        except OSError:  # another process put a full entry there meanwhile
            if not _valid(entry):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("OpenVINO: converted %s (%s)", model.name, entry.folder)
    return entry


@contextlib.contextmanager
def _root_logger_kept():
    """``convert_model`` sets the root logger to ERROR (and adds a filter and a
    handler), and does not always set it back when it fails: every later
    warning of the application would vanish. Put the root logger back as it was."""
    root = logging.getLogger()
    level, filters, handlers = root.level, list(root.filters), list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.filters[:] = filters
        root.handlers[:] = handlers


class OpenVINOForward:
    """The features of an exact-CAM model from OpenVINO (a ``Forward``).

    ``device``: an OpenVINO device ("CPU", "GPU", "NPU", ...). ``mode``:
    ``latency`` or ``throughput`` (see the module). ``threads``: OpenVINO's
    inference threads in latency mode (None: its own choice). ``cache``: the
    folder of converted models (default: ``cache_root() / "openvino"``).
    Thread-safe: every calling thread gets its own infer request (latency), or a
    request of the queue (throughput).
    """

    name = "openvino"

    def __init__(self, model, *, device: str = "CPU", mode: str = "latency", threads: int | None = None,
                 cache: Path | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be None or a positive int, got {threads!r}")
        if model.device.type != "cpu":
            raise ValueError(f"OpenVINO takes a model on the CPU (its maps go back to torch there), not {model.device}")
        import openvino as ov

        self.model = model
        self.device = device
        self.mode = mode
        self.entry = convert(model, cache)
        core = ov.Core()
        config: dict = {"PERFORMANCE_HINT": mode.upper()}
        if device.split(".")[0] == "CPU":
            config["INFERENCE_PRECISION_HINT"] = "f32"
            if threads is not None and mode == "latency":
                config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = _compiled(core, self.entry, device, config)
        shape = self.compiled.output(0).get_partial_shape()
        self._feature_shape = tuple(int(d.get_length()) for d in list(shape)[1:])  # (K, h, w)
        self.jobs = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._local = threading.local()
        self._queue = None
        if mode == "throughput":
            self._queue = ov.AsyncInferQueue(self.compiled, self.jobs)
            self._queue.set_callback(_job_done)
            self._start = threading.Lock()
        log.info("OpenVINO: %s on %s, %s mode (%d request%s)", model.name, device, mode, self.jobs,
                 "" if self.jobs == 1 else "s")

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous()  # NCHW, as the IR takes it (preprocess makes it so: no copy)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import openvino as ov

        batch = np.ascontiguousarray(x.numpy())  # shared: no copy for a contiguous batch
        out = np.empty((batch.shape[0], *self._feature_shape), np.float32)
        inputs, outputs = ov.Tensor(batch, shared_memory=True), ov.Tensor(out, shared_memory=True)
        if self._queue is None:
            request = getattr(self._local, "request", None)
            if request is None:
                request = self._local.request = self.compiled.create_infer_request()
            request.set_input_tensor(inputs)
            request.set_output_tensor(outputs)
            request.infer()
        else:
            job = _Job()
            with self._start:  # the request get_idle_request_id names is the one start_async takes
                request = self._queue[self._queue.get_idle_request_id()]
                request.set_input_tensor(inputs)
                request.set_output_tensor(outputs)
                self._queue.start_async(userdata=job)
            if not job.done.wait(_WAIT_S):
                raise TimeoutError(f"OpenVINO: no result within {_WAIT_S:.0f} s")
            if job.error is not None:
                raise job.error
        return torch.from_numpy(out)

    def close(self) -> None:
        """Wait for the inferences in flight (throughput mode)."""
        if self._queue is not None:
            self._queue.wait_all()


def _compiled(core, entry: CacheEntry, device: str, config: dict):
    """The compiled model from the blob kept in ``entry`` when it matches its
    digest, else compiled from the IR (and the blob kept for next time)."""
    spec = json.dumps({"device": device, **{k: str(v) for k, v in config.items()}}, sort_keys=True)
    tag = hashlib.sha256(spec.encode()).hexdigest()[:16]
    blob, digest = entry.folder / f"compiled-{tag}.blob", entry.folder / f"compiled-{tag}.sha256"
    try:
        data = blob.read_bytes()
        if digest.read_text().strip() == hashlib.sha256(data).hexdigest():
            return core.import_model(data, device, config)
        log.warning("OpenVINO: the compiled model in %s does not match its digest; compiling again", entry.folder)
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - an unreadable or stale blob: compile instead
        from camvideo.errors import reason

        log.warning("OpenVINO: cannot import the compiled model in %s (%s); compiling again", entry.folder, reason(exc))
    compiled = core.compile_model(str(entry.xml), device, config)
    try:
        data = compiled.export_model()
        data = data.getvalue() if hasattr(data, "getvalue") else bytes(data)  # BytesIO or bytes, by version
        for path, content in ((blob, data), (digest, hashlib.sha256(data).hexdigest().encode())):
            staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            staging.write_bytes(content)
            os.replace(staging, path)  # the digest last: a blob without its digest is not used
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written: compile again next time
        log.info("OpenVINO: the compiled model is not kept (%s)", exc)
    return compiled


class _Job:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


def _job_done(request, job: _Job) -> None:
    """AsyncInferQueue's callback, in an OpenVINO thread: wake the caller."""
    try:
        request.get_output_tensor(0)  # raises when the inference failed
    except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
        job.error = exc
    job.done.set()
