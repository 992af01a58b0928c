"""The playback controls of a source read in a thread: pause, resume, step, seek, finished.

The window plays a file through two readers in turn, the preview while the model
loads (``camvideo.app.preview.Preview``) and then the pipeline
(``camvideo.runtime.pipeline.Pipeline``); both are ``PlaybackControls``. The pause
and the step are the source's (its buffer policy's, ``camvideo.video.policies``:
only there can a pause stop a paced file's clock as well as the hand-over). A seek
is asked for from any thread and waits here until the reading thread takes it
(``_take_seek``) and seeks the source between two frames. ``finished`` is the
reader's end, an event that the reader sets (``_done``).
"""

from __future__ import annotations

import math
import threading


class PlaybackControls:
    """Pause, resume, step and seek ``source``; ``finished`` once ``_done`` is set.

    ``_cond`` guards ``_seek_to`` (the seek asked for and not taken yet, seconds)
    and is notified when a seek comes."""

    def __init__(self, source) -> None:
        self.source = source
        self._cond = threading.Condition()
        self._seek_to: float | None = None
        self._done = threading.Event()

    @property
    def paused(self) -> bool:
        return self.source.paused

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def pause(self) -> None:
        self.source.pause()

    def resume(self) -> None:
        self.source.resume()

    def step(self) -> None:
        """One more frame while paused."""
        self.source.step()

    def seek(self, seconds: float) -> None:
        """Continue from ``seconds`` (files): kept for the reading thread to take.
        Raises ValueError for a live source or a time that is negative, NaN or
        infinite (here, in the caller's thread: the reading thread never sees it)."""
        if self.source.live:
            raise ValueError(f"seek needs a file or folder source; {self.source.name} is live")
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
        with self._cond:
            self._seek_to = seconds
            self._cond.notify_all()

    def _take_seek(self) -> float | None:
        """The seek asked for and not taken yet (seconds), now the caller's to do; None if none."""
        with self._cond:
            target, self._seek_to = self._seek_to, None
        return target
