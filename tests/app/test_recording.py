"""A window recording's clock (issue 23, finding 9): it starts at 0 s wherever the
file was, goes on one frame after a seek or a loop, and its length stops with its
frames (a file that ended no longer counts up)."""

from __future__ import annotations

import pytest

from camvideo.app.recording import RecordingClock


def test_the_recording_starts_at_zero_from_mid_file():
    clock = RecordingClock(fps_hint=10.0)
    times = [clock.place(12.0 + i / 10) for i in range(5)]
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert clock.start == 12.0 and clock.jumps == 0 and clock.elapsed == pytest.approx(0.4)


def test_a_seek_or_a_loop_goes_on_one_frame_later_and_is_counted():
    clock = RecordingClock(fps_hint=10.0)
    clock.place(5.0)
    clock.place(5.1)
    assert clock.place(9.0) == pytest.approx(0.2)  # a seek forward
    assert clock.place(0.0) == pytest.approx(0.3)  # the loop's start
    assert clock.place(0.1) == pytest.approx(0.4)
    assert clock.jumps == 2


def test_late_frames_are_no_jump():
    clock = RecordingClock(fps_hint=30.0)
    clock.place(1.0)
    assert clock.place(1.5) == pytest.approx(0.5) and clock.jumps == 0  # frames dropped, time kept


def test_the_length_is_the_frames_not_the_wall_clock():
    clock = RecordingClock(fps_hint=10.0)
    for i in range(3):
        clock.place(i / 10)
    # the file ended: no frame comes, the length stays
    assert clock.elapsed == pytest.approx(0.2)
    assert RecordingClock().elapsed == 0.0


def test_arguments_are_checked():
    assert RecordingClock(fps_hint=float("nan")).frame_s == pytest.approx(1 / 30)
    with pytest.raises(ValueError):
        RecordingClock(max_gap_s=0)
    with pytest.raises(ValueError):
        RecordingClock().place(float("inf"))
