"""``printable`` (camvideo/errors.py): a name printed by camvideo is one line of plain
text, whatever the file's name holds; an ordinary name is printed as it is."""

from __future__ import annotations

import logging

import pytest

from camvideo.errors import CamvideoError, RedactingFilter, describe, printable


@pytest.mark.parametrize("name", [
    "clip.mp4", "day 1/cam (2).mkv", "été/日本語 ✓.mp4", "C:\\videos\\a.mp4", "it's \"quoted\" & <tagged>.mkv",
    "rtsp://cam:554/s?x=1&y=2", "",
])
def test_ordinary_names_are_unchanged(name):
    assert printable(name) == name


@pytest.mark.parametrize("name, shown", [
    ("a\ncamvideo: [2/2] done b.mp4", "a\\ncamvideo: [2/2] done b.mp4"),  # a forged progress line
    ("x\x1b[2J\x1b[31mred.mp4", "x\\x1b[2J\\x1b[31mred.mp4"),  # clear screen, red
    ("tab\tcr\rbell\x07del\x7f.mp4", "tab\\tcr\\rbell\\x07del\\x7f.mp4"),
    ("csi\x9b31m.mp4", "csi\\x9b31m.mp4"),  # the one-byte CSI of C1
    ("gpj.\u202emp4", "gpj.\\u202emp4"),  # right-to-left override: shown as 'gpj.4pm'
    ("latin1-\udce9t\udce9.mp4", "latin1-\\xe9t\\xe9.mp4"),  # bytes that are not UTF-8 (os.fsdecode)
])
def test_control_characters_are_escaped(name, shown):
    assert printable(name) == shown
    assert shown.isprintable()


def test_messages_and_camvideos_log_lines_are_one_line():
    name = "a\nERROR forged.mp4"
    assert str(CamvideoError(f"{name}: no such file")) == "a\\nERROR forged.mp4: no such file"
    assert describe(OSError(f"x\x1b[31m{name}: gone")) == "OSError: x\\x1b[31ma"  # its first line, escaped
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    handler.addFilter(RedactingFilter())
    for logger in ("camvideo.video.files", "someone.else"):
        log = logging.getLogger(logger)
        log.addHandler(handler)
        try:
            log.warning("skipping %s", name)
        finally:
            log.removeHandler(handler)
    assert seen == ["skipping a\\nERROR forged.mp4", f"skipping {name}"]  # other libraries' lines kept


def test_the_reason_of_an_openvino_error_is_its_cause_not_its_source_file():
    from camvideo.errors import reason

    exc = RuntimeError("Exception from src/inference/src/cpp/core.cpp:268:\n"
                       "Exception from src/inference/src/dev/core_impl.cpp:706:\n"
                       'Device with "TPU" name is not registered in the OpenVINO Runtime\n\n')
    assert reason(exc) == 'Device with "TPU" name is not registered in the OpenVINO Runtime'
    assert reason(RuntimeError("\n\nfirst\nsecond")) == "first"
    assert reason(RuntimeError("Exception from src/a.cpp:1:")) == "RuntimeError"
    checked = RuntimeError("Exception from src/inference/src/cpp/core.cpp:84:\n"
                           "Check 'res.status == pugi::status_ok' failed at src/frontends/ir/src/input_model.cpp:219:\n"
                           "Error parsing start element tag at offset 2999\n")
    assert reason(checked) == "Error parsing start element tag at offset 2999"


def test_a_file_given_as_a_model_name_is_sent_where_it_goes(tmp_path):
    from camvideo.errors import describe, unknown_model

    assert describe(unknown_model("nets/model.pth", ["resnet18"])) == (
        "unknown model 'nets/model.pth': a torch file goes with --checkpoint nets/model.pth (a state dict: give its "
        "architecture with --model); a model file is an exported graph, .onnx or OpenVINO IR .xml")
    other = tmp_path / "model.tflite"
    other.touch()
    assert describe(unknown_model(str(other), ["resnet18"])) == (
        f"unknown model '{other}': a model file camvideo reads is an exported graph, .onnx or OpenVINO IR .xml "
        "with its .bin; convert it to one of those")
    graph = tmp_path / "model.onnx"
    graph.touch()
    assert "convert it" not in describe(unknown_model(str(graph), ["resnet18"]))  # the format it reads
    assert "did you mean resnet18?" in describe(unknown_model("resnt18", ["resnet18"]))
