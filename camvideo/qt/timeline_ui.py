"""The area under the video: the timeline of a video file, and the switch of a recording.

``TimelineControls`` owns what lies between the video and the status bar:

- a camvideo recording's bar ("played as recorded", and the "Analyse anyway" /
  "Play as recorded" switch: ``Session.analyse``; its words: ``camvideo.app.recorded``);
- for a video file, the strip (``timeline.TimelineStrip``) over a ``ScoreTrack``
  (``camvideo.runtime.scan``) that keeps each frame shown (ranked classes only: in
  One-class mode the frames on screen do not say which class is on top);
- "Scan file": the whole file through a second pipeline (``FileScan``) in the
  background, with progress and Cancel; "Save as JSONL…": the whole file with
  the settings on screen, exactly as ``camvideo process FILE --export`` writes it
  (``FileScan`` with ``export``: the same run, the same lines), in the background.

With One class chosen the strip shows that class's score (as played, and from
a scan) and the stretches where it is the top class (a scan's ranked frames
say that); otherwise the three classes with the most score (in that order, each
in its class's colour, ``camvideo.class_colours``: the colour of its boxes, whatever its
place). The stretches the
source could not decode (as played: ``Session.damage``; or as a scan found
them) are kept in the track too, and hatched on the strip. A new model starts
a new track: two models' classes never share the strip.
A timer redraws the strip at most four times a second (when the track
changed); a frame only moves the position line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from camvideo.app.position import first_pass, in_file
from camvideo.app.recorded import PLAIN, recording_bar
from camvideo.app.timeline_axis import damaged_spans
from camvideo.class_colours import class_colors
from camvideo.qt.bars import message_bar
from camvideo.qt.status import say
from camvideo.qt.timeline import TimelineStrip
from camvideo.qt.widgets import button
from camvideo.runtime.scan import ScoreTrack  # numpy only; the scan imports torch when it runs

RECORDING_BACKGROUND = "rgba(60, 60, 90, 235)"
LINES = 3  # classes drawn when no class is chosen
REFRESH_MS = 250
SCAN_JOIN_S = 15.0


class TimelineControls:
    """The timeline and the recording switch of ``window`` (its session, panel, playback)."""

    def __init__(self, window) -> None:
        self.window = window
        self.track = ScoreTrack()
        self.scan = None  # a FileScan while one runs (or the last one)
        self.export = None  # the FileScan of a Save as JSONL while it runs
        self.track_model = None  # the model whose results the track keeps
        self._drawn = -1  # the track version the strip shows
        self._drawn_choice = None
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # -- a camvideo recording: played as recorded, or analysed anyway
        self.plain_bar, self.plain_label, bar = message_bar(RECORDING_BACKGROUND, (4, 0, 4, 0))
        self.analyse_button = button(PLAIN.button, PLAIN.tip, checkable=True)
        self.analyse_button.toggled.connect(self._on_analyse)
        bar.addWidget(self.plain_label, 1)
        bar.addWidget(self.analyse_button)
        self.plain_bar.hide()
        layout.addWidget(self.plain_bar)
        # -- the strip and its row
        self.area = QWidget()
        area = QVBoxLayout(self.area)
        area.setContentsMargins(4, 2, 4, 2)
        area.setSpacing(2)
        self.strip = TimelineStrip()
        self.strip.seek_requested.connect(self._seek)
        area.addWidget(self.strip)
        row = QHBoxLayout()
        self.scan_button = button("Scan file", "analyse every frame of the file now, in the background, "
                                  "and fill in the timeline")
        self.cancel_button = button("Cancel", "stop the scan (what it found stays)")
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(True)
        self.state_label = QLabel()
        self.save_button = button("Save as JSONL…", "the whole file with these settings, one JSON object "
                                  "per frame: what camvideo process FILE --export writes")
        self.scan_button.clicked.connect(self.start_scan)
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.save_button.clicked.connect(self.ask_save)
        for w in (self.scan_button, self.cancel_button, self.progress):
            row.addWidget(w)
        row.addWidget(self.state_label, 1)
        row.addWidget(self.save_button)
        area.addLayout(row)
        layout.addWidget(self.area)
        self.area.hide()
        self._show_scanning(False)
        self._timer = QTimer(window)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)

    @property
    def _session(self):
        return self.window.session

    # -- the source ---------------------------------------------------------------------
    def on_source_changed(self, name: str, live: bool) -> None:
        """A new source: a new track, and no position until its first frame (the
        last source's, cut to the new length, would say where nothing is yet);
        the strip shows for a video file only."""
        self.cancel_scan()
        self.track = ScoreTrack(name)
        self.strip.set_position(None)
        self._drawn = -1
        self.area.setVisible(not live and self._session.images is None)
        self.state_label.setText("")
        self.refresh()

    def on_model_ready(self, _name: str, _device: str) -> None:
        """Another model (another name, or other weights): what the track kept was
        the last model's, its classes too: the track starts again."""
        model = self._session.model
        if model is not self.track_model:
            self.cancel_scan()
            self.track = ScoreTrack(self.track.name)
            self._drawn = -1
            self.state_label.setText("")
        self.track_model = model

    def no_source(self) -> None:
        self.cancel_scan()
        self.strip.set_position(None)
        self.area.hide()
        self.plain_bar.hide()

    def on_plain_changed(self, plain: bool) -> None:
        """The recording bar as ``recording_bar`` says (the button names the other way to play)."""
        bar = recording_bar(self._session.recording_source, plain)
        self.plain_bar.setVisible(bar.shown)
        self.analyse_button.blockSignals(True)
        self.analyse_button.setChecked(bar.analysed)
        self.analyse_button.blockSignals(False)
        self.analyse_button.setText(bar.button)
        self.analyse_button.setToolTip(bar.tip)
        self.plain_label.setText(bar.text)

    def _on_analyse(self, on: bool) -> None:
        self._session.analyse(on)

    def on_frame(self, shown) -> None:
        """Each frame on screen: kept in the track (analysed frames, ranked classes;
        a looping file's later rounds as the file's frames: the first round may
        have played while the model loaded), and the position line moves."""
        session = self._session
        if not self.area.isVisible():
            return
        duration = session.duration_hint
        info = session.source.info if session.source is not None else None
        placed = first_pass(shown.index, shown.time, duration, info.frame_count if session.looping and info else None)
        if not session.plain and shown.result.detections:
            result = shown.result
            if placed != (result.frame, result.time):
                result = dataclasses.replace(result, frame=placed[0], time=placed[1])
            if session.localize_settings.class_ids is None:
                self.track.add(result)
            else:  # One class: its score, not who was on top
                self.track.add_fixed(result)
        self.strip.set_position(in_file(shown.time, duration, loop=session.looping))

    # -- drawing ------------------------------------------------------------------------------
    def chosen(self) -> tuple[int, str] | None:
        """The class of One-class mode (id, name), or None."""
        panel = self.window.panel
        if panel.mode.currentText() != "One class":
            return None
        class_id = panel.chosen_class()
        if class_id is None:
            return None
        return class_id, panel.labels[class_id] if class_id < len(panel.labels) else str(class_id)

    def refresh(self) -> None:
        """Redraw the strip when the track or the choice changed; the scan's progress."""
        self._update_scan()
        choice = self.chosen()
        if not self.area.isVisible():
            return
        self.track.add_damage(self._session.damage)  # what the source on screen could not decode
        if self.track.version == self._drawn and choice == self._drawn_choice:
            return
        self._drawn, self._drawn_choice = self.track.version, choice
        results = self.track.results()
        damaged = damaged_spans(self.track.damage)
        ends = [results[-1].time] if results else []
        duration = self._session.duration_hint or max(ends + [d.end for d in damaged], default=0.0)
        if choice is not None:
            class_id, name = choice
            times, scores = self.track.series(class_id)
            stretches = self.track.stretches(class_id)
            note = (f"{name}: top class in {len(stretches)} stretch{'es' if len(stretches) != 1 else ''}"
                    if results else f"{name}: its score as played; Scan file finds where it is the top class"
                    if len(times) else "no frame analysed yet: Scan file fills it in")
            self.strip.set_data(duration, [(name, times, scores)], stretches, note, damaged,
                                class_colors([class_id]))
        else:
            top = self.track.top_classes(LINES) if results else []
            lines = [(label, *self.track.series(c)) for c, label in top]
            self.strip.set_data(duration, lines, (), "" if results else "no frame analysed yet: Scan file fills it in",
                                damaged, class_colors(c for c, _ in top))
        self.save_button.setEnabled(self._session.model is not None and not self._exporting)
        self.scan_button.setEnabled(self._session.model is not None and not (self.scan is not None and self.scan.running))

    def _seek(self, seconds: float) -> None:
        duration = self._session.duration_hint
        if duration:
            self.window.playback.seek_to(seconds / duration)

    # -- the scan ----------------------------------------------------------------------------
    def start_scan(self) -> None:
        """Every frame of the file through the model, in the background (Cancel stops it)."""
        session = self._session
        source = session.source
        if self.scan is not None and self.scan.running:
            return
        if source is None or session.model is None or not self.area.isVisible():
            self.window.statusBar().showMessage("Scan file needs a video file and the model", 5000)
            return
        from camvideo.runtime.scan import FileScan  # torch is in: the model has loaded

        self.scan = FileScan(source.info.location, session.model, session.localize_settings,
                             self.track).start()
        self._show_scanning(True)
        self.state_label.setText("scanning…")

    def cancel_scan(self) -> None:
        if self.scan is not None and self.scan.running:
            self.scan.cancel()

    def _show_scanning(self, running: bool) -> None:
        self.scan_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)

    def _update_scan(self) -> None:
        scan = self.scan
        if scan is None:
            return
        if scan.total:
            self.progress.setRange(0, scan.total)
            self.progress.setValue(min(scan.frames, scan.total))
        else:
            self.progress.setRange(0, 0)  # busy: the file does not say how long it is
        if scan.running or scan.message is None:
            return
        self.scan = None
        self._show_scanning(False)
        if scan.track is not self.track:
            return  # a scan of the last source (cancelled when it changed)
        message = scan.message
        self.state_label.setText(f"scanned {scan.frames} frames" if not message else
                                 f"scan {message} after {scan.frames} frames" if message == "cancelled" else "")
        if message and message != "cancelled":
            self.window.show_error(f"Scan file: {message}")

    # -- saving -------------------------------------------------------------------------------
    @property
    def _exporting(self) -> bool:
        return self.export is not None and self.export.running

    def ask_save(self) -> None:
        stem = Path(self.track.name).stem or "camvideo"
        start = str(self.window.output_dir / f"{stem}.jsonl")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the whole file's per-frame data as", start,
                                              "JSON Lines (*.jsonl);;CSV (*.csv)")
        if path:
            self.save(Path(path))

    def save(self, path: Path) -> bool:
        """``camvideo process FILE --export path`` with the settings on screen, in the
        background (the status bar says when it is written); False when it cannot start."""
        session, source = self._session, self._session.source
        if source is None or session.model is None or not self.area.isVisible() or self._exporting:
            self.window.statusBar().showMessage("Save as JSONL needs a video file and the model", 5000)
            return False
        from camvideo.runtime.scan import FileScan  # torch is in: the model has loaded

        self.export = FileScan(source.info.location, session.model, session.localize_settings, None,
                               export=path, on_done=lambda message: self.window.session.post(
                                   self._on_saved, path, message)).start()
        self.save_button.setEnabled(False)
        self.window.statusBar().showMessage(f"saving {path.name}… (the whole file, in the background)")
        return True

    def _on_saved(self, path: Path, message: str) -> None:
        scan, self.export = self.export, None
        self.save_button.setEnabled(self._session.model is not None)
        if message == "":
            say(self.window.statusBar(), f"saved {scan.frames} frames to {path}", 8000, middle=True)
        elif message == "cancelled":
            self.window.statusBar().showMessage(f"not saved: {path.name} was cancelled", 8000)
        else:
            self.window.show_error(f"Save as JSONL: {message}")

    def close(self) -> None:
        """Stop the scan and wait for its threads (bounded)."""
        self._timer.stop()
        for scan in (self.scan, self.export):
            if scan is not None:
                scan.cancel()
                scan.wait(SCAN_JOIN_S)
