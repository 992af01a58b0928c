"""camvideo.runtime.quantize: int8 by NNCF and bf16's IR with its first layers kept
in f32, each made once per conversion, kept in the cache beside the f32 IR, remade
when damaged, run by OpenVINOForward, near f32."""

from __future__ import annotations

import json
import sys
import threading

import cv2
import numpy as np
import pytest
import torch

import camvideo.runtime  # noqa: F401 - before nncf: camvideo keeps OpenVINO's usage events off, as in use
from camvideo.errors import CamvideoError
from camvideo.models import load_model

ov = pytest.importorskip("openvino")
try:
    import nncf
except ImportError:  # the int8 tests skip; bf16's run
    nncf = None
from camvideo.runtime import openvino as ovrt  # noqa: E402 - after the skip
from camvideo.runtime import quantize  # noqa: E402
from camvideo.runtime.ovcache import convert  # noqa: E402

pytestmark = pytest.mark.timeout(600)
PHOTOS = ("chelsea", "coffee", "astronaut")
needs_nncf = pytest.mark.skipif(nncf is None, reason="NNCF is not installed (camvideo[int8])")
NATIVE_BF16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.fixture()
def small_set(photo, monkeypatch):
    """Six frames (the photos and their mirror images) as the calibration set: seconds, not a minute."""
    frames = [photo(n) for n in PHOTOS]
    frames += [cv2.flip(f, 1) for f in frames]
    monkeypatch.setattr(quantize, "calibration_frames", lambda: ("photos", frames))
    monkeypatch.setattr(quantize, "calibration_source", lambda: ("photos", "their digest"))
    monkeypatch.setattr(quantize, "_kept", {})  # no frames kept from another test
    return frames


@needs_nncf
def test_int8_is_made_once_kept_beside_f32_and_remade_when_damaged(tmp_path, small_set, monkeypatch, caplog):
    lite0 = load_model("lite0")
    entry = convert(lite0, tmp_path, (224, 224))
    xml = quantize.quantized(lite0, entry)
    assert xml.parent.parent == entry.folder and xml.parent.name.startswith("int8-") and xml.with_suffix(".bin").exists()

    def refuse(*args, **kwargs):
        raise AssertionError("quantized again")

    with monkeypatch.context() as m:  # found again: neither quantized nor its frames made
        m.setattr(nncf, "quantize", refuse)
        m.setattr(quantize, "calibration_frames", refuse)
        assert quantize.quantized(lite0, entry) == xml
        m.undo()
        m.setattr(nncf, "quantize", refuse)
        with pytest.raises(AssertionError, match="quantized again"):  # another calibration set: its own entry
            quantize.quantized(lite0, entry, ("one", small_set[:1]))
    bin_file = xml.with_suffix(".bin")
    bin_file.write_bytes(bin_file.read_bytes()[:-7] + b"damaged")
    assert quantize.quantized(lite0, entry) == xml
    assert "does not match its manifest; quantizing again" in caplog.text
    assert quantize._valid(xml.parent, json.loads((xml.parent / "manifest.json").read_text())["fields"])


@needs_nncf
def test_int8_of_two_input_sizes_makes_the_calibration_frames_once(tmp_path, small_set, monkeypatch):
    """Each size's IR is quantized (NNCF measures it at its size) from one calibration
    set, kept KEEP_S seconds after its use and then dropped."""
    lite0 = load_model("lite0")
    made = []
    monkeypatch.setattr(quantize, "calibration_frames", lambda: made.append(1) or ("photos", small_set))
    xmls = [quantize.quantized(lite0, convert(lite0, tmp_path, size)) for size in ((224, 224), (224, 288))]
    assert xmls[0] != xmls[1] and all(xml.exists() for xml in xmls) and made == [1]
    timer = quantize._forget
    assert timer.daemon and timer.interval == quantize.KEEP_S and timer.is_alive()
    timer.cancel()
    quantize._drop_calibration(timer)  # what the timer does: made again when next needed
    assert quantize._kept == {}


@needs_nncf
def test_int8_runs_in_openvino_near_f32(tmp_path, small_set, photo):
    """The int8 model's own compiled blob; on the photos of an ImageNet class the
    features follow f32's (correlation >= 0.95) and give the same top-1 class."""
    lite0 = load_model("lite0")
    f32 = ovrt.OpenVINOForward(lite0, cache=tmp_path)
    int8 = ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="int8")
    assert int8.entry == f32.entry and int8.precision == "int8"
    assert len(list(f32.entry.folder.glob("int8-*/compiled-*.blob"))) == 1
    for name in ("chelsea", "coffee"):
        x = _input(lite0, photo(name))
        a, b = f32(x), int8(x)
        assert np.corrcoef(a.numpy().ravel(), b.numpy().ravel())[0, 1] >= 0.95
        assert int(lite0.fc(a.mean((2, 3))).argmax()) == int(lite0.fc(b.mean((2, 3))).argmax())


