"""The Playback box's behaviour: pause, step, seek, the clock, and slideshows.

``Playback`` turns the Play/Pause, ◀ Step and Step ▶ buttons (◀ Back and Next ▶
in a slideshow), the seek bar, Space and the arrow keys into session calls, and keeps the seek bar and the clock on the frame
shown (hundredths of a second while paused, and the frame's number under the
seek bar, so each step shows: ``camvideo.app.position``; ``→ 0:07`` while the
handle is dragged). Live sources have no playback: the box is greyed, "live".

A folder (or glob) of images is a slideshow, not a 30 fps clip: it opens paused
on the first image; Play shows each image for the time set in the box (2 s by
default) after it appears, and stops on the last; ◀ Back / Next ▶ (← / →) go to the
previous / next image; the seek bar picks an image; the clock says "image 2 of
3" and the panel the file's name. Every move is a seek, so each image is
localized on its own (no smoothing carried from the previous photo).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QTimer

from camvideo.app.position import clock, frame_line, in_file, position_text, seek_target
from camvideo.app.slides import slide_target

SEEK_STEP_S = 5.0  # ← / → while a file plays


class Playback:
    """Playback for ``window`` (its session and panel)."""

    def __init__(self, window) -> None:
        self.window = window
        self.seeking = False  # the seek bar's handle is held: the frames do not move it
        self.slides: list[Path] | None = None  # the images of a slideshow
        self.slides_playing = False
        self.image = 0  # the image on screen (slideshows)
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next_slide)

    @property
    def _session(self):
        return self.window.session

    @property
    def _panel(self):
        return self.window.panel

    def wire(self) -> None:
        p = self._panel
        p.play_button.clicked.connect(self.toggle_pause)
        p.step_button.clicked.connect(self.step)
        p.back_button.clicked.connect(self.step_back)
        p.seek.sliderPressed.connect(lambda: setattr(self, "seeking", True))
        p.seek.sliderMoved.connect(self.seek_moved)
        p.seek.seek_requested.connect(self.seek_to)

    def enable(self, on: bool) -> None:
        """Files: the controls work; live sources and no source: greyed."""
        p = self._panel
        for w in (p.play_button, p.step_button, p.back_button, p.seek):
            w.setEnabled(on)

    def no_source(self) -> None:
        self._stop_slides()
        self.slides = None
        self.enable(False)
        self._panel.slide_row.hide()
        self._panel.image_label.hide()
        self._panel.seek.setValue(0)
        self._panel.time_label.setText("")

    def new_source(self, live: bool) -> None:
        self._stop_slides()
        self.enable(not live)
        self.slides = self._session.images
        self.image = 0
        p = self._panel
        p.slide_row.setVisible(self.slides is not None)
        p.image_label.setVisible(not live)  # a slideshow's file name, a video file's frame number
        p.image_label.setText("")
        p.back_button.setText("◀ Back" if self.slides else "◀ Step")  # a pair: back and forward
        p.step_button.setText("Next ▶" if self.slides else "Step ▶")
        if self.slides:
            p.time_label.setText(f"image 1 of {len(self.slides)}")
            p.play_button.setText("Play")  # it opens on the first image, paused
        else:
            p.time_label.setText("live" if live else "")
            p.play_button.setText("Pause")

    # -- frames ------------------------------------------------------------------------
    def on_frame(self, shown) -> None:
        """The seek bar and the clock follow the frame shown (files, slideshows)."""
        if self.slides:
            self._on_slide(shown)
            return
        session, panel = self._session, self._panel
        duration = session.duration_hint
        if duration and not self.seeking:
            position = in_file(shown.time, duration, loop=session.looping)
            panel.seek.blockSignals(True)
            panel.seek.setValue(int(panel.seek.STEPS * position / duration))
            panel.seek.blockSignals(False)
        if session.live or self.seeking:
            return
        # paused or stepping: hundredths, and the frame's number under the seek bar, so each step shows
        panel.time_label.setText(position_text(shown.time, duration, paused=session.paused, loop=session.looping))
        info = session.source.info if session.source is not None else None
        panel.image_label.setText(frame_line(shown.index, info.frame_count if session.looping and info else None))

    def _on_slide(self, shown) -> None:
        count = len(self.slides)
        self.image = shown.index % count
        panel = self._panel
        if not self.seeking:
            panel.seek.blockSignals(True)
            panel.seek.setValue(int(panel.seek.STEPS * self.image / max(1, count - 1)))
            panel.seek.blockSignals(False)
        path = self.slides[self.image]
        panel.time_label.setText(f"image {self.image + 1} of {count}")
        panel.image_label.setText(path.name)
        panel.image_label.setToolTip(str(path))
        if self.slides_playing:  # the time counts from when the image is on screen
            self._timer.start(int(panel.slide_seconds.value() * 1000))

    def state(self) -> str | None:
        """What a slideshow does, for the status line (None: not a slideshow)."""
        if not self.slides or self._session.player is None:
            return None
        return f"slideshow {self._panel.slide_seconds.value():g} s" if self.slides_playing else "paused"

    def on_state(self, state: str) -> None:
        """The status line's state: the button offers what a click does next."""
        if self.slides:
            self._panel.play_button.setText("Pause" if self.slides_playing else "Play")
        elif not self._session.live:
            playing = state.endswith("fps")
            self._panel.play_button.setText("Pause" if playing or state == "loading model" else "Play")

    def on_finished(self) -> None:
        self._stop_slides()
        self._panel.play_button.setText("Play")

    # -- actions -------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        session, panel = self._session, self._panel
        if session.player is None:
            return
        if self.slides:
            if self.slides_playing:
                self._stop_slides()
            else:
                self.slides_playing = True
                if self.image >= len(self.slides) - 1:
                    session.show_image(0)  # from the start again
                else:
                    self._timer.start(int(panel.slide_seconds.value() * 1000))
            panel.play_button.setText("Pause" if self.slides_playing else "Play")
            return
        if session.player.finished and not session.live:
            session.seek(0.0)  # play again from the start
            self._from_the_start()
            panel.play_button.setText("Pause")
        elif session.paused:
            session.resume()
            self.window.view.restart_rate()  # the pause is not a slow frame
            panel.play_button.setText("Pause")
        else:
            session.pause()
            panel.play_button.setText("Play")

    def step(self) -> None:
        """One frame forward (files; after the end: the first frame), the next image (slideshows)."""
        session = self._session
        if session.player is None or session.live:
            return
        if self.slides:
            self._slide_by(1)
            return
        if session.player.finished:
            session.pause()
            session.seek(0.0)  # after the end: the first frame, paused
            self._from_the_start()
        else:
            session.step()
        self._panel.play_button.setText("Play")

    def _from_the_start(self) -> None:
        """A file that ended goes on from its first frame: the status bar says so (its
        "end of the file" stayed for seconds over the first frame)."""
        self.window.statusBar().showMessage("from the start of the file", 3000)

    def step_back(self) -> None:
        """One frame back (files), the previous image (slideshows); pauses."""
        session = self._session
        if session.player is None or session.live:
            return
        if self.slides:
            self._slide_by(-1)
            return
        session.step_back()
        self._panel.play_button.setText("Play")

    def _slide_by(self, delta: int) -> None:
        """The next (1) or previous (-1) image of the slideshow, which stops; at either
        end the image stays and the status bar says so."""
        self._stop_slides()
        count = len(self.slides)
        target = slide_target(self.image, delta, count, self._session.lost_frames)  # past unreadable images
        if target is not None:
            self._session.show_image(target)
        else:
            end = "last" if delta > 0 else "first"
            self.window.statusBar().showMessage(f"the {end} image ({self.image + 1} of {count})", 3000)

    def arrow(self, forward: bool) -> None:
        """← / →: the next / previous image, a frame while paused (or ended), 5 s while playing."""
        session = self._session
        if session.player is None or session.live:
            return
        if self.slides or session.paused or session.player.finished:
            (self.step if forward else self.step_back)()
        else:
            self.seek_by(SEEK_STEP_S if forward else -SEEK_STEP_S)

    def seek_by(self, seconds: float) -> None:
        """``seconds`` forward or back from the frame on screen (← / → while a file plays)."""
        shown, duration = self._session.last_shown, self._session.duration_hint  # a looping file wraps round
        if shown is None or not duration:
            return
        session = self._session
        session.seek(seek_target(in_file(shown.time, duration, loop=session.looping), seconds, duration, loop=session.looping))

    def seek_moved(self, value: int) -> None:
        """While the handle is dragged, the clock shows where it will go."""
        if self.slides:
            number = round(value / self._panel.seek.STEPS * (len(self.slides) - 1))
            self._panel.time_label.setText(f"→ image {number + 1} of {len(self.slides)}")
            return
        duration = self._session.duration_hint
        if duration:
            target = value / self._panel.seek.STEPS * duration
            self._panel.time_label.setText(f"→ {clock(target)} / {clock(duration)}")

    def seek_to(self, fraction: float) -> None:
        """Continue at ``fraction`` of the file (the seek bar: click, drag, keys); a
        slideshow shows the image there."""
        self.seeking = False
        fraction = min(max(fraction, 0.0), 1.0)
        if self.slides:
            self._session.show_image(round(fraction * (len(self.slides) - 1)))
            return
        duration = self._session.duration_hint
        if duration:
            self._session.seek(fraction * duration)

    # -- slideshows ----------------------------------------------------------------------
    def _next_slide(self) -> None:
        if not self.slides_playing or not self.slides:
            return
        target = slide_target(self.image, 1, len(self.slides), self._session.lost_frames)
        if target is not None:
            self._session.show_image(target)
        else:  # the last image stays; Play starts again from the first
            self._stop_slides()
            self.window.statusBar().showMessage("end of the images", 5000)

    def _stop_slides(self) -> None:
        self.slides_playing = False
        self._timer.stop()
