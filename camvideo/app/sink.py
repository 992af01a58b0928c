"""The window's pipeline sink: frames to the view (and to a recording), newest first.

``ViewSink`` runs in the pipeline's writer thread: it makes each frame's image
to paint there (``to_image``: the window's makes a QImage; the GUI thread only
paints), writes the frame to the running recording,
and puts it in the ``FrameSlot``. The slot holds one frame: the writer stores it
and asks the GUI thread to take it only when the previous one has been taken, so
the event queue never holds more than one frame and a slow GUI skips frames
instead of falling behind (``replaced`` counts them). A recorded frame is never
replaced: while recording the writer waits until the window has taken it, so
the frames in the file are the frames that were shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from camvideo.app.recording import RecordingClock
from camvideo.app.shown import ShownFrame
from camvideo.frames import ProcessedFrame

RECORDED_WAIT_S = 1.0  # a GUI stuck longer than this gets a recorded frame replaced

log = logging.getLogger(__name__)


class FrameSlot:
    """The newest ShownFrame between the writer thread and the GUI thread.

    ``publish`` (writer thread) stores a frame and calls ``notify`` (which posts
    ``take`` to the GUI thread) once per take; ``take`` (GUI thread) returns the
    frame waiting, if any.
    """

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        self._frame: ShownFrame | None = None
        self._cond = threading.Condition()
        self._notified = False
        self.replaced = 0  # frames replaced in the slot before the GUI took them

    def publish(self, shown: ShownFrame) -> None:
        """Writer thread: keep only the newest frame; notify once per take."""
        with self._cond:
            if self._frame is not None:
                self.replaced += 1
                if self._frame.recorded and not shown.recorded:
                    return  # a recorded frame is never replaced: the file holds what was shown
            self._frame = shown
            notify = not self._notified
            self._notified = True
        if notify:
            self._notify()

    def take(self) -> ShownFrame | None:
        """GUI thread: the frame waiting (None when none); wakes a waiting writer."""
        with self._cond:
            shown, self._frame, self._notified = self._frame, None, False
            self._cond.notify_all()
        return shown

    @property
    def waiting(self) -> bool:
        with self._cond:
            return self._frame is not None

    @property
    def recorded_waiting(self) -> bool:
        with self._cond:
            return self._frame is not None and self._frame.recorded

    def wait_recorded_taken(self, recording: Callable[[], bool], timeout: float = RECORDED_WAIT_S) -> None:
        """Writer thread: wait until the GUI took the recorded frame waiting here,
        while ``recording()`` holds (a GUI stuck longer than ``timeout`` gets it replaced)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._frame is not None and self._frame.recorded and recording():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))

    def clear(self) -> None:
        with self._cond:
            self._frame, self._notified = None, False
            self._cond.notify_all()


class ViewSink:
    """The window's pipeline sink (runs in the pipeline's writer thread).

    Writes the frame to the recording when one runs, then publishes it. Both
    happen under one lock with recording start/stop, and while recording a frame
    waits until the window has taken the previous recorded one (the pipeline
    then drops at its source, never here): "frames shown while recording" and
    "frames in the file" are the same frames. A recording that fails (disk full)
    is closed, keeping what it has, and reported; the view goes on.

    ``wait_shown(recording)`` (the window's: ``FrameSlot.wait_recorded_taken``)
    is that wait; ``recording()`` says whether this sink still records, so a
    pipeline that stops after a switch waits on its own recording, not on the
    one of the sink that replaced it.

    The frame arrives without labels (the view paints them at screen
    resolution); a frame that is recorded gets them burned in by ``burn_labels``
    after its image to paint is made, so the file holds what ``camvideo process`` writes
    and only recorded frames pay for it.
    """

    def __init__(self, publish, on_record_error, wait_shown=lambda recording: None,
                 burn_labels=lambda annotated, result: annotated, to_image=lambda annotated: annotated.copy()) -> None:
        self._publish = publish
        self._to_image = to_image  # BGR array -> what the screen paints (its own copy)
        self._burn_labels = burn_labels
        self._wait_shown = wait_shown
        self._on_record_error = on_record_error
        self._lock = threading.Lock()
        self._recorder = None
        self._audio_from = None  # the file whose sound goes into the recording
        self.clock = RecordingClock()  # the current (or last) recording's timeline
        self.recorded = 0  # frames written to the current (or last) recording
        self.delivered = 0  # frames handed to the window

    @property
    def recorder(self):
        return self._recorder

    def _recording(self) -> bool:
        """This sink records (any thread: the wait for the window asks it)."""
        return self._recorder is not None

    def start_recording(self, recorder, audio_from=None) -> None:
        """Record from the next frame on; ``audio_from``: a video file whose sound
        goes along, from that frame's time (until a seek or a loop)."""
        with self._lock:
            if self._recorder is not None:
                raise RuntimeError("a recording is already running")
            self._recorder, self.recorded = recorder, 0
            self._audio_from, self.clock = audio_from, RecordingClock(recorder.fps_hint)

    @property
    def recorded_seconds(self) -> float:
        """The current (or last) recording's length so far, from its frames."""
        return self.clock.elapsed

    def detach_recording(self):
        """Detach the recording (no frame more goes into it) without finalizing it:
        the caller closes it (the window: in a save task); it, or None when none ran."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return recorder

    def stop_recording(self):
        """Detach and finalize the recording; returns it (None when none ran)."""
        recorder = self.detach_recording()
        if recorder is not None:
            recorder.close()  # may raise OutputError: the caller reports it
        return recorder

    def write(self, item: ProcessedFrame) -> None:
        frame, annotated, result = item.frame, item.annotated, item.result
        image = self._to_image(annotated)
        if self._recorder is not None:
            self._wait_shown(self._recording)  # outside the lock: the GUI may stop the recording meanwhile
        failed = None
        with self._lock:  # record and publish together: see the class doc
            recorder = self._recorder
            recorded = burned = False
            if recorder is not None:
                try:
                    at = self._place(recorder, frame.time)
                    # In place: the image above has its own copy.
                    annotated, burned = self._burn_labels(annotated, result), True
                    recorder.write_image(annotated, at)
                    self.recorded += 1
                    recorded = True
                except Exception as exc:  # noqa: BLE001 - keep the view running
                    self._recorder, failed = None, (recorder, exc)
            self.delivered += 1
            self._publish(ShownFrame(image, frame.index, frame.time, frame.captured, result, annotated, recorded,
                                     burned, frame.image))
        if failed is not None:
            recorder, exc = failed
            try:
                recorder.close()
            except Exception as close_exc:  # noqa: BLE001
                log.debug("closing the failed recording: %s", close_exc)
            self._on_record_error(recorder, exc)

    def _place(self, recorder, time: float) -> float:
        """The frame's time in the recording (``RecordingClock``: 0 s at its first
        frame, one frame on after a seek or a loop); the source's sound starts with
        the first frame and stops at a jump (it would no longer match)."""
        first, jumps = self.clock.start is None, self.clock.jumps
        at = self.clock.place(time)
        if first and self._audio_from is not None:
            recorder.add_audio(self._audio_from, max(0.0, time))
        elif self.clock.jumps != jumps:
            recorder.end_audio()
        return at

    def close(self) -> None:
        self.stop_recording()