def _input(model, frame):
    from camvideo.cam.preprocess import preprocess

    return preprocess([frame], model)


def test_the_calibration_source_is_the_devsets_tune_split_found_without_making_frames():
    name, digest = quantize.calibration_source()
    assert name == "devset-tune" and len(digest) == 32  # this checkout has the devset
    assert quantize.calibration_source() == (name, digest)


def test_int8_without_nncf_is_one_clear_error(tmp_path, monkeypatch):
    lite0 = load_model("lite0")
    monkeypatch.setitem(sys.modules, "nncf", None)
    with pytest.raises(CamvideoError, match=r"^--precision int8: needs NNCF: pip install 'camvideo\[int8\]' \(or choose --precision f32\)$"):
        ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="int8")


def _precisions(forward, size=(224, 224)) -> list[str]:
    """The runtime precision of each convolution the CPU plugin runs, in order."""
    ops = forward._shapes[size].compiled.get_runtime_model().get_ordered_ops()
    return [op.get_rt_info()["runtimePrecision"].astype(str) for op in ops
            if op.get_rt_info()["layerType"].astype(str) == "Convolution"]


def test_bf16_keeps_the_first_convolutions_in_f32(tmp_path, photo):
    """bf16's own IR beside the f32 one, its first BF16_F32_FIRST convolutions marked
    (and, on a CPU with native bf16, run in f32: all of them marked gives f32's features
    exactly); 0 compiles the f32 IR itself in bf16."""
    lite0 = load_model("lite0")
    f32 = ovrt.OpenVINOForward(lite0, cache=tmp_path)
    bf16 = ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="bf16")
    first = quantize.BF16_F32_FIRST
    assert bf16.bf16_f32_first == first and bf16.entry == f32.entry
    (folder,) = f32.entry.folder.glob(f"bf16-f32first{first}-*")
    network = ov.Core().read_model(str(folder / "features.xml"))
    marked = [op.get_type_name() for op in network.get_ordered_ops() if "DisablePrecisionConversion_0" in op.get_rt_info()]
    assert sum(t in ("Convolution", "GroupConvolution") for t in marked) == first
    assert len(list(folder.glob("compiled-*.blob"))) == 1 and len(list(f32.entry.folder.glob("compiled-*.blob"))) == 1
    every = ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="bf16", bf16_f32_first=49)
    none = ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="bf16", bf16_f32_first=0)
    assert len(list(f32.entry.folder.glob("bf16-*"))) == 2 and len(list(f32.entry.folder.glob("compiled-*.blob"))) == 2
    x = _input(lite0, photo("chelsea"))
    if NATIVE_BF16:
        assert _precisions(bf16) == ["f32"] * first + ["bf16"] * (49 - first)
        assert _precisions(none) == ["bf16"] * 49
        assert torch.equal(every(x), f32(x))
    a, b = f32(x), bf16(x)
    assert int(lite0.fc(a.mean((2, 3))).argmax()) == int(lite0.fc(b.mean((2, 3))).argmax())


def test_bf16s_ir_is_made_once_and_remade_when_damaged(tmp_path, monkeypatch):
    lite0 = load_model("lite0")
    entry = convert(lite0, tmp_path, (224, 224))
    xml = quantize.bf16_ir(entry, 3)
    assert xml.parent.parent == entry.folder and xml.with_suffix(".bin").read_bytes() == (
        entry.folder / "features.bin").read_bytes()
    assert quantize.bf16_ir(entry, 0) is None
    with monkeypatch.context() as m:
        m.setattr(quantize, "_write_marked", lambda *a: pytest.fail("made again"))
        assert quantize.bf16_ir(entry, 3) == xml
    xml.write_text(xml.read_text().replace("DisablePrecisionConversion", "Damaged", 1))
    assert quantize.bf16_ir(entry, 3) == xml and "Damaged" not in xml.read_text()
    assert quantize.bf16_ir(entry, 4).parent != xml.parent  # another count: its own IR and blobs


def test_bf16_checks_its_layer_count(tmp_path):
    lite0 = load_model("lite0")
    for bad in (-1, True, 2.0):
        with pytest.raises(ValueError, match="bf16_f32_first"):
            ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="bf16", bf16_f32_first=bad)
    entry = convert(lite0, tmp_path, (224, 224))
    with pytest.raises(ValueError, match="has 49 convolutions; bf16 cannot keep the first 50"):
        quantize.bf16_ir(entry, 50)


