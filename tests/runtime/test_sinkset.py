"""SinkSet: every sink gets each frame; a failing one is detached, closed and reported once; close gives the first error."""

from __future__ import annotations

import pytest

from camvideo.errors import OutputError
from camvideo.runtime.sinkset import SinkSet, as_output_error


class _Sink:
    def __init__(self, fail_write: bool = False, fail_close: bool = False) -> None:
        self.items, self.closed = [], 0
        self.fail_write, self.fail_close = fail_write, fail_close
        self.path = "out.jsonl"

    def write(self, item) -> None:
        if self.fail_write:
            raise OSError(28, "No space left on device")
        self.items.append(item)

    def close(self) -> None:
        self.closed += 1
        if self.fail_close:
            raise ValueError("bad close")


def test_a_failing_sink_is_detached_closed_and_reported_once_the_others_carry_on():
    good, bad = _Sink(), _Sink(fail_write=True)
    errors = []
    sinks = SinkSet([good, bad], errors.append)
    sinks.write(1)
    sinks.write(2)
    assert good.items == [1, 2] and bad.closed == 1 and sinks.sinks == (good,)
    assert len(errors) == 1 and isinstance(errors[0], OutputError) and "cannot write out.jsonl" in str(errors[0])


def test_add_remove_and_close_give_the_first_close_error():
    first, second = _Sink(fail_close=True), _Sink()
    sinks = SinkSet([first], lambda error: None)
    sinks.add(second)
    extra = _Sink()
    sinks.add(extra)
    sinks.remove(extra)
    assert extra.closed == 1 and sinks.sinks == (first, second)
    error = sinks.close()
    assert isinstance(error, OutputError) and "bad close" in str(error)
    assert first.closed == second.closed == 1 and sinks.sinks == () and sinks.close() is None


def test_a_camvideo_error_stays_as_it_is():
    error = OutputError("disk full")
    assert as_output_error(_Sink(), error) is error
    with pytest.raises(OutputError):
        raise as_output_error(object(), RuntimeError("x"))
