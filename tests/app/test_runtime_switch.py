"""camvideo.app.runtime_switch: the Runtime choice applied to the session's localizer,
without a window: ``later`` is a list of callbacks the test runs itself (the window's
is QTimer.singleShot), ``say`` collects what the box would show."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from camvideo.app.runtime_switch import POLL_MS, RuntimeSwitch
from camvideo.settings import LocalizeSettings


@pytest.fixture
def session(lite0):
    from camvideo.runtime.localizer import FrameLocalizer

    return SimpleNamespace(localizer=FrameLocalizer(lite0, LocalizeSettings()), source=None, last_shown=None)


def switch_for(session, choice: str):
    said, due = [], []
    switch = RuntimeSwitch(session, lambda: choice, said.append, lambda ms, fn: due.append((ms, fn)))
    return switch, said, due


def run_due(due, timeout: float = 60.0) -> None:
    """Run the scheduled callbacks (and those they schedule) until none is left."""
    deadline = time.monotonic() + timeout
    while due and time.monotonic() < deadline:
        _ms, fn = due.pop(0)
        time.sleep(POLL_MS / 1000)
        fn()
    assert not due, "the conversion did not end in time"


def test_torch_is_applied_at_once_and_said_once(session):
    switch, said, due = switch_for(session, "torch")
    switch.start()
    switch.start()
    assert said == ["torch"] and not due
    assert session.localizer.runtime == "torch"


def test_nothing_loaded_yet_does_nothing(session):
    session.localizer = None
    switch, said, due = switch_for(session, "openvino")
    switch.start()
    assert not said and not due


def test_a_source_without_its_first_frame_waits_and_a_newer_choice_drops_the_wait(session):
    session.source = object()  # open, no frame shown yet: the sizes to convert come from it
    switch, said, due = switch_for(session, "auto")
    switch.start()
    assert [ms for ms, _fn in due] == [POLL_MS] and not said
    waiting = due.pop()[1]
    switch.choice = lambda: "torch"
    switch.start()  # the user chose torch meanwhile
    assert said == ["torch"]
    assert waiting() is False and said == ["torch"]  # the old wait is stale: it does nothing


def test_openvino_converts_in_the_background_then_switches(session, openvino_lite0):
    switch, said, due = switch_for(session, "openvino")
    switch.start()
    assert said == ["torch, converting for OpenVINO…"] and session.localizer.runtime == "torch"
    run_due(due)
    assert said[-1] == "OpenVINO" and session.localizer.runtime == "openvino"
    switch.choice = lambda: "torch"
    switch.start()
    assert said[-1] == "torch" and session.localizer.runtime == "torch"
    switch.choice = lambda: "openvino"
    switch.start()  # made before for this model: at once, no conversion
    assert said[-1] == "OpenVINO" and not due
