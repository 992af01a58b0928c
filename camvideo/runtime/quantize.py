"""int8 for OpenVINO (``--precision int8``): NNCF post-training quantization of a
converted model, calibrated on frames, kept in the conversion cache.

``quantized(model, entry)`` returns the int8 IR of ``entry`` (an f32 conversion of
``camvideo.runtime.ovcache`` at one input size): made the first time (NNCF's
default ``performance`` preset with fast bias correction, over every calibration
frame; ~30 s for lite0 at 224x288 on 123 frames on one core), found afterwards.
It lives in the entry's folder under ``int8-<key>/``, the key made of the
calibration set's digest and NNCF's version, with a manifest of the files'
SHA-256 written last: an entry that does not match is made again, never trusted.
While NNCF runs its own output is off (``quiet_nncf``: its INFO lines, progress
bars, torch's CUDA note): one line of camvideo's says that it quantizes, and where
it keeps the result.

The calibration frames (``calibration_frames``): the development set's ``tune``
split (its photos and every 4th frame of its clips, ``camvideo.tools.devset``)
when this is a checkout that has it, else every 4th frame of the packaged demo
clip. Each frame is resized and normalized as the localizer does for that input
size. The frames are made once for the input sizes quantized one after another
(``KEEP_S``; ~6 CPU s, most of it rendering the devset's clips), while NNCF runs
once per input size: each size is an IR of its own (its "same" pads: ``ovbuild``)
whose activation ranges and bias correction NNCF measures at that size (lite0's
activation ranges at 288x224 differ from 224x224's by up to 7%, median 0.3%), and
NNCF takes no ranges measured on another graph. The head (``ovbuild.with_head``:
pooling and the linear layer) stays in floating point. NNCF is optional (``pip
install 'camvideo[int8]'``); without it int8 is one clear error. Whether int8 earns its place: ``bench/precision.py --precision int8``
and docs/measuring.md (it does not: it stays opt-in).

bf16 keeps the network's first layers in f32 (``bf16_ir``): OpenVINO's CPU plugin
runs an operation in its original precision when its runtime info carries a
``DisablePrecisionConversion`` attribute (to f16; the plugin reads that one for bf16
too). Python cannot make that attribute, so the f32 IR's XML is written again with
it on every operation before the ``BF16_F32_FIRST + 1``-th convolution and kept
beside the entry like int8's (its own folder, manifest and compiled blob). Why the
first layers: rounding the early activations to bf16 (the first depthwise
convolution's above all) is what moves the class scores; the rest of the network
takes bf16 with little change (docs/measuring.md, Precision).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from camvideo.errors import CamvideoError, Hint

if TYPE_CHECKING:  # numpy at run time only where frames are made: a batch's driver hashes auto_precision
    import numpy as np

log = logging.getLogger("camvideo.runtime.openvino")

ROOT = Path(__file__).resolve().parents[2]
DEVSET = ROOT / "tests" / "data" / "devset" / "manifest.json"
DEMO = ROOT / "camvideo" / "resources" / "demo.mp4"
EVERY = 4  # every 4th frame of a clip: neighbours are near copies
_FILES = ("features.xml", "features.bin")
_MANIFEST = "manifest.json"
_LOCK = threading.Lock()  # one quantization at a time in a process
BF16_F32_FIRST = 2  # bf16 keeps the first 2 convolutions (lite0: the stem and the first depthwise) in f32
_MARK = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:f16"}
_MARK_FORMAT = 1  # bump when the marking changes
KEEP_S = 60.0  # the calibration frames stay this long after a quantization, for the next input size's
_kept: dict[str, list] = {}  # the calibration set's digest -> its BGR frames, while kept (under _LOCK)
_forget: threading.Timer | None = None


def calibration_frames() -> tuple[str, list[np.ndarray]]:
    """(name, BGR frames) of the calibration set (see the module)."""
    if DEVSET.exists():
        from camvideo.models import imagenet_labels
        from camvideo.tools.devset import devset_clips, load_devset
        from camvideo.video.sources import read_image

        photos = load_devset(DEVSET, imagenet_labels(), "tune")
        clips = devset_clips(photos, "tune")
        return "devset-tune", [read_image(a.file) for a in photos] + [f for _, fr, _ in clips for f in fr[::EVERY]]
    import av

    with av.open(str(DEMO)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(container.streams.video[0])]
    return "demo", frames[::EVERY]


def _calibration(digest: str) -> list[np.ndarray]:
    """``calibration_frames()``'s frames for the calibration set of ``digest``
    (``calibration_source``): made once and kept while in use; ``_keep_calibration``
    keeps them ``KEEP_S`` seconds after each use, so that the quantizations of several
    input sizes in a row share them. Under ``_LOCK``."""
    global _forget
    if _forget is not None:
        _forget.cancel()  # one that fired already waits for the lock: _drop_calibration sees it is stale
        _forget = None
    if digest not in _kept:
        _kept.clear()
        _kept[digest] = calibration_frames()[1]
    return _kept[digest]


def _keep_calibration() -> None:
    """Under ``_LOCK``, once a use of the kept frames has ended: dropped ``KEEP_S`` seconds from now."""
    global _forget
    _forget = threading.Timer(KEEP_S, _drop_calibration)
    _forget.args = (_forget,)
    _forget.daemon = True
    _forget.start()


def _drop_calibration(timer: threading.Timer) -> None:
    """``timer``'s end: the kept frames dropped, unless a use came since (a newer timer, or none while in use)."""
    with _LOCK:
        if timer is _forget:
            _kept.clear()


