"""ModelOptions: checked where made, loaded by one core function for every front end;
a batch's config id as before (archives resume)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from camvideo.errors import CamvideoError
from camvideo.settings import INPUT_SIZES, ModelOptions


def test_options_are_checked_where_made():
    assert ModelOptions() == ModelOptions(model="lite0", device="auto", runtime="auto")
    with pytest.raises(CamvideoError, match=r"^--input-size must be between 8 and 2048 pixels, got 4000$"):
        ModelOptions(input_size=4000)
    with pytest.raises(CamvideoError, match="--runtime must be one of auto, torch, openvino"):
        ModelOptions(runtime="tensorrt")
    with pytest.raises(CamvideoError, match=r"^--precision must be one of auto, f32, bf16, int8, got 'int4'$"):
        ModelOptions(precision="int4")
    with pytest.raises(CamvideoError, match="--mean must be three numbers"):
        ModelOptions(mean=(0.5, 0.5))
    with pytest.raises(CamvideoError, match="--std must be three positive numbers"):
        ModelOptions(std=(0.5, 0.0, 0.5))
    with pytest.raises(TypeError):
        ModelOptions(model=None)
    with pytest.raises(TypeError):
        ModelOptions(input_size=2.5)
    options = ModelOptions(weights=Path("w.pth"), mean=[1, 2, 3], class_ids=[3, 5], input_size=INPUT_SIZES[0])
    assert options.weights == "w.pth" and options.mean == (1.0, 2.0, 3.0) and options.class_ids == (3, 5)
    assert options.load_kwargs() == {"weights": "w.pth", "mean": (1.0, 2.0, 3.0), "input_size": 8}
    assert pickle.loads(pickle.dumps(options)) == options  # a batch worker gets it


def test_the_settings_module_stays_light():
    import subprocess
    import sys

    code = ("import sys, camvideo.settings, camvideo.runtime.loading, camvideo.timing, camvideo.progress\n"
            "print(sorted(m for m in ('torch', 'numpy', 'cv2', 'PyQt6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_embedded_default_loads_and_runs_on_torch():
    from camvideo.runtime.loading import forward_for, load_model_from

    options = ModelOptions(device="cpu", runtime="torch", input_size=160, class_ids=(281,), topk=2)
    model = load_model_from(options)
    assert model.name == "lite0" and tuple(model.preprocessing.size) == (160, 160)
    assert forward_for(model, options) is None  # torch's own
    with pytest.raises(CamvideoError, match=r"^--class must be a class id of lite0 in 0\.\.999, got 1000$"):
        load_model_from(ModelOptions(device="cpu", class_ids=(1000,)))
    with pytest.raises(CamvideoError, match=r"^--topk must be at most 1000"):
        load_model_from(ModelOptions(device="cpu", topk=1001))
    with pytest.raises(CamvideoError, match=r"^--device: device 'openvino:'"):
        load_model_from(ModelOptions(device="openvino:"))
    with pytest.raises(TypeError):
        load_model_from({"model": "lite0"})


def test_the_command_line_builds_the_same_options():
    from camvideo.cli.options import model_options_from_args
    from camvideo.cli.parser import build_parser

    args = build_parser().parse_args(["process", "x", "--device", "cpu", "--mean", "0.5,0.5,0.5", "--class", "3",
                                      "--input-size", "160"])
    assert model_options_from_args(args) == ModelOptions(device="cpu", mean=(0.5, 0.5, 0.5), class_ids=(3,),
                                                         input_size=160, topk=1)


# The config ids of these options (the command line's (option, value) pairs), pinned: an
# archive made with them resumes. They changed twice since ModelOptions: with the moving
# extent in the default smoothing and each detection's `regions` in the JSON (issue 25),
# outputs made before differ, so an archive made before is redone once; again with a
# smoothed video's boxes found on a 160-pixel map (`SmoothingSettings.box_side`, issue 24).
CONFIG_IDS = [
    ([], "3ed06b278792"),
    (["--device", "cpu"], "3ed06b278792"),
    (["--topk", "3"], "a4232458bba5"),
    (["--class", "3", "--class", "5"], "eab82a03f754"),
    (["--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"], "641b3e05f5a3"),
    (["--input-size", "160", "--weights", "w.pth", "--layer", "blocks.5"], "28a2e8d8c962"),
    (["--quality", "best", "--no-heatmap"], "56163d0dd7f6"),
    (["--checkpoint", "c.pt", "--labels", "l.txt"], "478e5c29ab55"),
    (["--precision", "f32"], "3ed06b278792"),  # f32, the default, hashes as before --precision
]


@pytest.mark.parametrize("argv, config", CONFIG_IDS)
def test_a_batch_config_id_is_what_it_was(argv, config, monkeypatch):
    """Where ``--precision auto`` (the default) runs f32, as before --precision."""
    from camvideo.batch.job import JobOptions
    from camvideo.runtime import quantize

    monkeypatch.setattr(quantize, "auto_precision", lambda device="CPU": "f32")
    from camvideo.cli import options as cli
    from camvideo.cli.parser import build_parser

    args = build_parser().parse_args(["process", "x", *argv])
    options = JobOptions(model=cli.model_options_from_args(args), settings=cli.localize_settings_from_args(args),
                         overlay=cli.overlay_settings_from_args(args))
    assert options.config_id() == config


def test_a_batch_config_id_follows_the_precision(monkeypatch):
    """auto hashes as what it runs here: bf16 where the CPU runs bf16 natively, else f32."""
    from camvideo.batch.job import JobOptions
    from camvideo.runtime import quantize

    def config(precision):
        return JobOptions(model=ModelOptions(precision=precision)).config_id()

    assert ModelOptions().precision == "auto"
    for here in ("f32", "bf16"):
        monkeypatch.setattr(quantize, "auto_precision", lambda device="CPU", here=here: here)
        assert config("auto") == config(here) and config("bf16") != config("f32") != config("int8")


def test_a_batch_config_id_follows_the_contents_of_the_model_files(tmp_path):
    """Case 7 of the reliability issue: a retrained checkpoint or edited labels at the
    same path redo the files; the same contents keep the key."""
    from camvideo.batch.job import JobOptions
    from camvideo.settings import ModelOptions

    checkpoint, labels = tmp_path / "c.pt", tmp_path / "l.txt"
    checkpoint.write_bytes(b"first training")
    labels.write_text("cat\ndog\n")

    def key() -> str:
        return JobOptions(model=ModelOptions(checkpoint=str(checkpoint), labels=str(labels))).config_id()

    first = key()
    assert key() == first
    checkpoint.write_bytes(b"retrained")
    second = key()
    assert second != first
    labels.write_text("cat\nwolf\n")
    assert key() not in (first, second)
    # no file given: the key it always was (CONFIG_IDS above, pinned)


def test_a_batch_config_id_follows_an_exported_graph_s_files(tmp_path):
    """An exported model edited in place (its .onnx, or an IR's .xml or .bin) redoes the files."""
    from camvideo.batch.job import JobOptions
    from camvideo.settings import ModelOptions

    onnx, xml, weights = tmp_path / "m.onnx", tmp_path / "n.xml", tmp_path / "n.bin"
    onnx.write_bytes(b"graph one")
    xml.write_text("<net/>")
    weights.write_bytes(b"weights one")

    def key(path) -> str:
        return JobOptions(model=ModelOptions(model=str(path))).config_id()

    first_onnx, first_ir = key(onnx), key(xml)
    assert key(onnx) == first_onnx and key(xml) == first_ir
    onnx.write_bytes(b"graph two")
    weights.write_bytes(b"weights two")
    assert key(onnx) != first_onnx and key(xml) != first_ir


def test_frame_sizes_are_the_ones_the_frames_need():
    """A 4:3 file on the default preset makes ready 224x288 only (not the model's own
    224x224 too); an unknown frame size leaves the model's own."""
    from camvideo.models import load_model
    from camvideo.presets import quality_settings
    from camvideo.runtime.loading import frame_sizes

    model = load_model("lite0", pretrained=False)
    assert frame_sizes(model, quality_settings("balanced"), (640, 480)) == [(224, 288)]
    assert frame_sizes(model, quality_settings("fast"), (640, 480)) == [(224, 224)]
    assert len(frame_sizes(model, quality_settings("best"), (640, 480))) == 2
    assert frame_sizes(model, quality_settings("balanced"), None) is None
