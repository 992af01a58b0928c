"""PlaybackControls: the pause and step are the source's; a seek waits for the reading thread."""

from __future__ import annotations

import threading

import pytest

from camvideo.video.controls import PlaybackControls


class Source:
    def __init__(self, live: bool = False) -> None:
        self.live, self.name, self.paused, self.steps = live, "clip.mp4", False, 0

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def step(self) -> None:
        self.steps += 1


def test_pause_resume_and_step_are_the_sources():
    source = Source()
    controls = PlaybackControls(source)
    controls.pause()
    assert source.paused and controls.paused
    controls.step()
    controls.resume()
    assert source.steps == 1 and not controls.paused


def test_a_seek_waits_until_the_reader_takes_it_once():
    controls = PlaybackControls(Source())
    assert controls._take_seek() is None
    controls.seek(2)
    controls.seek(3)  # the newest request wins
    assert controls._take_seek() == 3.0
    assert controls._take_seek() is None


def test_a_seek_wakes_a_reader_waiting_on_the_condition():
    controls = PlaybackControls(Source())
    woke = []

    def reader():
        with controls._cond:
            woke.append(controls._cond.wait_for(lambda: controls._seek_to is not None, 10.0))
            woke.append(controls._take_seek())  # the condition's lock is reentrant

    thread = threading.Thread(target=reader)
    thread.start()
    controls.seek(1.5)
    thread.join(10.0)
    assert woke == [True, 1.5]


def test_finished_is_the_readers_end():
    controls = PlaybackControls(Source())
    assert not controls.finished
    controls._done.set()
    assert controls.finished


@pytest.mark.parametrize(("live", "seconds", "words"), [(True, 1.0, "is live"), (False, -0.5, ">= 0"),
                                                       (False, float("nan"), "finite"), (False, float("inf"), "finite")])
def test_a_live_source_or_a_negative_time_is_no_seek(live, seconds, words):
    controls = PlaybackControls(Source(live=live))
    with pytest.raises(ValueError, match=words):
        controls.seek(seconds)
    assert controls._take_seek() is None
