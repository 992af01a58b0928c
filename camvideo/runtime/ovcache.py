"""The OpenVINO conversion cache: each model's IR per input size, on disk, checked.

``convert`` happens once per model and input size (camvideo's own Lite0 is built
from its weights, ``camvideo.runtime.ovbuild``, in milliseconds; any other model
goes through ``openvino.convert_model`` on ``model.features``, several seconds): the IR is kept in the user cache folder
(``cache_root()``; where it cannot be written, a read-only home, in a temporary folder for
the process's own life, with one warning: OpenVINO still runs), under a key made of the model's name and layer, a digest of
its feature extractor's weights, the input size and the OpenVINO version. A
manifest written last holds the SHA-256 of the IR's files: a cache entry whose
files do not match it (a crash while writing, a disk error, an edit) is rebuilt,
never trusted. ``compiled`` keeps the compiled model (OpenVINO's blob,
``export_model``) beside it, one per device and configuration, with its own
SHA-256, and imports it the next time (0.2 s where compiling takes 0.6-1 s). Not
OpenVINO's ``CACHE_DIR``: it imports a blob whose bytes were damaged and runs it
(measured: features off by 0.64), where a blob that does not match its digest
here is compiled again. ``camvideo.runtime.openvino`` runs what this makes.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

import torch

from camvideo.runtime import ovbuild

log = logging.getLogger("camvideo.runtime.openvino")  # one logger for the runtime: its warnings read as one

FORMAT = 2  # bump when what is stored in a cache entry changes (2: the head's logits, a second output)
_FILES = ("features.xml", "features.bin")
_MANIFEST = "manifest.json"


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


def cache_entry(model, cache: Path | None = None, size: tuple[int, int] | None = None) -> CacheEntry:
    """Where ``model``'s converted features at input ``size`` (height, width;
    default: the model's own) live, whether or not they are there yet."""
    import openvino as ov

    height, width = _size(model, size)
    fields = {
        "format": FORMAT,
        "model": model.name,
        "layer": getattr(model, "layer", ""),
        "weights": weights_digest(model.features),
        "input": [height, width],
        "openvino": ov.get_version(),
        "converter": ovbuild.BUILDER if ovbuild.supported(model.features) else "convert_model",
    }
    if _head(model) is not None:  # the head is in the graph: its weights are in the key too
        fields["head"] = [ovbuild.HEAD, weights_digest(_head(model))]
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


def _head(model) -> torch.nn.Linear | None:
    """The linear layer that ``convert`` puts in the graph (``ovbuild.with_head``):
    an exact-CAM model's ``fc`` when it is a plain ``Linear``, else None."""
    fc = getattr(model, "fc", None)
    return fc if type(fc) is torch.nn.Linear else None


def _size(model, size) -> tuple[int, int]:
    if size is None:
        return tuple(int(v) for v in model.preprocessing.size)
    if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 8 for v in size):
        raise ValueError(f"size must be (height, width) of at least 8 pixels each, got {size!r}")
    return int(size[0]), int(size[1])


def cached(model, cache: Path | None = None, size: tuple[int, int] | None = None) -> bool:
    """Whether ``model``'s conversion at ``size`` is in the cache and intact (then
    an ``OpenVINOForward`` only compiles it, or imports the compiled model kept
    from an earlier run: well under a second)."""
    return _valid(cache_entry(model, cache, size))


