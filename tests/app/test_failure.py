"""What failed when the player on screen reports an error (``camvideo.app.failure``):
the source (Retry can help), the model (it says what went wrong in the model, no
Retry), or an output."""

from __future__ import annotations

from camvideo.app.failure import MODEL, OTHER, OUTPUT, SOURCE, failure, failure_kind
from camvideo.errors import CamvideoError, Hint, InputError, OutputError


def test_a_source_that_failed_offers_retry_with_its_own_words():
    told = failure(InputError("0: reading failed: the camera was unplugged"), "lite0")
    assert told.kind == SOURCE and told.retry
    assert told.message == "0: reading failed: the camera was unplugged"


def test_a_model_that_failed_on_a_frame_says_so_and_offers_no_retry():
    told = failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "resnet18")
    assert told.kind == MODEL and not told.retry
    assert told.message.startswith("the model resnet18 failed on a frame (RuntimeError: mat1 and mat2 shapes")
    assert "choose another model or Runtime" in told.message and "\n" not in told.message


def test_a_model_error_is_worded_for_the_window():
    told = failure(CamvideoError("inference failed; try ", Hint("runtime", "torch", "choose")), "lite0")
    assert told.kind == MODEL and "choose Runtime torch" in told.message and "--runtime" not in told.message


def test_an_output_and_an_error_without_a_model_are_said_as_they_are():
    assert failure(OutputError("disk full"), "lite0") == failure(OutputError("disk full"))
    assert failure_kind(OutputError("disk full"), "lite0") == OUTPUT
    told = failure(ValueError("bad"), None)  # no model ran (the preview, a recording played as it is)
    assert told.kind == OTHER and not told.retry and told.message == "ValueError: bad"


def test_no_error_is_no_failure():
    assert failure_kind(None, "lite0") is None
