"""The checks before torch (camvideo.cli.inputs): a missing SOURCE, a folder with nothing to process, a
--model name that is no model, the model options (a --device typo, choices no model can run together, files
that are not there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camvideo.app.catalogue import keep
from camvideo.cli import main
from camvideo.cli.inputs import (
    check_device,
    check_model_files,
    check_model_name,
    check_runtime_choice,
    check_source,
    keep_model_names,
    kept_model_names,
)
from camvideo.errors import CamvideoError, InputError, ModelLoadError
from camvideo.settings import ModelOptions
from camvideo.video.recorder import nvenc_surely_absent

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        check_source(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("name", ["0", "rtsp://host/stream", "frames/*.png"])
def test_cameras_urls_and_patterns_are_left_to_open(name):
    check_source(name, videos=True)


def test_a_folder_with_images_passes(tmp_path):
    (tmp_path / "f.PNG").write_bytes(b"")
    check_source(str(tmp_path), videos=True)


def test_an_empty_folder_for_process_names_images_and_videos(tmp_path):
    with pytest.raises(InputError) as error:
        check_source(str(tmp_path), videos=True)
    text = str(error.value)
    assert "no images (.png" in text and "no videos (.mp4, .mkv" in text and "a folder of videos" in text


def test_an_empty_folder_for_the_window_names_images_only(tmp_path):
    with pytest.raises(InputError) as error:
        check_source(str(tmp_path))
    assert "no images (.png" in str(error.value) and "videos" not in str(error.value)


def test_process_on_an_empty_folder_is_one_line(tmp_path, capsys):
    assert main(["process", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder has no images" in err and "no videos" in err


NAMES = {"lite0", "lite1", "lite2", "resnet18", "resnet50"}


@pytest.mark.parametrize("name", ["resnet18", "torchvision:resnet50", "lite0", "timm:anything", "my.onnx", "m.XML"])
def test_known_names_and_files_pass(name):
    check_model_name(name, NAMES)


def test_an_unknown_name_says_what_it_may_be_a_typo_of():
    with pytest.raises(ModelLoadError, match=r"unknown model 'resnt18' \(did you mean resnet18"):
        check_model_name("resnt18", NAMES)


def test_no_kept_list_leaves_the_name_to_the_load(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kept_model_names() is None
    check_model_name("nosuch")


@pytest.mark.parametrize("argv, words", [
    (["process", "missing.mp4"], "no such file or folder"),
    (["process", "--model", "nosuch", "DEMO"], "unknown model 'nosuch'"),
    (["image", "--model", "nosuch", "DEMO"], "unknown model 'nosuch'"),
    (["gui", "--model", "nosuch"], "unknown model 'nosuch'"),
    (["process", "DEMO", "--device", "gpu"], "got 'gpu'; did you mean cuda?"),
    (["process", "DEMO", "--device", "gpu", "--output-dir", "out"], "did you mean cuda?"),  # a batch
    (["image", "DEMO", "--device", "CUDA"], "did you mean cuda?"),
    (["eval", "--devset", "--device", "cuda0"], "did you mean cuda:0?"),
    (["gui", "--device", "gpu"], "did you mean cuda?"),
    (["bench", "--device", "gpu"], "did you mean cuda?"),
    (["process", "DEMO", "--precision", "bf16", "--runtime", "torch"], "cannot go with --runtime torch"),
    (["gui", "--device", "openvino:CPU", "--runtime", "torch"], "cannot go with --runtime torch"),
    (["process", "DEMO", "--weights", "missing.pt"], "weights file missing.pt does not exist"),
    (["image", "DEMO", "--model", "missing.onnx"], "model file missing.onnx not found"),
    (["process", "DEMO", "--input-size", "5"], "--input-size must be between 8 and 2048"),
    pytest.param(["process", "DEMO", "--codec", "h264_nvenc"], "needs an NVIDIA GPU",
                 marks=pytest.mark.skipif(not nvenc_surely_absent(), reason="an NVIDIA GPU here")),
])
def test_a_typo_is_said_before_torch_is_imported(tmp_path, monkeypatch, argv, words):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    keep([[name, None] for name in sorted(NAMES)])  # the window's kept list of names
    demo = str(ROOT / "camvideo" / "resources" / "demo.mp4")
    code = ("import sys; from camvideo.cli.parser import main; "
            f"rc = main({[demo if a == 'DEMO' else a for a in argv]!r}); print(rc, 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert words in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()  # a batch that cannot start makes no folder


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps", "xpu:0", "openvino:GPU", "openvino:AUTO:GPU,CPU"])
def test_devices_that_torch_or_openvino_may_have_pass(device):
    check_device(device)


@pytest.mark.parametrize("device, guess", [
    ("gpu", "cuda"), ("GPU:1", "cuda:1"), ("CUDA", "cuda"), ("cuda0", "cuda:0"), ("cuda 1", "cuda:1"), ("cpu ", "cpu"),
    ("cdua", "cuda"), ("atuo", "auto"), ("intel", "openvino:GPU"), ("openvino", "openvino:CPU"), ("XPU", "xpu"),
    ("banana", None), ("cuda:-1", None), ("", None),
])
def test_a_device_no_torch_takes_is_one_line_with_what_it_may_be_a_typo_of(device, guess):
    with pytest.raises(CamvideoError) as error:
        check_device(device)
    text = str(error.value)
    assert text.startswith("--device must be auto, cpu, cuda, cuda:N, mps or openvino:NAME") and "\n" not in text
    assert text.endswith(f"; did you mean {guess}?" if guess else f"got {device!r}")


def test_the_privateuse1_backend_under_the_name_torch_reports_passes(monkeypatch):
    """An out-of-tree device (Ascend's torch_npu renames PrivateUse1 to ``npu``): the name
    torch reports passes the early check, another is still refused."""
    import torch

    monkeypatch.setattr(torch._C, "_get_privateuse1_backend_name", lambda: "npu")
    check_device("npu")
    check_device("npu:1")
    with pytest.raises(CamvideoError, match="got 'npx'"):
        check_device("npx")


def test_before_torch_a_device_extension_installed_leaves_a_new_name_to_the_load(monkeypatch):
    """torch not imported yet (the command line's early check): a device extension that torch
    loads at import (an entry point of ``torch.backends``) may name PrivateUse1, so a
    well-formed name passes to the load, which asks torch; without one it is refused."""
    import importlib.metadata

    monkeypatch.delitem(sys.modules, "torch")
    extensions = []
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: extensions if group == "torch.backends" else [])
    with pytest.raises(CamvideoError, match="did you mean openvino:NPU"):
        check_device("npu")
    extensions.append("torch_npu")
    check_device("npu")
    check_device("npu:0")
    with pytest.raises(CamvideoError):
        check_device("npu:-1")
    for typo, guess in (("gpu", "cuda"), ("cdua", "cuda")):  # still a typo's guess, before torch loads
        with pytest.raises(CamvideoError, match=f"did you mean {guess}"):
            check_device(typo)


def test_the_early_device_check_imports_no_torch():
    code = ("import sys\nfrom camvideo.cli.inputs import check_device\ntry:\n    check_device('npu')\n"
            "except Exception as e:\n    print(type(e).__name__)\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-1] == "False", done.stderr


@pytest.mark.parametrize("options, words", [
    (dict(device="openvino:GPU", runtime="torch"), "--device openvino:GPU runs OpenVINO; it cannot go with --runtime torch"),
    (dict(precision="int8", runtime="torch"), "--precision int8: runs on OpenVINO; it cannot go with --runtime torch"),
    (dict(device="cuda:0", runtime="openvino"), "--runtime openvino takes a model on the CPU, not cuda:0"),
    (dict(model="dir/my.ONNX", precision="int8"), r"--precision int8: camvideo quantizes the models it converts, "
     r"not an exported graph \(my.ONNX\); quantize the graph itself \(NNCF\) and pass that file, or choose "
     r"--precision f32"),
    (dict(model="nets/r18.xml", runtime="torch"), r"--runtime torch: an exported graph \(r18.xml\) runs on OpenVINO, "
     r"which reads it; use --runtime auto or openvino"),
])
def test_choices_that_no_model_can_run_together_are_refused(options, words):
    with pytest.raises(CamvideoError, match=words):
        check_runtime_choice(ModelOptions(**options))


@pytest.mark.parametrize("options", [dict(device="openvino:CPU"), dict(precision="bf16"), dict(runtime="torch"),
                                     dict(device="cuda", precision="bf16")])  # auto: torch on a GPU, f32
def test_choices_a_model_may_run_pass(options):
    check_runtime_choice(ModelOptions(**options))


def test_int8_without_nncf_is_said_before_the_load(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nncf" else real(name, *a))
    with pytest.raises(CamvideoError, match=r"--precision int8: needs NNCF: pip install 'camvideo\[int8\]'"):
        check_runtime_choice(ModelOptions(precision="int8"))


def test_the_model_files_are_looked_for(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"x")
    (tmp_path / "ir.xml").write_text("<net/>")
    check_model_files(ModelOptions(weights=str(tmp_path / "w.pt")))
    for options, words in [(dict(checkpoint=str(tmp_path / "none.pt")), "checkpoint .*none.pt does not exist"),
                           (dict(weights=str(tmp_path)), "cannot read weights file .*: it is a folder, not a file"),
                           (dict(labels=str(tmp_path / "none.txt")), "cannot read labels file .*none.txt"),
                           (dict(model=str(tmp_path / "m.onnx")), "model file .*m.onnx not found"),
                           (dict(model=str(tmp_path / "ir.xml")), "ir.bin not found: an OpenVINO IR is the .xml and the .bin")]:
        with pytest.raises(ModelLoadError, match=words):
            check_model_files(ModelOptions(**options))


def test_a_failed_load_keeps_the_model_list_for_the_next_typo(tmp_path, monkeypatch):
    pytest.importorskip("torchvision.models")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    keep_model_names()
    names = kept_model_names()
    assert names is not None and {"lite0", "resnet50"} <= names
    with pytest.raises(ModelLoadError, match="did you mean resnet50"):
        check_model_name("resnet5")
