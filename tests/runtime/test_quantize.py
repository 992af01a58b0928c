"""int8 by NNCF (camvideo.runtime.quantize): made once per conversion, kept in the
cache beside the f32 IR, remade when damaged, run by OpenVINOForward, near f32."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest

import camvideo.runtime  # noqa: F401 - before nncf: camvideo keeps OpenVINO's usage events off, as in use
from camvideo.errors import CamvideoError
from camvideo.models import load_model

pytest.importorskip("openvino")
nncf = pytest.importorskip("nncf")
from camvideo.runtime import openvino as ovrt  # noqa: E402 - after the skips
from camvideo.runtime import quantize  # noqa: E402
from camvideo.runtime.ovcache import convert  # noqa: E402

pytestmark = pytest.mark.timeout(600)
PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture()
def small_set(photo, monkeypatch):
    """Six frames (the photos and their mirror images) as the calibration set: seconds, not a minute."""
    frames = [photo(n) for n in PHOTOS]
    frames += [cv2.flip(f, 1) for f in frames]
    monkeypatch.setattr(quantize, "calibration_frames", lambda: ("photos", frames))
    monkeypatch.setattr(quantize, "calibration_source", lambda: ("photos", "their digest"))
    return frames


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
