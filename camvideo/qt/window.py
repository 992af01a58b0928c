"""The main window: video view + side panel + status bar, wired to a Session.

Everything here runs on the GUI thread; frames and errors arrive as signals from
the session. The window appears at once and the model loads behind a visible
"Loading model" state. Keys: Space pause, R record, S snapshot, F full screen,
Esc leave full screen (else cancel an open), Ctrl+O open a file, Ctrl+Shift+O a
folder of images, 1-9 the heat map of that rank (Top-k; a click on a label too). Settings, the last folder of the file dialog and the output
folder are kept in QSettings. A video file or a folder dropped on the window opens.

Sources open in the background (``opener``): while one opens, what was playing
goes on, a bar over the top of the video says "Opening …" and offers Cancel (or Esc); a
newer open supersedes it. ``opened(spec, ok)`` says when an open ended, after
the window has shown the outcome (tests wait on it).

The window shows before torch is imported (``Session.core_ready``): until then
the model list holds the built-in model and the one asked for (or remembered).
Settings need no torch (``camvideo.settings``): each change reaches the session
at once, before the model has loaded too, and the first frame is made with them.
"""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from camvideo import DEFAULT_MODEL  # without importing torch
from camvideo.errors import CamvideoError, describe
from camvideo.qt import app_settings
from camvideo.qt.panel import ControlPanel
from camvideo.qt.session import Session
from camvideo.qt.view import ShownFrame, VideoView

VIDEO_FILTER = "Videos (*.mp4 *.mkv *.mov *.avi *.webm *.m4v *.mpg *.mpeg *.ts *.gif);;All files (*)"


def list_cameras() -> list[str]:
    """Camera indices to offer: /dev/videoN on Linux (none: an empty list), else
    0..3, which cannot be listed there (opening each to probe would make the
    window slow to appear)."""
    if sys.platform.startswith("linux"):
        found = sorted(int(p[len("/dev/video"):]) for p in glob.glob("/dev/video*") if p[len("/dev/video"):].isdigit())
        return [str(i) for i in found]
    return ["0", "1", "2", "3"]


def demo_clip() -> Path:
    from camvideo.qt.resources import demo_clip_path

    return demo_clip_path()


