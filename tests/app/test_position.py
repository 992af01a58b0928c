"""The Playback box's clock and where ← / → go (issue 23's papercuts: the frame-step
clock showed tenths and no frame number; → near the end of a looping clip left it
"ended" at 0:00)."""

from __future__ import annotations

import pytest

from camvideo.app.position import (
    ENDED,
    ENDED_DAMAGED,
    ENDED_EARLY,
    clock,
    end_text,
    first_pass,
    frame_line,
    in_file,
    position_text,
    seek_target,
)


@pytest.mark.parametrize(("seconds", "decimals", "text"), [
    (0, 0, "0:00"), (75.96, 0, "1:15"), (75.96, 1, "1:15.9"), (2.84, 1, "0:02.8"), (2.84, 2, "0:02.84"),
    (1 / 30 * 3, 2, "0:00.10"), (-1.0, 0, "0:00"), (float("nan"), 2, "0:00.00"), (3599.9, 0, "59:59"),
    (3600, 0, "1:00:00"), (3723.56, 1, "1:02:03.5"),
])
def test_clock(seconds, decimals, text):
    assert clock(seconds, decimals) == text


def test_clock_checks_its_decimals():
    with pytest.raises(ValueError):
        clock(1.0, 3)


def test_three_frame_steps_never_look_like_none():
    texts = [(position_text(i / 30, 10.0, paused=True, loop=False), frame_line(i)) for i in (90, 91, 92, 93)]
    assert len(set(texts)) == 4 and len({clock for clock, _ in texts}) == 4
    assert texts[0] == ("0:03.00 / 0:10", "frame 90")
    assert frame_line(None) == "" and frame_line(0) == "frame 0"
    assert frame_line(1922, loop_frames=300) == "frame 122"  # a looping file: the frame in the file


def test_playing_shows_seconds_only():
    assert position_text(3.43, 10.0, paused=False, loop=False) == "0:03 / 0:10"
    assert position_text(13.43, 10.0, paused=False, loop=True) == "0:03 / 0:10"  # a looping file restarts its clock
    assert position_text(3.43, None, paused=True, loop=False) == "0:03.43"
    assert in_file(12.5, 10.0, loop=True) == pytest.approx(2.5) and in_file(12.5, None, loop=True) == 12.5


def test_a_file_played_once_never_wraps_round_past_its_header_s_length():
    """A clip cut without re-encoding can show its last frame after the length its header
    gives: that frame is at the file's end, not at 0:00 again (as a looping file's next round)."""
    assert in_file(5.133, 5.067, loop=False) == 5.067 and in_file(2.0, 5.067, loop=False) == 2.0
    assert position_text(5.133, 5.067, paused=False, loop=False) == "0:05 / 0:05"
    assert first_pass(151, 5.133, 5.067) == (151, 5.133)  # the timeline keeps it, at its end


def test_a_looping_file_wraps_round_and_a_file_played_once_stops_at_its_ends():
    assert seek_target(8.0, 5.0, 10.0, loop=True) == pytest.approx(3.0)  # not "ended" at 0:00
    assert seek_target(2.0, -5.0, 10.0, loop=True) == pytest.approx(7.0)
    assert seek_target(8.0, 5.0, 10.0, loop=False) == 10.0
    assert seek_target(2.0, -5.0, 10.0, loop=False) == 0.0
    with pytest.raises(ValueError):
        seek_target(1.0, 5.0, 0.0, loop=True)


def test_ended_early_only_when_the_end_was_lost():
    assert end_text(False, 10, 90) == ENDED
    assert end_text(True, 89, 90) == ENDED_DAMAGED  # damaged in the middle, played to its last frame
    assert end_text(True, 33, 60) == ENDED_EARLY  # cut short
    assert end_text(True, 33, None) == ENDED_EARLY and end_text(True, None, 60) == ENDED_EARLY


def test_first_pass_places_a_later_round_of_a_looping_file_on_the_file_s_frame():
    assert first_pass(45, 1.5, 10.0) == (45, 1.5)  # the first round: itself
    assert first_pass(345, 11.5, 10.0, 300) == (45, pytest.approx(1.5))  # round two: frame 45 of the file
    assert first_pass(345, 11.5, 10.0) == (345, 11.5)  # a file that does not loop: no later round
    assert first_pass(345, 11.5, None) == (345, 11.5)  # length unknown: as it is