def convert(model, cache: Path | None = None, size: tuple[int, int] | None = None) -> CacheEntry:
    """``model.features`` at input ``size`` (default: the model's own) as OpenVINO
    IR in the cache: converted the first time (or when the entry on disk does not
    match its manifest), found afterwards. One entry per input size, traced at
    that size: tracing freezes shape arithmetic (lite0's "same" padding), so a
    model converted at 224x224 with a free input size still gives 7x7 features
    for a 224x288 input."""
    entry = cache_entry(model, cache, size)
    if _valid(entry):
        log.debug("OpenVINO: %s from the cache (%s)", model.name, entry.folder)
        return entry
    if entry.key in _RUN_ONLY and _valid(_RUN_ONLY[entry.key]):  # converted before in this run
        return _RUN_ONLY[entry.key]
    if entry.folder.exists():
        log.warning("OpenVINO: the cached conversion of %s does not match its manifest; converting again", model.name)
    import openvino as ov

    height, width = _size(model, size)
    converted = ovbuild.build(model.features, (height, width))  # camvideo's Lite0: milliseconds, no tracing
    if converted is None:
        example = torch.zeros(1, 3, height, width, device=model.device)
        with _CONVERTING, warnings.catch_warnings(), _root_logger_kept(), _no_telemetry(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on shape arithmetic: the input size is fixed here
            converted = ov.convert_model(model.features.eval(), example_input=example,
                                         input=[ov.PartialShape([-1, 3, height, width])])
    if _head(model) is not None:
        ovbuild.with_head(converted, _head(model))
    try:
        _store(entry, converted)
    except (OSError, RuntimeError) as exc:  # a cache that cannot be written (a read-only home, a full disk:
        # OpenVINO's save_model says RuntimeError): this run's own
        from camvideo.errors import reason

        say = log.info if _RUN_ONLY_ROOT else log.warning  # once a process
        say("OpenVINO: cannot keep the conversion of %s in %s (%s); converted for this run only "
            "(CAMVIDEO_CACHE=FOLDER keeps it)", model.name, entry.folder.parent, reason(exc))
        entry = dataclasses.replace(entry, folder=_run_only_root() / entry.folder.name)
        _store(entry, converted)
        _RUN_ONLY[entry.key] = entry
    log.info("OpenVINO: converted %s (%s)", model.name, entry.folder)
    return entry


def _store(entry: CacheEntry, converted) -> None:
    """``converted`` saved as ``entry``'s IR with its manifest, written in a staging
    folder and renamed into place whole. A whole entry that another process put
    there meanwhile (two runs converting one model at once) is kept: that process
    compiles from it and keeps its compiled models in it."""
    import openvino as ov

    entry.folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.folder.name}-", dir=entry.folder.parent))
    try:
        ov.save_model(converted, staging / _FILES[0], compress_to_fp16=False)  # the weights as they are
        files = {name: _sha256(staging / name) for name in _FILES}
        manifest = {"key": entry.key, "fields": entry.fields, "files": files}
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        try:
            os.replace(staging, entry.folder)  # no folder there (or an empty one): taken whole
        except OSError:  # a folder there: another process's whole entry (in use: kept), or a damaged one
            if _valid(entry):
                return
            shutil.rmtree(entry.folder, ignore_errors=True)
            try:
                os.replace(staging, entry.folder)
            except OSError:  # another process put a full entry there meanwhile
                if not _valid(entry):
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_RUN_ONLY: dict[str, CacheEntry] = {}  # conversions kept for this process alone (the cache could not be written)
_RUN_ONLY_ROOT: list[Path] = []
_RUN_ONLY_PID: list[int] = []  # the process that made _RUN_ONLY_ROOT's folder
_RUN_ONLY_LOCK = threading.Lock()


def _run_only_root() -> Path:
    """A temporary folder of this process's own for the conversions the cache cannot
    keep, made once (two threads converting at once share it), removed when the process
    that made it exits. A forked child makes its own: its parent's folder goes when the
    parent exits."""
    with _RUN_ONLY_LOCK:
        if not _RUN_ONLY_ROOT or _RUN_ONLY_PID != [os.getpid()]:
            import atexit

            _RUN_ONLY.clear()  # a forked child's inherited entries are in its parent's folder
            _RUN_ONLY_ROOT[:] = [Path(tempfile.mkdtemp(prefix="camvideo-openvino-"))]
            _RUN_ONLY_PID[:] = [os.getpid()]
            atexit.register(_remove_own, _RUN_ONLY_ROOT[0], os.getpid())
        return _RUN_ONLY_ROOT[0]