class MainWindow(QMainWindow):
    opened = pyqtSignal(str, bool)  # spec, ok: an open ended (False: failed or cancelled), window updated

    def __init__(self, source: str | None = None, model: str | None = None, device: str = "auto",
                 settings: QSettings | None = None, loop: bool = False, weights: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("camvideo")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else app_settings()
        self.session = Session(device=device, parent=self)
        self.frames_shown = 0
        self.frames_shown_recording = 0  # frames on screen that went into the recording
        self.errors: list[str] = []
        self._record_started = 0.0
        self._record_path: Path | None = None
        self._seeking = False
        self._dropped_before = 0

        # -- widgets
        self.view = VideoView()
        self.view.set_message("Loading model…")
        # The names known without torch; the whole list comes with models_listed.
        remembered = self.settings.value("model", "", str)
        first_models = list(dict.fromkeys(n for n in (DEFAULT_MODEL, remembered, model) if n))
        self.panel = ControlPanel(first_models, list_cameras())
        self.panel.restore(self.settings)
        if model:
            self.panel.model.blockSignals(True)
            self.panel.model.setCurrentText(model)
            self.panel.model.blockSignals(False)
        self.banner, self.error_label, banner_layout = _message_bar("rgba(139, 26, 26, 235)", (4, 0, 4, 0))
        close = QToolButton()
        close.setText("×")
        close.setToolTip("hide the message")
        close.clicked.connect(self.banner.hide)
        banner_layout.addWidget(self.error_label, 1)
        banner_layout.addWidget(close)
        self.banner.hide()
        # While a source opens: what, and a way out (the old source plays on below).
        self.opening_bar, self.opening_label, opening_layout = _message_bar("rgba(36, 65, 94, 235)", (4, 2, 4, 2))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop opening it (Esc); what plays goes on")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.clicked.connect(self.cancel_open)
        opening_layout.addWidget(self.opening_label, 1)
        opening_layout.addWidget(self.cancel_button)
        self.opening_bar.hide()
        self._demo_if_no_camera = False

        # The bars lie over the top of the video instead of pushing it down (a
        # layout shift each time one appears): one grid cell holds both.
        self.top_bars = QWidget()
        bars_layout = QVBoxLayout(self.top_bars)
        bars_layout.setContentsMargins(0, 0, 0, 0)
        bars_layout.setSpacing(0)
        bars_layout.addWidget(self.banner)
        bars_layout.addWidget(self.opening_bar)
        left = QWidget()
        left_layout = QGridLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, 0, 0)
        left_layout.addWidget(self.top_bars, 0, 0, Qt.AlignmentFlag.AlignTop)
        self.top_bars.raise_()
        self.side = QScrollArea()
        self.side.setWidget(self.panel)
        self.side.setWidgetResizable(True)
        self.side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side.setMinimumWidth(self.panel.minimumSizeHint().width() + 24)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left, 1)
        layout.addWidget(self.side)
        self.setCentralWidget(central)

        self.fps_label, self.latency_label, self.device_label, self.dropped_label = (QLabel() for _ in range(4))
        for w, tip in ((self.fps_label, "frames painted per second, or what the stream does (paused, ended…)"),
                       (self.latency_label, "capture to screen: mean of the last 60 frames"),
                       (self.device_label, "where the model runs"),
                       (self.dropped_label, "frames skipped: the model or the screen was slower than the source")):
            w.setToolTip(tip)
            w.setStyleSheet("QLabel { padding: 0 6px; border-left: 1px solid palette(mid); }")
            self.statusBar().addPermanentWidget(w)

        self._wire()
        self._shortcuts()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self._initial_source = source
        self._weights = (self.panel.model.currentText(), weights) if weights else None
        self._initial_loop = loop
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(250)
        # Show first, then load: the window appears at once.
        QTimer.singleShot(0, self._start)

    # -- wiring -----------------------------------------------------------------------
    def _wire(self) -> None:
        s, p = self.session, self.panel
        s.frame_shown.connect(self._on_frame)
        s.error.connect(self.show_error)
        s.finished.connect(self._on_finished)
        s.source_changed.connect(self._on_source_changed)
        s.model_loading.connect(self._on_model_loading)
        s.model_ready.connect(self._on_model_ready)
        s.model_failed.connect(self._on_model_failed)
        s.recording_changed.connect(self._on_recording_changed)
        s.opening.connect(self._on_opening)
        s.opened.connect(self._on_opened)
        s.models_listed.connect(self._on_models_listed)
        p.model.opening.connect(s.request_model_list)
        p.open_spec.connect(lambda spec: self.open(spec))
        p.open_file_clicked.connect(self.open_file_dialog)
        p.open_folder_clicked.connect(self.open_folder_dialog)
        p.open_url_clicked.connect(self.open_url_dialog)
        p.open_demo_clicked.connect(self.open_demo)
        p.model_changed.connect(self.load_model)
        p.localize_changed.connect(self._push_localize)
        p.overlay_changed.connect(self._push_overlay)
        p.record_button.clicked.connect(lambda checked: self.toggle_recording(checked))
        p.snapshot_button.clicked.connect(self.snapshot)
        p.folder_button.clicked.connect(self.choose_output_dir)
        p.play_button.clicked.connect(self.toggle_pause)
        p.step_button.clicked.connect(self.step)
        p.seek.sliderPressed.connect(lambda: setattr(self, "_seeking", True))
        p.seek.sliderMoved.connect(self._seek_moved)
        p.seek.seek_requested.connect(self.seek_to)
        self.view.double_clicked.connect(self.toggle_full_screen)
        self.view.tag_clicked.connect(self._on_tag_clicked)

    def _shortcuts(self) -> None:
        for keys, slot in (
            ("Space", self.toggle_pause),
            ("R", lambda: self.toggle_recording(not self.session.recording)),
            ("S", self.snapshot),
            ("F", self.toggle_full_screen),
            ("Esc", self.escape),
            ("Ctrl+O", self.open_file_dialog),
            ("Ctrl+Shift+O", self.open_folder_dialog),
            *((str(n), lambda _checked=False, n=n: self.show_heatmap_of(n)) for n in range(1, 10)),
        ):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    def _push_overlay(self) -> None:
        """Heat map and boxes go into the frames (next frame; at once while
        paused); labels and the marked tag are the view's (at once)."""
        settings = self.panel.overlay_settings()
        self.session.set_overlay(settings)
        self.view.set_overlay(settings)

    def show_heatmap_of(self, rank: int) -> None:
        """The heat map of class ``rank`` (keys 1-9); the settings must localize that many."""
        if not self.panel.set_heatmap_rank(rank):
            k = self.panel.map_count()
            self.statusBar().showMessage(f"no heat map {rank}: {k} class{'es are' if k > 1 else ' is'} localized"
                                         + ("" if k > 1 else " (choose Top-k)"), 4000)

    def _on_tag_clicked(self, rank: int) -> None:
        """A click on a label shows its class's heat map; on the one shown, the top class's again."""
        self.show_heatmap_of(1 if rank == self.panel.heatmap_rank else rank)

    def _start(self) -> None:
        self.view.setFocus()  # the keys (Space, R, S, F) work before any click
        self._push_overlay()
        self._push_localize()  # before the model loads: its first frame is made with them
        self.load_model(self.panel.model.currentText())
        if self._initial_source is not None:
            self.open(self._initial_source, loop=self._initial_loop)
        else:  # camera 0 when one opens, else the demo clip
            # (on Linux, no /dev/video* means no camera: skip the slow probe)
            if list_cameras():
                self.open("0", report=False)
                self._demo_if_no_camera = True  # set after open: it clears the flag
            else:
                self.open_demo()

    # -- sources ------------------------------------------------------------------------
    def open(self, spec: str, loop: bool = False, report: bool = True) -> None:
        """Open a camera index, URL, folder or file in the background; when it
        opens, a running recording is finalized and it replaces what plays. When
        it does not open, what was playing goes on. ``opened`` tells the end."""
        self._demo_if_no_camera = False
        self.session.open(spec, loop=loop, report=report)

    def open_demo(self) -> None:
        try:
            self.open(str(demo_clip()), loop=True)
        except CamvideoError as exc:
            self.show_error(describe(exc))

    def cancel_open(self) -> None:
        """Stop opening (what plays goes on); the late result is closed unseen."""
        self._demo_if_no_camera = False
        spec = self.session.cancel_open()
        if spec is not None:
            self.statusBar().showMessage(f"cancelled opening {spec}", 5000)

    def escape(self) -> None:
        """Esc: leave full screen; else cancel an open in flight."""
        if self.isFullScreen():
            self.leave_full_screen()
        elif self.session.opening_spec is not None:
            self.cancel_open()

    def _on_opening(self, spec: str) -> None:
        shown = _short(spec)
        self.opening_label.setText(f"Opening {shown}…" + ("" if self.session.source is None
                                                          else "  (what plays goes on until it opens)"))
        self.opening_label.setToolTip(spec)
        self.opening_bar.show()
        self.banner.hide()  # an error about an earlier attempt is old news: this one will say
        self.statusBar().showMessage(f"opening {shown}… (Esc cancels)")
        if self.session.source is None:  # nothing on screen (a camera stops the old source first)
            self._show_no_source()
            self.view.set_message(f"Opening {shown}…")

    def _on_opened(self, spec: str, ok: bool) -> None:
        if self.session.opening_spec is None:
            self.opening_bar.hide()
        if not ok:
            if self.statusBar().currentMessage().startswith("opening "):
                self.statusBar().clearMessage()
            if self.session.source is None and self.session.opening_spec is None:
                if self._demo_if_no_camera:
                    self.open_demo()  # start-up: no camera 0 here, the demo clip instead
                else:
                    self._show_no_source()
        self.opened.emit(spec, ok)

    def refresh_cameras(self) -> None:
        """List the cameras again (the window does when it is activated: a camera
        plugged in meanwhile appears)."""
        self.panel.set_cameras(list_cameras())

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.refresh_cameras()
        super().changeEvent(event)

    def _show_no_source(self) -> None:
        self.view.clear()
        self.view.set_message("No source: open a camera, a file or a URL")
        self.panel.source_label.setText("no source")
        self.setWindowTitle("camvideo")
        for w in (self.panel.play_button, self.panel.step_button, self.panel.seek):
            w.setEnabled(False)
        self.panel.seek.setValue(0)
        self.panel.time_label.setText("")

    def open_file_dialog(self) -> None:
        last = self.settings.value("last_dir", str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", last, VIDEO_FILTER)
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open(path)

    def open_folder_dialog(self) -> None:
        """A folder of images, played as a clip (sorted by name)."""
        last = self.settings.value("last_dir", str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", last)
        if folder:
            self.settings.setValue("last_dir", folder)
            self.open(folder)

    def open_url_dialog(self) -> None:
        last = self.settings.value("last_url", "rtsp://", str)
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Open a stream")
        dialog.setLabelText("URL (rtsp://, http://…):")
        dialog.setTextValue(last)
        dialog.resize(max(480, dialog.sizeHint().width()), dialog.sizeHint().height())  # room for a real URL
        url = dialog.textValue() if dialog.exec() else ""
        if url.strip():
            self.settings.setValue("last_url", url.strip())
            self.open(url.strip())

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.settings.setValue("last_dir", str(Path(files[0]) if Path(files[0]).is_dir()
                                                   else Path(files[0]).parent))
            self.open(files[0])

    def _on_source_changed(self, name: str, live: bool) -> None:
        self.view.clear()
        self.view.set_message("" if self.session.model is not None
                              else f"Loading model {self.panel.model.currentText()}…")
        self.statusBar().clearMessage()  # an error about the last source is old news
        self._dropped_before = self.session.replaced + self.view.skipped  # "dropped" counts this source's frames
        # a file by its name (the whole path in the tooltip): a long path wraps the panel
        self.panel.source_label.setText(f"live: {name}" if live else Path(name).name or name)
        self.panel.source_label.setToolTip(name)
        self.panel.time_label.setText("live" if live else "")
        self.setWindowTitle(f"camvideo: {Path(name).name if not live else name}")
        for w in (self.panel.play_button, self.panel.step_button, self.panel.seek):
            w.setEnabled(not live)
        self.panel.play_button.setText("Pause")
        self.banner.hide()

    def _on_finished(self) -> None:
        if self.session.pipeline is not None and self.session.pipeline.error is None:
            self.statusBar().showMessage("end of the file", 5000)
        self.panel.play_button.setText("Play")

    # -- model ------------------------------------------------------------------------------
    def _push_localize(self) -> None:
        """The panel's localize settings to the session, at once (next frame)."""
        self.session.set_localize(self.panel.localize_settings())

    def _on_models_listed(self, names: list) -> None:
        """The whole model list. A remembered name that no longer exists gives way
        to the built-in model."""
        wanted = self.panel.model.currentText()
        if wanted.startswith("timm:") and wanted not in names:
            names = [*names, wanted]  # timm models are not listed (thousands), but they exist
        self.panel.set_models(names)
        if wanted not in names:
            self.load_model(self.panel.model.currentText())

    def load_model(self, name: str) -> None:
        """Load ``name`` in the background (with the --weights file it was started with)."""
        weights = self._weights[1] if self._weights and self._weights[0] == name else None
        self.session.load_model(name, weights=weights)

    def _on_model_loading(self, name: str) -> None:
        self.panel.model_state.setText(f"loading {name}…")
        if self.view.current is None:
            self.view.set_message(f"Loading model {name}…")

    def _on_model_ready(self, name: str, device: str) -> None:
        self.panel.model_state.setText(f"{name} ready on {device}")
        self.device_label.setText(device)
        if not self.panel.labels and self.session.model is not None:
            self.panel.set_class_names(self.session.model.labels)
            self._push_localize()  # a class typed by name resolves now
        if self.session.source is not None:
            self.view.set_message("")
        elif self.session.opening_spec is not None:
            self.view.set_message(f"Opening {_short(self.session.opening_spec)}…")
        else:
            self.view.set_message("No source: open a camera, a file or a URL")

    def _on_model_failed(self, name: str, message: str) -> None:
        current = self.session.model_name
        if current is not None and current != name:
            # The stream goes on with the model it had: the list says which.
            self.panel.model.blockSignals(True)
            self.panel.model.setCurrentText(current)
            self.panel.model.blockSignals(False)
            self.panel.model_state.setText(f"{name} could not load; still {current} on {self.session.model.device}")
        elif name != DEFAULT_MODEL:
            # Nothing runs yet (a remembered model that cannot load offline, say):
            # the built-in model instead, and the message says why.
            self.panel.model.blockSignals(True)
            self.panel.model.setCurrentText(DEFAULT_MODEL)
            self.panel.model.blockSignals(False)
            self.panel.model_state.setText(f"{name} could not load; loading {DEFAULT_MODEL}")
            self.load_model(DEFAULT_MODEL)
        else:
            self.panel.model_state.setText(f"{name} could not load")
        if self.view.current is None and name == DEFAULT_MODEL:
            self.view.set_message(f"Model {name} could not load")
        self.show_error(message)

    # -- frames and status ----------------------------------------------------------------------
    def _on_frame(self, shown: ShownFrame) -> None:
        self.frames_shown += 1
        if shown.recorded:
            self.frames_shown_recording += 1
        if self.view.message:
            self.view.set_message("")
        self.view.show_frame(shown)
        duration = self.session.duration_hint
        if duration and not self._seeking:
            position = shown.time % duration
            self.panel.seek.blockSignals(True)
            self.panel.seek.setValue(int(1000 * position / duration))
            self.panel.seek.blockSignals(False)
        if self.session.live:
            return
        position = shown.time % duration if duration else shown.time  # a looping file restarts its clock
        if not self._seeking:
            # paused or stepping: tenths of a second, so each step shows
            self.panel.time_label.setText(_clock(position, self.session.paused)
                                          + (f" / {_clock(duration)}" if duration else ""))

    def _update_status(self) -> None:
        pipeline = self.session.pipeline
        if self.session.source is None:
            state = "opening" if self.session.opening_spec is not None else "no source"
        elif self.session.model is None:
            state = "loading model"
        elif pipeline is not None and pipeline.finished:
            state = "ended"
        elif self.session.paused:
            state = "paused"
        else:
            state = f"{self.view.fps:.1f} fps" if self.view.fps else "– fps"  # until two frames are painted
        self.fps_label.setText(state)
        playing = state.endswith("fps")
        latency = self.view.latency_ms
        self.latency_label.setText(f"latency {latency:.0f} ms" if playing and latency else "latency –")
        if not self.session.live:
            self.panel.play_button.setText("Pause" if playing or state == "loading model" else "Play")
        dropped = self.session.replaced + self.view.skipped - self._dropped_before
        if pipeline is not None:
            dropped += pipeline.stats.dropped
        self.dropped_label.setText(f"dropped {dropped}")
        if self.session.recording and self._record_path is not None:
            self.panel.record_label.setText(
                f"● {self._record_path.name}  {_clock(time.monotonic() - self._record_started)}")

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        self.error_label.setText(message)
        self.banner.show()
        self.statusBar().showMessage(f"error: {message}", 10000)

    # -- playback ---------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.session.pipeline is None:
            return
        if self.session.pipeline.finished and not self.session.live:
            self.session.seek(0.0)  # play again from the start
            self.panel.play_button.setText("Pause")
        elif self.session.paused:
            self.session.resume()
            self.panel.play_button.setText("Pause")
        else:
            self.session.pause()
            self.panel.play_button.setText("Play")

    def step(self) -> None:
        """One frame forward (files); pauses first."""
        self.session.step()
        if self.session.paused:
            self.panel.play_button.setText("Play")

    def _seek_moved(self, value: int) -> None:
        """While the handle is dragged, the clock shows where it will go."""
        duration = self.session.duration_hint
        if duration:
            target = value / self.panel.seek.STEPS * duration
            self.panel.time_label.setText(f"→ {_clock(target)} / {_clock(duration)}")

    def seek_to(self, fraction: float) -> None:
        """Continue at ``fraction`` of the file (the seek bar: click, drag, keys)."""
        self._seeking = False
        duration = self.session.duration_hint
        if duration:
            self.session.seek(min(max(fraction, 0.0), 1.0) * duration)

    # -- recording and snapshots -----------------------------------------------------------------
    @property
    def output_dir(self) -> Path:
        default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation) or str(Path.home())
        return Path(self.settings.value("output_dir", str(Path(default) / "camvideo"), str))

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Recordings and snapshots go to", str(self.output_dir))
        if folder:
            self.settings.setValue("output_dir", folder)

    def toggle_recording(self, start: bool) -> None:
        if not start:
            path = self.session.stop_recording()
            if path is not None:
                self.statusBar().showMessage(f"saved {path}", 8000)
            return
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self.output_dir / f"camvideo-{time.strftime('%Y%m%d-%H%M%S')}.mkv"
            self.frames_shown_recording = 0
            self.session.start_recording(path)
        except OSError as exc:
            self.show_error(f"cannot record into {self.output_dir}: {exc.strerror or exc}")
        except CamvideoError as exc:
            self.show_error(describe(exc))
        self.panel.set_recording(self.session.recording)

    def _on_recording_changed(self, running: bool, path: str) -> None:
        self.panel.set_recording(running)
        self.panel.record_label.setToolTip(path)
        if running:
            self._record_path, self._record_started = Path(path), time.monotonic()
            self.panel.record_label.setText(f"● {Path(path).name}  0:00")
        else:
            self.panel.record_label.setText(f"saved {Path(path).name}" if path else "not recording")

    def snapshot(self) -> None:
        try:
            png, _ = self.session.snapshot(self.output_dir)
        except CamvideoError as exc:
            self.show_error(describe(exc))
            return
        self.statusBar().showMessage(f"snapshot {png} (+ .json)", 8000)

    # -- full screen and shutdown --------------------------------------------------------------------
    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.leave_full_screen()
        else:
            self.side.hide()
            self.statusBar().hide()
            self.showFullScreen()

    def leave_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        self.side.show()
        self.statusBar().show()

    def closeEvent(self, event) -> None:  # noqa: N802
        """Finalize a running recording and stop every thread before closing."""
        self._status_timer.stop()
        self.panel.save(self.settings)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        self.session.close()
        event.accept()


def _short(spec: str, limit: int = 60) -> str:
    """A source for a one-line message: a path by its name, a long URL cut in the middle."""
    if "://" not in spec and not spec.strip().isdigit():
        spec = Path(spec).name or spec
    elif spec.strip().isdigit():
        spec = f"camera {spec.strip()}"
    return spec if len(spec) <= limit else spec[: limit // 2 - 1] + "…" + spec[-(limit // 2 - 1):]


def _clock(seconds: float, tenths: bool = False) -> str:
    """``m:ss``, or ``m:ss.t`` with ``tenths``."""
    if tenths:
        tenth = max(0, int(seconds * 10))
        return f"{tenth // 600}:{tenth // 10 % 60:02d}.{tenth % 10}"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _message_bar(background: str, margins: tuple[int, int, int, int]) -> tuple[QFrame, QLabel, QHBoxLayout]:
    """A coloured bar with a white, wrapping message (the error banner, the opening bar)."""
    bar = QFrame()
    bar.setStyleSheet(f"QFrame {{ background: {background}; }} "
                      "QLabel { color: white; padding: 4px; background: transparent; }")
    layout = QHBoxLayout(bar)
    layout.setContentsMargins(*margins)
    label = QLabel()
    label.setWordWrap(True)
    return bar, label, layout
