"""The Playback box's behaviour: pause, step, seek, and the clock of a file.

``Playback`` turns the Play/Pause and Step buttons, the seek bar and Space into
session calls, and keeps the seek bar and the clock on the frame shown (tenths
of a second while paused, so each step shows; ``→ 0:07`` while the handle is
dragged). Live sources have no playback: the box is greyed and says "live".
"""

from __future__ import annotations

from camvideo.qt.status import clock


class Playback:
    """Playback for ``window`` (its session and panel)."""

    def __init__(self, window) -> None:
        self.window = window
        self.seeking = False  # the seek bar's handle is held: the frames do not move it

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
        p.seek.sliderPressed.connect(lambda: setattr(self, "seeking", True))
        p.seek.sliderMoved.connect(self.seek_moved)
        p.seek.seek_requested.connect(self.seek_to)

    def enable(self, on: bool) -> None:
        """Files: the controls work; live sources and no source: greyed."""
        p = self._panel
        for w in (p.play_button, p.step_button, p.seek):
            w.setEnabled(on)

    def no_source(self) -> None:
        self.enable(False)
        self._panel.seek.setValue(0)
        self._panel.time_label.setText("")

    def new_source(self, live: bool) -> None:
        self.enable(not live)
        self._panel.time_label.setText("live" if live else "")
        self._panel.play_button.setText("Pause")

    def on_frame(self, shown) -> None:
        """The seek bar and the clock follow the frame shown (files)."""
        session, panel = self._session, self._panel
        duration = session.duration_hint
        if duration and not self.seeking:
            position = shown.time % duration
            panel.seek.blockSignals(True)
            panel.seek.setValue(int(panel.seek.STEPS * position / duration))
            panel.seek.blockSignals(False)
        if session.live or self.seeking:
            return
        position = shown.time % duration if duration else shown.time  # a looping file restarts its clock
        # paused or stepping: tenths of a second, so each step shows
        panel.time_label.setText(clock(position, session.paused) + (f" / {clock(duration)}" if duration else ""))

    def on_state(self, state: str) -> None:
        """The status line's state: the button offers what a click does next."""
        if not self._session.live:
            playing = state.endswith("fps")
            self._panel.play_button.setText("Pause" if playing or state == "loading model" else "Play")

    def on_finished(self) -> None:
        self._panel.play_button.setText("Play")

    def toggle_pause(self) -> None:
        session, panel = self._session, self._panel
        if session.pipeline is None:
            return
        if session.pipeline.finished and not session.live:
            session.seek(0.0)  # play again from the start
            panel.play_button.setText("Pause")
        elif session.paused:
            session.resume()
            panel.play_button.setText("Pause")
        else:
            session.pause()
            panel.play_button.setText("Play")

    def step(self) -> None:
        """One frame forward (files); pauses first."""
        self._session.step()
        if self._session.paused:
            self._panel.play_button.setText("Play")

    def seek_moved(self, value: int) -> None:
        """While the handle is dragged, the clock shows where it will go."""
        duration = self._session.duration_hint
        if duration:
            target = value / self._panel.seek.STEPS * duration
            self._panel.time_label.setText(f"→ {clock(target)} / {clock(duration)}")

    def seek_to(self, fraction: float) -> None:
        """Continue at ``fraction`` of the file (the seek bar: click, drag, keys)."""
        self.seeking = False
        duration = self._session.duration_hint
        if duration:
            self._session.seek(min(max(fraction, 0.0), 1.0) * duration)