def _remove_own(folder: Path, pid: int) -> None:
    """``folder`` removed at exit by the process that made it (not by a forked child)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


_CONVERTING = threading.Lock()  # one conversion at a time: it swaps process-wide state (below)


@contextlib.contextmanager
def _no_telemetry():
    """OpenVINO's converter sends usage events (Google Analytics) unless the user
    opted out with its own tool, from a thread pool that then lives as long as the
    process. camvideo converts on its users' behalf without asking them: the
    converter gets OpenVINO's own no-op stand-in while it runs (what it uses when
    the telemetry package is not installed)."""
    try:
        from openvino.tools.ovc import convert_impl, telemetry_stub, telemetry_utils
    except Exception:  # noqa: BLE001 - another layout of OpenVINO: nothing to swap
        yield
        return
    kept = [(module, module.__dict__.get("tm")) for module in (convert_impl, telemetry_utils)]
    for module, _ in kept:
        module.tm = telemetry_stub
    try:
        yield
    finally:
        for module, tm in kept:
            if tm is not None:
                module.tm = tm


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


def _compiled(core, entry: CacheEntry, device: str, config: dict, xml: Path | None = None,
              batch: int | None = None, pixels: tuple | None = None):
    """The compiled model from the blob kept in ``entry`` when it matches its
    digest, else compiled from the IR (``xml``: another IR made from the entry's,
    e.g. its int8 one, kept beside it; default the entry's own) and the blob kept
    for next time. ``batch``: the IR's free batch dimension fixed to that many
    frames (a static shape: less CPU a frame, ``camvideo.runtime.openvino``), kept
    in a blob of its own; None: any batch (the blob's tag as before). ``pixels``:
    (mean, std) of a model that takes the frames' BGR uint8 pixels and normalizes
    them in the graph (``ovbuild.with_pixels``), kept in a blob of its own; None:
    the IR's normalized float input."""
    compiled = kept_compiled(core, entry, device, config, xml, batch, pixels)
    if compiled is None:
        network = core.read_model(str(xml or entry.xml))
        if batch is not None:
            network.reshape({network.inputs[0]: [batch, *list(network.inputs[0].get_partial_shape())[1:]]})
        if pixels is not None:
            network = ovbuild.with_pixels(network, *pixels)
        compiled = core.compile_model(network, device, config)
        keep_compiled(entry, compiled, device, config, xml, batch, pixels)
    return compiled


def _blob(entry: CacheEntry, device: str, config: dict, xml: Path | None = None,
          batch: int | None = None, pixels: tuple | None = None) -> tuple[Path, Path]:
    """The compiled model's blob and digest files for ``device``, ``config``,
    ``batch`` and ``pixels`` (beside ``xml`` when given, else in the entry's folder)."""
    fields = {"device": device, **{k: str(v) for k, v in config.items()}}
    if batch is not None:  # a free batch keeps the tag it always had
        fields["batch"] = int(batch)
    if pixels is not None:  # the pixels' input and its normalization are in the graph
        fields["pixels"] = [ovbuild.PIXELS, [float(v) for v in pixels[0]], [float(v) for v in pixels[1]]]
    spec = json.dumps(fields, sort_keys=True)
    folder = entry.folder if xml is None else Path(xml).parent
    tag = hashlib.sha256(spec.encode()).hexdigest()[:16]
    return folder / f"compiled-{tag}.blob", folder / f"compiled-{tag}.sha256"


def kept_compiled(core, entry: CacheEntry, device: str, config: dict, xml: Path | None = None,
                  batch: int | None = None, pixels: tuple | None = None):
    """The compiled model kept in ``entry`` for ``device``, ``config``, ``batch`` and
    ``pixels`` when its blob matches its digest and imports, else None (a warning
    when one was there)."""
    blob, digest = _blob(entry, device, config, xml, batch, pixels)
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
    return None


def keep_compiled(entry: CacheEntry, compiled, device: str, config: dict, xml: Path | None = None,
                  batch: int | None = None, pixels: tuple | None = None) -> None:
    """Keep ``compiled`` in ``entry``: the blob, then its digest (a blob without
    its digest is not used), each written whole; a cache that cannot be written
    is compiled again next time."""
    blob, digest = _blob(entry, device, config, xml, batch, pixels)
    try:
        data = compiled.export_model()
        data = data.getvalue() if hasattr(data, "getvalue") else bytes(data)  # BytesIO or bytes, by version
        for path, content in ((blob, data), (digest, hashlib.sha256(data).hexdigest().encode())):
            staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            staging.write_bytes(content)
            os.replace(staging, path)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written: compile again next time
        log.info("OpenVINO: the compiled model is not kept (%s)", exc)