def calibration_source() -> tuple[str, str]:
    """(name, digest) of the calibration set without making its frames: the digest of
    the files they are made from (the devset's manifest, its photos and the module
    that renders its clips; or the demo clip). Checking the cache costs milliseconds."""
    digest = hashlib.blake2b(digest_size=16)
    if DEVSET.exists():
        manifest = json.loads(DEVSET.read_text())
        entries = manifest.get("images", []) if isinstance(manifest, dict) else manifest
        files = [DEVSET, ROOT / "camvideo" / "tools" / "devset.py"] + sorted(
            DEVSET.parent / e["file"] for e in entries if e.get("split") == "tune")
        name = "devset-tune"
    else:
        files, name = [DEMO], "demo"
    for path in files:
        digest.update(path.name.encode() + b":" + hashlib.sha256(path.read_bytes()).digest())
    return name, digest.hexdigest()


def _inputs(model, size: tuple[int, int], frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame as the localizer feeds the network at ``size`` (height, width)."""
    from camvideo.cam.preprocess import preprocess

    at_size = _Sized(model, size)
    return [preprocess([frame], at_size).numpy() for frame in frames]


class _Sized:
    """``model`` seen with its preprocessing at another input size (for ``preprocess``)."""

    def __init__(self, model, size: tuple[int, int]) -> None:
        self.preprocessing = dataclasses.replace(model.preprocessing, size=tuple(size))
        self.device = model.device


def _digest(frames: list[np.ndarray]) -> str:
    import numpy as np

    digest = hashlib.blake2b(digest_size=16)
    for frame in frames:
        digest.update(f"{frame.shape};".encode())
        digest.update(np.ascontiguousarray(frame).data)
    return digest.hexdigest()


def _nncf():
    try:
        import nncf
    except ImportError:
        raise CamvideoError(Hint("precision", "int8", subject=True),
                            "needs NNCF: pip install 'camvideo[int8]' (or choose ", Hint("precision", "f32"),
                            ")") from None
    return nncf


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(folder: Path, fields: dict) -> bool:
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        return manifest.get("fields") == fields and all(
            manifest["files"].get(name) == _sha256(folder / name) for name in _FILES)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def quantized(model, entry, frames: tuple[str, list[np.ndarray]] | None = None) -> Path:
    """The int8 IR (its .xml) of the f32 conversion ``entry`` of ``model``,
    calibrated on ``frames`` ((name, BGR frames); default ``calibration_frames()``,
    made only when the cache has no int8 IR for ``calibration_source()``, and once
    for several sizes in a row: ``_calibration``)."""
    nncf = _nncf()
    if frames is not None and not frames[1]:
        raise ValueError("int8 calibration needs at least one frame")
    name, digest = (frames[0], _digest(frames[1])) if frames is not None else calibration_source()
    fields = {"calibration": name, "frames": digest, "nncf": nncf.__version__,
              "f32": entry.key, "preset": "performance", "fast_bias_correction": True}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    folder = entry.folder / f"int8-{key}"
    with _LOCK:
        if _valid(folder, fields):
            return folder / _FILES[0]
        if frames is not None:
            _make(nncf, model, entry, frames[1], fields, folder)
        else:
            try:
                _make(nncf, model, entry, _calibration(digest), fields, folder)
            finally:
                _keep_calibration()
    return folder / _FILES[0]


def _make(nncf, model, entry, images: list[np.ndarray], fields: dict, folder: Path) -> None:
    import openvino as ov

    from camvideo.models.ovcore import core
    from camvideo.runtime.ovbuild import HEAD_OPS

    if folder.exists():
        log.warning("OpenVINO: the int8 model in %s does not match its manifest; quantizing again", folder)
    size = tuple(entry.fields["input"])
    log.warning("OpenVINO: quantizing %s to int8 at %dx%d on %d frames (once; kept in %s)", model.name, size[1],
                size[0], len(images), entry.folder)
    data = _inputs(model, size, images)
    network = core().read_model(str(entry.xml))
    head = [op.get_friendly_name() for op in network.get_ops() if op.get_friendly_name() in HEAD_OPS]
    with quiet_nncf():
        int8 = nncf.quantize(network, nncf.Dataset(data), subset_size=len(data),
                             preset=nncf.QuantizationPreset.PERFORMANCE, fast_bias_correction=True,
                             ignored_scope=nncf.IgnoredScope(names=head) if head else None)
    with _staged(folder, fields) as staging:
        ov.save_model(int8, staging / _FILES[0], compress_to_fp16=False)


QUIET_LOGGERS = ("nncf", "torch.utils.cpp_extension")  # NNCF's INFO lines; torch's CUDA note as NNCF imports it


@contextlib.contextmanager
def quiet_nncf():
    """NNCF's own output off while the block runs, so that the command's lines are
    the only ones: its logger's INFO lines (its handler writes them to stdout,
    where a command's data may go), torch's "No CUDA runtime" note as NNCF imports
    ``torch.utils.cpp_extension``, and its progress bars (rich's, drawn on rich's
    global console: here a console on a string, which is no terminal, so it draws
    no bar and redirects no stream). Errors still show; NNCF raises them anyway."""
    import rich

    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [(lg, lg.level, [(h, h.level) for h in lg.handlers]) for lg in loggers]
    console = rich.get_console()
    state = dict(console.__dict__)
    rich.reconfigure(file=io.StringIO(), force_terminal=False, force_jupyter=False, force_interactive=False)
    for lg in loggers:
        lg.setLevel(logging.ERROR)
        for handler in lg.handlers:
            handler.setLevel(logging.ERROR)
    try:
        yield
    finally:
        console.__dict__ = state
        for lg, level, handlers in levels:
            lg.setLevel(level)
            for handler, handler_level in handlers:
                handler.setLevel(handler_level)


@contextlib.contextmanager
def _staged(folder: Path, fields: dict):
    """A fresh folder beside ``folder`` for its files; when the block ends without an
    error, their manifest is written and it replaces ``folder`` whole (one that another
    process put there meanwhile is kept if valid). Removed whatever happens."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield staging
        manifest = {"fields": fields, "files": {n: _sha256(staging / n) for n in _FILES}}
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(staging, folder)
        except OSError:  # another process put a full one there meanwhile
            if not _valid(folder, fields):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # what OpenVINO's CPU plugin runs bf16 on


@functools.lru_cache(maxsize=8)
def auto_precision(device: str = "CPU") -> str:
    """What ``--precision auto`` runs on OpenVINO ``device``: bf16 on a CPU whose
    flags (Linux's /proc/cpuinfo) name AVX512_BF16 or AMX, bf16 in hardware, the
    CPUs for which OpenVINO lists BF16 among its ``OPTIMIZATION_CAPABILITIES``;
    else f32 (emulated bf16 is slower; other devices choose their own arithmetic;
    another system: f32, bf16 is ``--precision bf16``). Read from a file, without
    OpenVINO or NumPy: a batch's driver hashes it."""
    if device.split(".")[0].upper() != "CPU":
        return "f32"
    try:
        flags = next((line.split(":", 1)[1].split() for line in CPUINFO.read_text().splitlines()
                      if line.startswith("flags")), [])
    except (OSError, IndexError):
        return "f32"
    return "bf16" if any(flag in flags for flag in NATIVE_BF16_FLAGS) else "f32"


def bf16_ir(entry, first: int = BF16_F32_FIRST) -> Path | None:
    """The IR (its .xml) that bf16 compiles for the f32 conversion ``entry``: its
    operations before the ``first + 1``-th convolution marked to stay f32 (see the
    module), made once, kept under ``entry.folder / "bf16-f32first<first>-<key>"``; None
    for ``first`` 0 (the entry's own IR, every layer in bf16)."""
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ValueError(f"first must be a non-negative int, got {first!r}")
    if first == 0:
        return None
    fields = {"f32": entry.key, "f32_first": first, "mark": _MARK_FORMAT}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    folder = entry.folder / f"bf16-f32first{first}-{key}"
    with _LOCK:
        if not _valid(folder, fields):
            _write_marked(entry, first, fields, folder)
    return folder / _FILES[0]


def marked_names(network, first: int) -> list[str]:
    """The operations of ``network`` (an ``openvino.Model``) before its ``first + 1``-th
    convolution, in order, but its inputs and constants: those bf16 keeps in f32."""
    names, convs = [], 0
    for op in network.get_ordered_ops():
        kind = op.get_type_name()
        if kind in ("Convolution", "GroupConvolution"):
            convs += 1
            if convs > first:
                break
        if kind not in ("Parameter", "Constant", "Result"):
            names.append(op.get_friendly_name())
    if convs < first:
        raise ValueError(f"the network has {convs} convolutions; bf16 cannot keep the first {first} in f32")
    return names


def _marked_xml(text: str, names: set[str]) -> bytes:
    """The IR's XML with the keep-f32 attribute in the runtime info of each layer of ``names``."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text)
    found = set()
    for layer in root.iter("layer"):
        if layer.get("name") in names:
            info = layer.find("rt_info")
            if info is None:
                info = ET.Element("rt_info")
                layer.insert(1 if layer.find("data") is not None else 0, info)
            ET.SubElement(info, "attribute", _MARK)
            found.add(layer.get("name"))
    if found != names:
        raise ValueError(f"the IR has no layer named {sorted(names - found)[:3]}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _write_marked(entry, first: int, fields: dict, folder: Path) -> None:
    from camvideo.models.ovcore import core

    network = core().read_model(str(entry.xml))
    names = set(marked_names(network, first))
    marked = _marked_xml(entry.xml.read_text(encoding="utf-8"), names)
    with _staged(folder, fields) as staging:
        (staging / _FILES[0]).write_bytes(marked)
        shutil.copyfile(entry.folder / _FILES[1], staging / _FILES[1])
        kept = core().read_model(str(staging / _FILES[0]))  # the plugin sees the marks: check they were read
        if sum(f"{_MARK['name']}_{_MARK['version']}" in op.get_rt_info() for op in kept.get_ops()) != len(names):
            raise RuntimeError("OpenVINO did not read the keep-f32 marks back from the IR")
