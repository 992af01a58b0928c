"""Errors carry Hints, not flags: the command line and the window each word them."""

from __future__ import annotations

import pickle

import pytest

from camvideo.app.wording import window_text, window_words
from camvideo.errors import CamvideoError, Hint, ModelLoadError, describe, option_words


def offline() -> ModelLoadError:
    return ModelLoadError("resnet50: no network; run ", Hint("fetch", "resnet50", command="models"),
                          " elsewhere, or download it and ", Hint("weights", "PATH", "pass it with"),
                          ", or use lite0")


def test_the_command_line_words_are_the_flags():
    exc = offline()
    assert str(exc) == describe(exc) == exc.render(option_words) == (
        "resnet50: no network; run `camvideo models --fetch resnet50` elsewhere, or download it and "
        "pass it with --weights PATH, or use lite0")
    assert exc.hints == (Hint("fetch", "resnet50", command="models"), Hint("weights", "PATH", "pass it with"))
    assert str(CamvideoError(Hint("input_size"), " must be between 8 and 2048")) == "--input-size must be between 8 and 2048"
    assert str(CamvideoError(Hint("device", subject=True), "bad")) == "--device: bad"
    assert str(CamvideoError("see ", Hint("", command="models"))) == "see `camvideo models`"


def test_the_window_words_are_its_controls():
    assert window_text(offline()) == (
        "resnet50: no network; run `camvideo models --fetch resnet50` elsewhere, or download it and "
        "open it with “Weights file…” (next to the model list), or use lite0")
    gradcam = CamvideoError(Hint("runtime", "openvino", subject=True), "x gets Grad-CAM; ",
                            Hint("runtime", "torch", "use"), " (or auto)")
    assert str(gradcam) == "--runtime openvino: x gets Grad-CAM; use --runtime torch (or auto)"
    assert gradcam.render(window_words) == "x gets Grad-CAM; use Runtime torch (or auto)"
    gpu = CamvideoError(Hint("runtime", "openvino"), " takes a model on the CPU; ", Hint("device", "cpu", "use"))
    assert gpu.render(window_words) == "Runtime openvino takes a model on the CPU; use device cpu"
    labels = CamvideoError("give ", Hint("labels", "FILE"))  # no control in the window: camvideo gui's option
    assert labels.render(window_words) == str(labels) == "give --labels FILE"
    assert window_text(ValueError("odd")) == "ValueError: odd"


def test_a_plain_message_and_pickling_keep_the_hints():
    assert str(CamvideoError("plain")) == "plain" and CamvideoError("plain").parts == ("plain",)
    exc = pickle.loads(pickle.dumps(offline()))  # a batch worker's error crosses a process
    assert exc.parts == offline().parts and str(exc) == str(offline())
    with pytest.raises(TypeError):
        CamvideoError("x", 3)
    with pytest.raises(ValueError):
        Hint("--weights")


def test_core_errors_give_hints():
    """A real core error: the runtime choice for a Grad-CAM model."""
    from camvideo.models import load_model
    from camvideo.runtime.runtimes import choose_runtime

    model = load_model("lite0", layer="blocks.5")  # not the CAM layer: Grad-CAM
    with pytest.raises(CamvideoError) as caught:
        choose_runtime(model, "openvino")
    assert Hint("runtime", "torch", "use") in caught.value.hints
    assert "--runtime" not in caught.value.render(window_words)


def test_stream_passwords_are_redacted_in_messages_and_logs(caplog):
    """Lower list of the reliability issue: `rtsp://admin:S3cretPW@...` never printed."""
    import logging

    from camvideo.errors import CamvideoError, RedactingFilter, describe, redact

    url = "rtsp://admin:S3cretPW@10.0.0.5:554/stream1"
    assert redact(f"cannot open {url}") == "cannot open rtsp://admin:***@10.0.0.5:554/stream1"
    assert "S3cretPW" not in str(CamvideoError(f"{url}: no answer"))
    assert "S3cretPW" not in describe(OSError(f"{url}: refused"))
    assert redact("rtsp://10.0.0.5/s and a:b@c") == "rtsp://10.0.0.5/s and a:b@c"  # nothing to hide
    log = logging.getLogger("camvideo.test.redact")
    handler = logging.Handler()
    seen = []
    handler.emit = lambda record: seen.append(record.getMessage())
    handler.addFilter(RedactingFilter())
    log.addHandler(handler)
    try:
        log.warning("stream %s lost", url)
    finally:
        log.removeHandler(handler)
    assert seen == ["stream rtsp://admin:***@10.0.0.5:554/stream1 lost"]
