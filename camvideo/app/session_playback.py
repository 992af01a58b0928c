"""The Session's playback of files and folders: pause, step, seek, slideshows.

A part of ``camvideo.qt.session.Session`` (a mixin: its methods use the
session's ``player``, ``source`` and ``last_shown``): the player is the
pipeline, or the preview that plays the source until the model has loaded; the
pause is the source's (``camvideo.video.policies``).
"""

from __future__ import annotations

import logging
import math

from camvideo.app.position import in_file

log = logging.getLogger(__name__)


class SessionPlayback:
    """Pause, step, seek and the slideshow of a ``Session``."""

    @property
    def live(self) -> bool:
        return self.source is not None and self.source.live

    @property
    def paused(self) -> bool:
        return self.player is not None and self.player.paused

    def pause(self) -> None:
        if self.player is not None:
            self.player.pause()

    def resume(self) -> None:
        if self.player is not None:
            self.player.resume()

    def step(self) -> None:
        """One frame forward (files): pauses first."""
        if self.player is not None and not self.live:
            self.pause()
            self.player.step()

    def seek(self, seconds: float) -> None:
        """Continue at ``seconds`` (files); while paused, shows the frame there. A
        video file's end (the seek bar's or the timeline's right end, → near the end)
        is its last frame (``last_frame_at``): a seek shows the first frame at or after
        its time, and at the end there is none (the file ended on the frame shown
        before). A time that is NaN or infinite (a widget's arithmetic gone wrong) is
        ignored and logged: the window goes on playing."""
        if not math.isfinite(seconds):
            log.warning("seek to %s ignored: not a finite time", seconds)
            return
        if self.player is not None and not self.live:
            last = self.last_frame_at
            self.player.seek(max(0.0, seconds if last is None else min(seconds, last)))

    @property
    def last_frame_at(self) -> float | None:
        """The latest time a seek in the video file on screen can show a frame at:
        half a frame before its last frame's time (from its metadata); None for a
        folder of images (an image's time is its number / fps) or an unknown length."""
        duration = self.duration_hint
        if duration is None or self.images is not None:
            return None
        return max(0.0, duration - 1.5 / self.source.info.rate)

    def step_back(self) -> None:
        """One frame back (files): pauses, then shows the frame before the one on screen."""
        shown = self.last_shown
        rate = self.source.info.rate if self.source is not None else None
        if self.player is None or self.live or shown is None or not rate:
            return
        duration = self.duration_hint
        position = in_file(shown.time, duration, loop=self.looping)  # a looping file restarts its clock
        self.pause()
        # a seek shows the first frame at or after its time: half-way into the frame before
        self.seek(max(0.0, position - 1.5 / rate))

    # -- slideshows (a folder or glob of images) --------------------------------------------
    @property
    def images(self) -> list | None:
        """The image files of a folder or glob source, in order (a slideshow); None otherwise."""
        paths = self.source.info.paths if self.source is not None else ()  # a folder or glob
        return list(paths) if paths else None

    def show_image(self, number: int) -> None:
        """Slideshows: pause on image ``number`` (0-based, clamped to the images)."""
        images = self.images
        if not images or self.player is None:
            return
        number = min(max(int(number), 0), len(images) - 1)
        self.pause()
        self.seek(number / (self.source.info.fps or 30.0))  # an image's time is its number / fps

    @property
    def duration_hint(self) -> float | None:
        """Seconds in the file, from its metadata (a hint)."""
        info = self.source.info if self.source is not None else None
        if info is None or info.live or not info.rate or not info.frame_count:
            return None
        return info.frame_count / info.rate