def test_auto_is_bf16_where_the_cpu_runs_it_natively(tmp_path, caplog):
    """``precision="auto"``: bf16 on a CPU whose OpenVINO capabilities list BF16, else
    f32; other devices f32 (their own arithmetic); a model on torch runs f32 without a word."""
    import logging

    from camvideo.runtime.runtimes import choose_runtime

    assert quantize.auto_precision() == ("bf16" if NATIVE_BF16 else "f32")
    assert quantize.auto_precision("GPU") == quantize.auto_precision("NPU") == "f32"
    lite0 = load_model("lite0")
    assert ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="auto").precision == quantize.auto_precision()
    other = load_model("resnet18", pretrained=False, input_size=64)  # not measured: f32
    assert ovrt.OpenVINOForward(other, cache=tmp_path, precision="auto").precision == "f32"
    torch.manual_seed(0)
    gradcam = load_model("mobilenet_v3_small", pretrained=False, input_size=64)
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.runtimes"):
        assert choose_runtime(gradcam, "auto", precision="auto") == "torch"
        assert choose_runtime(lite0, "torch", precision="auto") == "torch"
    assert not [r for r in caplog.records if r.name.startswith("camvideo")]


def test_auto_reads_the_cpus_flags(tmp_path, monkeypatch):
    """bf16 where /proc/cpuinfo's flags name avx512_bf16 or amx_bf16; f32 without them
    or without the file (another system)."""
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(quantize, "CPUINFO", cpuinfo)
    for text, want in (("flags\t\t: fpu avx512f avx512_vnni\n", "f32"), ("flags\t\t: fpu avx512_bf16\n", "bf16"),
                       ("model name: x\nflags : sse amx_bf16 amx_tile\n", "bf16"), (None, "f32")):
        quantize.auto_precision.cache_clear()
        cpuinfo.unlink(missing_ok=True)
        if text is not None:
            cpuinfo.write_text(text)
        assert quantize.auto_precision() == want
    quantize.auto_precision.cache_clear()


QUANTIZE_ONCE = r"""
import logging, sys
import cv2
logging.basicConfig(format="camvideo-line: %(message)s")
from camvideo.models import load_model
from camvideo.runtime import quantize
from camvideo.runtime.ovcache import convert
frames = [cv2.imread(p) for p in sys.argv[2:]]
lite0 = load_model("lite0")
quantize.quantized(lite0, convert(lite0, sys.argv[1], (224, 224)), ("photos", frames))
"""


@needs_nncf
def test_the_first_calibration_prints_nothing_of_nncfs(tmp_path, data_dir):
    """A fresh process, as a command's first int8 run: NNCF's INFO lines (its handler
    writes to stdout, where a command's data may go), its progress bars and torch's
    "No CUDA runtime" note as NNCF imports torch's cpp_extension: none of them; the
    one line is camvideo's."""
    import os
    import subprocess
    from pathlib import Path

    photos = [str(data_dir / f"{name}.png") for name in PHOTOS]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-c", QUANTIZE_ONCE, str(tmp_path), *photos], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("camvideo-line: OpenVINO: quantizing lite0 to int8"), lines


@needs_nncf
def test_quiet_nncf_gives_nncfs_and_richs_settings_back(capfd):
    import logging

    import rich
    from nncf.common.logging import nncf_logger
    from nncf.common.logging.track_progress import track

    console = rich.get_console()
    file, level = console.file, nncf_logger.level
    with quantize.quiet_nncf():
        nncf_logger.info("a line of NNCF's")
        assert list(track(range(3), description="Statistics collection")) == [0, 1, 2]
        assert rich.get_console() is console and not console.is_terminal
    assert capfd.readouterr() == ("", "")
    assert console.file is file and nncf_logger.level == level
    assert logging.getLogger("torch.utils.cpp_extension").level == logging.NOTSET


def test_calibration_frames_stay_kept_when_a_timer_fires_while_they_are_in_use(tmp_path, monkeypatch):
    """KEEP_S counts from the end of a use: a timer that fires while NNCF still runs on
    the frames (the lock held: a slow quantization) does not drop them for the next size."""
    made, timers, fired = [], [], []
    monkeypatch.setattr(quantize, "_kept", {})
    monkeypatch.setattr(quantize, "_forget", None)
    monkeypatch.setattr(quantize, "calibration_frames", lambda: made.append(1) or ("demo", [np.zeros((4, 4, 3))]))
    monkeypatch.setattr(quantize, "calibration_source", lambda: ("demo", "its digest"))
    monkeypatch.setattr(quantize, "_nncf", lambda: type("nncf", (), {"__version__": "0"}))
    monkeypatch.setattr(quantize, "_valid", lambda folder, fields: False)

    def slow_make(nncf, model, entry, images, fields, folder):  # KEEP_S passes meanwhile
        for timer in {t for t in (quantize._forget, *timers[-1:]) if t is not None}:
            fired.append(threading.Thread(target=timer.function, args=timer.args))
            fired[-1].start()  # waits for the lock

    monkeypatch.setattr(quantize, "_make", slow_make)
    for size in ("224", "288", "320"):
        quantize.quantized(None, type("entry", (), {"key": size, "folder": tmp_path})())
        for thread in fired:
            thread.join(10)
        timers.append(quantize._forget)
    assert made == [1]
    quantize._forget.cancel()
