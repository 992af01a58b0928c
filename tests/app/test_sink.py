"""The window's recording sink (issue 23, finding 9): a recording started mid-file
keeps the file's sound from that point, as ``camvideo process`` keeps it; a seek
stops the sound (it would no longer match); its length comes from its frames. While
recording, a frame waits for the window to take the last recorded one, as long as
its own sink records."""

from __future__ import annotations

import threading

import av
import pytest
from clips import decode_times, make_clip, pattern

from camvideo.app.sink import FrameSlot, ViewSink
from camvideo.frames import ProcessedFrame
from camvideo.results import FrameResult
from camvideo.video.reader import Frame
from camvideo.video.recorder import Recorder

SIZE = (64, 48)


def item(index: int, time: float) -> ProcessedFrame:
    image = pattern(index, *SIZE)
    return ProcessedFrame(Frame(image, index, time), image.copy(),
                          FrameResult(frame=index, time=time, width=SIZE[0], height=SIZE[1], detections=()))


def audio_span(path) -> tuple[float, float]:
    """The first and last audio packet times of ``path``, seconds."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        times = [float(p.pts * stream.time_base) for p in c.demux(stream) if p.pts is not None and p.size]
    return times[0], times[-1]


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "with_audio.mp4"
    make_clip(path, frames=90, size=SIZE, audio=True)  # 3 s, sound all along
    return path


def record(sink: ViewSink, path, source, times) -> Recorder:
    recorder = Recorder(path, fps_hint=30.0)
    sink.start_recording(recorder, audio_from=source)
    for t in times:
        sink.write(item(int(round(t * 30)), t))
    sink.stop_recording()
    return recorder


def test_a_recording_from_mid_file_keeps_the_sound_from_there(tmp_path, clip):
    sink = ViewSink(lambda shown: None, lambda recorder, exc: pytest.fail(str(exc)))
    out = tmp_path / "rec.mkv"
    times = [1.0 + i / 30 for i in range(30)]  # 1.0-2.0 s of the file
    record(sink, out, clip, times)
    video = decode_times(out)
    assert video[0] == pytest.approx(0.0) and len(video) == 30
    first, last = audio_span(out)
    assert first == pytest.approx(0.0, abs=0.07)  # the file's sound at 1.0 s is the recording's 0 s
    assert last == pytest.approx(video[-1], abs=0.1)  # ...and it ends with the frames
    assert sink.recorded_seconds == pytest.approx(29 / 30)


def test_a_seek_while_recording_stops_the_sound(tmp_path, clip):
    sink = ViewSink(lambda shown: None, lambda recorder, exc: pytest.fail(str(exc)))
    out = tmp_path / "seek.mkv"
    times = [0.5 + i / 30 for i in range(15)] + [2.0 + i / 30 for i in range(15)]  # a jump at 1.0 s
    record(sink, out, clip, times)
    assert len(decode_times(out)) == 30 and sink.clock.jumps == 1
    _, last = audio_span(out)
    assert last <= 0.5 + 0.07  # the sound of 0.5-1.0 s, none after the jump
    assert sink.recorded_seconds == pytest.approx(30 / 30 - 1 / 30, abs=1e-6)


def test_no_sound_for_a_source_without_a_file(tmp_path):
    sink = ViewSink(lambda shown: None, lambda recorder, exc: pytest.fail(str(exc)))
    out = tmp_path / "camera.mkv"
    record(sink, out, None, [10.0 + i / 30 for i in range(5)])
    with av.open(str(out)) as c:
        assert not c.streams.audio


def test_a_detached_recording_gets_no_more_frames_and_is_closed_by_its_caller(tmp_path):
    shown = []
    sink = ViewSink(shown.append, lambda recorder, exc: pytest.fail(str(exc)))
    recorder = Recorder(tmp_path / "rec.mkv", fps_hint=30.0)
    sink.start_recording(recorder)
    for i in range(5):
        sink.write(item(i, i / 30))
    assert sink.detach_recording() is recorder and sink.recorder is None and not recorder.closed
    sink.write(item(5, 5 / 30))  # shown, not recorded
    assert [s.recorded for s in shown] == [True] * 5 + [False] and sink.detach_recording() is None
    recorder.close()
    assert len(decode_times(tmp_path / "rec.mkv")) == 5


class Held:
    """A recorder that keeps nothing (the wait's test needs none of its file)."""

    fps_hint = 30.0

    def write_image(self, image, at) -> None:
        pass


GUARD_S = 60.0  # only against a hang


def test_a_stopped_pipelines_wait_for_the_window_ends_with_its_own_recording():
    """After a switch, the old pipeline's sink waits for its recorded frame to be taken
    while *its* recording runs: stopping it ends the wait, though the new sink records."""
    slot = FrameSlot(lambda: None)  # the window takes nothing: a recorded frame stays in the slot
    waiting, written = threading.Event(), threading.Event()

    def wait(recording) -> None:
        waiting.set()
        slot.wait_recorded_taken(recording, timeout=10 * GUARD_S)  # ends only as the test says

    old = ViewSink(slot.publish, lambda recorder, exc: pytest.fail(str(exc)), wait)
    new = ViewSink(slot.publish, lambda recorder, exc: pytest.fail(str(exc)), wait)
    old.start_recording(Held())
    old.write(item(0, 0.0))  # nothing to wait for yet
    assert slot.recorded_waiting
    waiting.clear()
    writer = threading.Thread(target=lambda: (old.write(item(1, 1 / 30)), written.set()), name="old-writer")
    writer.start()
    assert waiting.wait(GUARD_S)
    new.start_recording(Held())  # the new source records
    old.detach_recording()  # the switch stops the old recording
    writer.join(GUARD_S)
    stuck = writer.is_alive()
    slot.clear()  # wakes a writer still waiting (a failed test leaves no thread)
    writer.join(GUARD_S)
    assert not stuck and written.is_set() and old.recorded == 1  # frame 1 went on, unrecorded
