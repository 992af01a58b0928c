"""Device selection: ``auto`` (CUDA, then the Apple GPU, then the CPU), ``mps``, and
OpenVINO devices (``openvino:GPU``). What this machine lacks is skipped cleanly."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from camvideo.errors import ModelLoadError
from camvideo.models import load_model, registry, resolve_device
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.runtime.runtimes import make_forward
from camvideo.settings import LocalizeSettings

MPS = registry._mps_available()


def test_auto_picks_cuda_then_mps_then_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(registry, "_mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(registry, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.skipif(MPS, reason="this machine has an Apple GPU")
def test_mps_without_an_apple_gpu_says_so():
    with pytest.raises(ModelLoadError, match="no Apple GPU"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="mps"):
        resolve_device("tpu")


@pytest.mark.skipif(not MPS, reason="needs an Apple GPU (MPS)")
def test_mps_gives_the_cpu_classes_and_boxes(photo):
    from camvideo.cam.boxes import iou

    frame = photo("chelsea")
    want = FrameLocalizer(load_model("lite0", device="cpu"), LocalizeSettings(topk=3))([frame])[0]
    model = load_model("lite0", device="mps")
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3))
    assert localizer.runtime == "torch"  # auto: torch on the Apple GPU
    got = localizer([frame])[0]
    assert got.map_class_ids == want.map_class_ids
    assert iou(got.detections[0].box, want.detections[0].box) >= 0.95


def test_an_openvino_device_that_is_not_there_falls_back_to_torch(openvino_lite0, caplog):
    from camvideo.runtime import openvino

    model, _ = openvino_lite0
    missing = next(name for name in ("NPU", "GPU", "GPU.7") if name not in openvino.devices())
    with caplog.at_level(logging.WARNING):
        forward = make_forward(model, "auto", openvino_device=missing)
    assert forward is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
             and r.name.startswith("camvideo")]
    assert len(warnings) == 1 and "running the forward pass on torch" in warnings[0]
    result = FrameLocalizer(model, forward=forward)([np.zeros((64, 64, 3), np.uint8)])[0]
    assert len(result.detections) == 1


def test_the_command_line_takes_an_openvino_device(tmp_path, capsys, photo, data_dir, openvino_lite0):
    from camvideo.cli import main

    out = tmp_path / "cat.png"
    assert main(["image", str(data_dir / "chelsea.png"), "-o", str(out), "--device", "openvino:CPU",
                 "--json", "-"]) == 0
    obj = __import__("json").loads(capsys.readouterr().out.splitlines()[-1])
    assert obj["detections"][0]["label"] == "Egyptian cat" and out.is_file()
    assert main(["image", str(data_dir / "chelsea.png"), "--device", "openvino:CPU", "--runtime", "torch"]) == 2
    assert "cannot go with --runtime torch" in capsys.readouterr().err
