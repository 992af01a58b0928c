"""The preview: the source's frames as they are, while the window's model loads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from camvideo.app.preview import Preview
from camvideo.errors import InputError
from camvideo.video.reader import IterableSource

WAIT_S = 20.0


class Sink:
    def __init__(self) -> None:
        self.items = []
        self.cond = threading.Condition()

    def write(self, item) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, n: int) -> list:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= n, WAIT_S), f"{len(self.items)} of {n} frames"
            return list(self.items)


def images(n: int) -> list[np.ndarray]:
    return [np.full((6, 8, 3), i, np.uint8) for i in range(n)]


def wait_until(check) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_plays_every_frame_as_it_is_with_an_empty_result_then_says_it_ended():
    source, sink, ended = IterableSource(images(5), fps=10.0), Sink(), threading.Event()
    preview = Preview(source, sink, on_finished=ended.set, max_fps=None)
    preview.start()
    try:
        items = sink.wait(5)
        assert ended.wait(WAIT_S) and preview.finished
        assert [item.index for item in items] == [0, 1, 2, 3, 4]
        assert all(item.annotated is item.frame.image and item.result.detections == () for item in items)
        assert (items[3].result.frame, items[3].result.time, items[3].result.width) == (3, pytest.approx(0.3), 8)
        preview.seek(0.2)  # after the end: from there again
        assert [item.index for item in sink.wait(8)[5:]] == [2, 3, 4]
    finally:
        assert preview.stop() is None
        source.close()


def test_pauses_and_steps_on_the_source():
    source, sink = IterableSource(images(50), fps=10.0), Sink()
    source.pause()
    preview = Preview(source, sink)
    preview.start()
    try:
        assert preview.paused
        preview.seek(1.0)  # paused: the frame there shows once
        assert [item.index for item in sink.wait(1)] == [10]
        preview.step()
        assert sink.wait(2)[1].index == 11
        time.sleep(0.2)
        assert len(sink.items) == 2  # and then none: paused
    finally:
        preview.stop()
        source.close()


def test_a_seek_not_done_yet_goes_to_whoever_reads_on():
    source = IterableSource(images(50), fps=10.0)
    preview = Preview(source, Sink())
    preview.seek(3.0)  # not started: the seek is still to do when it stops
    assert preview.stop() == 3.0 and preview.stop() is None
    source.close()


def test_a_source_that_fails_is_told_once_and_ends_the_preview():
    def broken():
        yield np.zeros((4, 4, 3), np.uint8)
        raise InputError("clip.mp4: the disk went away")

    errors = []
    source, sink = IterableSource(broken(), fps=10.0), Sink()
    preview = Preview(source, sink, on_error=errors.append)
    preview.start()
    try:
        sink.wait(1)
        wait_until(lambda: preview.finished)
        assert [str(e) for e in errors] == ["clip.mp4: the disk went away"] and preview.error is errors[0]
    finally:
        preview.stop()
        source.close()


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_a_seek_to_no_time_is_refused_and_nothing_is_kept_to_do(seconds):
    preview = Preview(IterableSource(images(3), fps=10.0), Sink())
    with pytest.raises(ValueError, match="finite"):
        preview.seek(seconds)
    assert preview.stop() is None


def test_a_live_source_does_not_seek():
    source = IterableSource(images(2), live=True)
    with pytest.raises(ValueError, match="live"):
        Preview(source, Sink()).seek(1.0)
    source.close()


def test_while_playing_it_shows_at_most_max_fps_frames_a_second_but_every_step_and_the_last():
    source, sink, ended = IterableSource(images(40), fps=10.0), Sink(), threading.Event()  # read at once
    preview = Preview(source, sink, on_finished=ended.set, max_fps=1.0)
    preview.start()
    try:
        assert ended.wait(WAIT_S)
        assert [item.index for item in sink.items] == [0, 39]  # the rest came within the second; the end shows
        source.pause()
        preview.seek(2.0)
        assert sink.wait(3)[2].index == 20  # paused: each frame shows
        preview.step()
        assert sink.wait(4)[3].index == 21
    finally:
        preview.stop()
        source.close()


class StuckSource:
    """A file source whose reads wait until ``give`` hands one frame (or the end) over."""

    name, live, paused = "stuck.mp4", False, False

    def __init__(self) -> None:
        self.reading, self.given = threading.Event(), threading.Event()
        self.item = None

    def read(self, timeout=None):
        self.reading.set()
        self.given.wait(WAIT_S)
        return self.item

    def give(self, item) -> None:
        self.item = item
        self.given.set()


@pytest.mark.parametrize("item", ["a frame", "the end"])
def test_stop_does_not_wait_for_a_read_that_hangs_and_the_thread_then_hands_nothing_on(item):
    from camvideo.video.reader import Frame

    source, sink, ended = StuckSource(), Sink(), []
    preview = Preview(source, sink, on_finished=lambda: ended.append(True), max_fps=None)
    preview.start()
    source.reading.wait(WAIT_S)
    assert preview.stop() is None
    thread = preview._thread
    assert thread.is_alive()  # stop returned while the read still hangs
    source.give(Frame(images(1)[0], 0, 0.0) if item == "a frame" else None)
    thread.join(WAIT_S)
    assert not thread.is_alive() and sink.items == [] and ended == [] and not preview.finished


def test_a_seek_under_way_when_stop_gives_up_waiting_is_returned_to_be_done_again():
    class SlowSeek(StuckSource):
        def seek(self, seconds):
            self.reading.set()
            self.given.wait(WAIT_S)

    source = SlowSeek()
    preview = Preview(source, Sink())
    preview.seek(2.5)
    preview.start()
    source.reading.wait(WAIT_S)
    assert preview.stop() == 2.5
    source.give(None)
    preview._thread.join(WAIT_S)
