"""The Record box's behaviour: recordings and snapshots, and where they go.

``RecordControls`` turns the Record, Snapshot and Folder… buttons (and the R and
S keys) into session calls, says in the box what runs (``● name 0:12``, then
``saving name…`` while the file is finalized in the background, then ``saved
name``) and reports failures in the window's banner. The output folder is kept
in QSettings (``output_dir``; default: the user's Movies folder/camvideo).
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QStandardPaths
from PyQt6.QtWidgets import QFileDialog

from camvideo.app.position import clock
from camvideo.app.wording import window_text
from camvideo.errors import CamvideoError, OutputError
from camvideo.qt.status import say
from camvideo.video.outputs import partial_path

OTHER_FOLDER = "Folder… (Record box) picks another folder"


def with_way_out(exc: CamvideoError) -> str:
    """The window's words for ``exc``; a place that cannot be written also says what to do."""
    text = window_text(exc)
    return f"{text}; {OTHER_FOLDER}" if isinstance(exc, OutputError) else text


def why_empty(session) -> str:
    """Why a recording got no frame, and what to do: the file on screen had ended
    (Play starts it again), it was paused, or no frame came."""
    if session.player is not None and session.player.finished and not session.live:
        return "the file had ended (Play plays it again from the start; record while it plays)"
    if session.paused:
        return "it was paused all along (record while it plays)"
    return "no frame played while recording"


class RecordControls:
    """Recording and snapshots for ``window`` (its session, panel, settings, status bar)."""

    def __init__(self, window) -> None:
        self.window = window
        self.frames_shown = 0  # frames on screen that went into the current (or last) recording
        self._path: Path | None = None
        self._snapshot_error: str | None = None  # what the banner says of the last snapshot that failed
        self._record_tip: str | None = None  # Record's own tooltip (the panel's)
        self._saving: set[str] = set()  # paths of recordings being finalized

    @property
    def output_dir(self) -> Path:
        default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation) or str(Path.home())
        return Path(self.window.saved.text("output_dir", str(Path(default) / "camvideo")))

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Recordings and snapshots go to", str(self.output_dir))
        if folder:
            self.window.settings.setValue("output_dir", folder)
        self.show_folder()

    def show_folder(self) -> None:
        """The output folder in the Record box (home as ~), before anything is saved."""
        folder = self.output_dir
        try:
            shown = "~/" + str(folder.relative_to(Path.home()))
        except ValueError:
            shown = str(folder)
        label = self.window.panel.folder_label
        label.setText(f"saves into {shown}")
        label.setToolTip(str(folder))

    def update_enabled(self) -> None:
        """Record and Snapshot need a running source with its model (the keys then
        say why not; the buttons are greyed). A recording running can always stop.
        While a new source opens after the old one stopped (nothing plays), Record's
        tooltip says it waits for that source."""
        w = self.window
        running = w.session.pipeline is not None
        w.panel.record_button.setEnabled(running or w.session.recording)
        w.panel.snapshot_button.setEnabled(running and w.session.last_shown is not None)
        if self._record_tip is None:
            self._record_tip = w.panel.record_button.toolTip()
        waiting = self._waiting_for()
        w.panel.record_button.setToolTip(f"Record: once {waiting} plays" if waiting else self._record_tip)

    def _waiting_for(self) -> str | None:
        """The source that opens while nothing plays (the old one stopping), or None."""
        session = self.window.session
        spec = session.opening_spec
        if spec is None or session.pipeline is not None or session.recording:
            return None
        return Path(spec).name or spec

    def toggle(self, start: bool) -> None:
        """Start a recording into the output folder, or stop the one running (its
        file is finalized in the background: ``on_saving``, then ``saved``)."""
        w = self.window
        if not start:
            w.session.stop_recording()
            w.panel.set_recording(w.session.recording)
            return
        waiting = self._waiting_for()
        if waiting is not None:  # the R key (the button is greyed): not an error, a wait
            w.statusBar().showMessage(f"Record: once {waiting} plays", 5000)
            w.panel.set_recording(False)
            return
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self._new_path()
            self.frames_shown = 0
            w.session.start_recording(path)
        except OSError as exc:
            w.show_error(f"cannot record into {self.output_dir}: {exc.strerror or exc}; {OTHER_FOLDER}")
        except CamvideoError as exc:
            w.show_error(with_way_out(exc))
        w.panel.set_recording(w.session.recording)

    def _new_path(self) -> Path:
        """``camvideo-DATE-TIME.mkv`` in the output folder, ``-2``, ``-3``... when that
        name is taken (a recording stopped in the same second may still be saving)."""
        stem = f"camvideo-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = self.output_dir / f"{stem}.mkv", 1
        while path.exists() or partial_path(path).exists():
            n += 1
            path = self.output_dir / f"{stem}-{n}.mkv"
        return path

    def on_frame(self, shown) -> None:
        # the buttons follow the frames, not only the status timer: a frame on screen can
        # be recorded at once (Qt's setEnabled is a no-op when nothing changes)
        self.update_enabled()
        if shown.recorded:
            self.frames_shown += 1

    def on_saving(self, path: str) -> None:
        """A recording stopped: its file is being finalized (in the background)."""
        panel = self.window.panel
        self._saving.add(path)
        panel.set_recording(False)
        panel.record_label.setText(f"saving {Path(path).name}…")
        panel.record_label.setToolTip(path)

    def on_recording_changed(self, running: bool, path: str) -> None:
        panel = self.window.panel
        panel.set_recording(running or self.window.session.recording)
        panel.record_label.setToolTip(path)
        if running:
            self._path = Path(path)
            panel.record_label.setText(f"● {Path(path).name}  0:00")
        elif path:
            panel.record_label.setText(f"saved {Path(path).name}")
            if path in self._saving:
                self._saving.discard(path)
                say(self.window.statusBar(), f"saved {path}", 8000, middle=True)
        else:
            panel.record_label.setText("not recording")

    def on_empty(self, path: str) -> None:
        """A recording stopped before any frame was shown (paused all along, or the
        file had ended): no file, and why."""
        self._saving.discard(path)
        text = f"nothing recorded: {why_empty(self.window.session)}"
        self.window.panel.record_label.setText(text)
        self.window.panel.record_label.setToolTip("")
        say(self.window.statusBar(), f"{Path(path).name}: {text}", 8000)

    def tick(self) -> None:
        """The running recording's clock, the buttons' state (the window's status timer)."""
        self.update_enabled()
        session = self.window.session
        if session.recording and self._path is not None:  # the file's length: it stops when the frames do
            self.window.panel.record_label.setText(f"● {self._path.name}  {clock(session.recorded_seconds)}")

    def snapshot(self) -> None:
        """The frame on screen saved (``Session.snapshot``); a failure in the banner,
        which a later snapshot that is saved takes away (its message is old news)."""
        w = self.window
        try:
            png, _ = w.session.snapshot(self.output_dir)
        except CamvideoError as exc:
            self._snapshot_error = with_way_out(exc)
            w.show_error(self._snapshot_error)
            return
        if w.banner.isVisible() and w.error_label.text() == self._snapshot_error:
            w.banner.hide()
        say(w.statusBar(), f"snapshot {png} (+ .json)", 8000, middle=True)
