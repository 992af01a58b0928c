"""Device selection: ``auto`` (CUDA, then the Apple GPU, then the CPU), ``mps``, and
OpenVINO devices (``openvino:GPU``). What this machine lacks is skipped cleanly."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from camvideo.errors import CamvideoError, ModelLoadError
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


def test_a_torch_device_without_its_extension_or_hardware_says_so_in_one_error(monkeypatch):
    """``privateuseone`` (a device extension's name before it renames it), ``xla``,
    ``hpu``: torch parses them, but nothing here runs them: a model load error, not a
    traceback from ``.to(device)``."""
    for name in ("privateuseone", "xla", "hpu"):
        with pytest.raises(ModelLoadError, match=f"no usable '{name}' device"):
            resolve_device(name)


def test_a_device_extension_that_says_its_device_is_there_is_taken(monkeypatch):
    class Extension:
        @staticmethod
        def is_available() -> bool:
            return True

    monkeypatch.setattr(torch, "hpu", Extension, raising=False)
    assert resolve_device("hpu") == torch.device("hpu")


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


def test_an_openvino_device_that_is_not_there_is_an_error_that_lists_those_there(openvino_lite0):
    from camvideo.runtime import openvino

    model, _ = openvino_lite0
    numbered = f"{openvino.devices()[0].split('.')[0]}.7"  # a family OpenVINO has, a number it has not
    for missing in ("TPU", numbered):
        with pytest.raises(CamvideoError) as caught:
            make_forward(model, "auto", openvino_device=missing)
        have = ", ".join(openvino.devices())
        assert str(caught.value) == (f"--device openvino:{missing}: OpenVINO has no device {missing} here; it has "
                                     f"{have} (use --device openvino:{openvino.devices()[0]})")


@pytest.mark.parametrize("device", ["TPU", "AUTO:TPU"])
@pytest.mark.parametrize("command", ["process", "image", "gui"])
def test_each_command_exits_2_on_an_openvino_device_that_is_not_there(command, device, tmp_path, capsys, data_dir):
    from camvideo.cli import main
    from camvideo.runtime import openvino

    if not openvino.available():
        pytest.skip("OpenVINO is not installed")
    source = {"image": data_dir / "chelsea.png"}.get(command, Path(__file__).parents[2] / "camvideo/resources/demo.mp4")
    outputs = {"process": ["-o", str(tmp_path / "o.mkv")], "image": ["-o", str(tmp_path / "o.png")]}.get(command, [])
    assert main([command, str(source), "--device", f"openvino:{device}", *outputs]) == 2  # before a window opens
    err = capsys.readouterr().err
    assert err.startswith(f"camvideo: error: --device openvino:{device}: OpenVINO has no device TPU here; it has ")
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_a_virtual_device_naming_a_device_that_is_not_there_is_the_same_error(openvino_lite0):
    from camvideo.runtime import openvino

    model, _ = openvino_lite0
    have = ", ".join(openvino.devices())
    for virtual, missing in (("AUTO:TPU", "device TPU"), ("HETERO:TPU,CPU", "device TPU"),
                             ("MULTI:TPU(2),FPGA", "devices TPU, FPGA")):
        with pytest.raises(CamvideoError) as caught:
            make_forward(model, "auto", openvino_device=virtual)
        assert str(caught.value) == (f"--device openvino:{virtual}: OpenVINO has no {missing} here; it has "
                                     f"{have} (use --device openvino:{openvino.devices()[0]})")


@pytest.mark.parametrize(("name", "named"), [
    ("CPU", ["CPU"]), ("GPU.1", ["GPU.1"]), ("AUTO", []), ("AUTO:GPU,CPU", ["GPU", "CPU"]),
    ("MULTI:GPU.1(4), CPU(2)", ["GPU.1", "CPU"]), ("BATCH:GPU(8)", ["GPU"]), ("AUTO:-CPU", []),
    ("AUTO:HETERO:GPU,CPU", ["CPU"]),
])
def test_the_devices_a_device_string_names(name, named):
    from camvideo.runtime.runtimes import named_devices

    assert named_devices(name) == named


def test_a_virtual_device_with_nothing_missing_is_openvinos_to_check_and_falls_back(openvino_lite0, caplog):
    model, _ = openvino_lite0
    with caplog.at_level(logging.WARNING):
        forward = make_forward(model, "auto", openvino_device="AUTO:-CPU")  # every device excluded
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


def test_the_window_takes_openvino_cpu_as_the_cpu():
    from camvideo.cli.commands.gui import window_device

    assert window_device("openvino:CPU") == "cpu" and window_device("cuda:1") == "cuda:1"
    import subprocess
    import sys

    code = ("import sys; from camvideo.cli.commands.gui import window_device; window_device('auto'); "
            "print('torch' in sys.modules)")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).parents[2])
    assert fresh.stdout.strip() == "False", fresh.stderr  # the window shows before torch is imported


def test_auto_and_multi_with_one_listed_device_there_run_on_it(monkeypatch):
    """OpenVINO's AUTO and MULTI leave out the listed devices it lacks (measured with
    OpenVINO on a CPU-only machine: AUTO:NPU,CPU and MULTI:NPU,CPU compile on the
    CPU); HETERO and BATCH need every one."""
    from camvideo.runtime import openvino
    from camvideo.runtime.runtimes import check_openvino_device

    monkeypatch.setattr(openvino, "available", lambda: True)
    monkeypatch.setattr(openvino, "devices", lambda: ["CPU"])
    for name in ("AUTO:NPU,CPU", "MULTI:NPU(2),CPU", "AUTO:TPU, CPU", "CPU", "AUTO"):
        check_openvino_device(name)
    for name in ("AUTO:NPU", "MULTI:NPU,TPU", "HETERO:NPU,CPU", "BATCH:NPU(4)", "NPU"):
        with pytest.raises(CamvideoError, match="OpenVINO has no device"):
            check_openvino_device(name)
