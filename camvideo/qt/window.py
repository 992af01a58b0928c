"""The main window: video view + side panel + status bar, wired to a Session.

Everything here runs on the GUI thread; frames and errors arrive as signals from
the session. The window appears at once and the model loads behind a visible
"Loading model" state. Its parts: the keys (``keys``), the bars over the video
(``bars``), the status bar's fields (``status``) and the Record box
(``recording``) and the timeline under the video (``timeline_ui``). Settings, the last folder of the file dialog and the output
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

from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from camvideo import DEFAULT_MODEL  # without importing torch
from camvideo.app.position import end_text
from camvideo.app.sources import url_to_keep
from camvideo.errors import CamvideoError
from camvideo.qt import app_settings, dialogs
from camvideo.qt.bars import TopBars, over
from camvideo.qt.dialogs import demo_clip, list_cameras
from camvideo.qt.keys import ArrowKeys, install_shortcuts
from camvideo.qt.models_ui import ModelControls
from camvideo.qt.panel import ControlPanel
from camvideo.qt.playback import Playback
from camvideo.qt.recording import RecordControls
from camvideo.qt.session import Session
from camvideo.qt.status import StatusLine, short
from camvideo.qt.timeline_ui import TimelineControls
from camvideo.qt.view import ShownFrame, VideoView
from camvideo.qt.wording import window_text
from camvideo.video.spec import SourceSpec

NARROW_W = 760  # narrower than this, the panel hides itself: the video keeps its room


class MainWindow(QMainWindow):
    opened = pyqtSignal(str, bool)  # spec, ok: an open ended (False: failed or cancelled), window updated

    def __init__(self, source: str | None = None, model: str | None = None, device: str = "auto",
                 settings: QSettings | None = None, loop: bool = False, weights: str | None = None,
                 model_options: dict | None = None, runtime: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("camvideo")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else app_settings()
        self.session = Session(device=device, parent=self)
        self.frames_shown = 0
        self.errors: list[str] = []
        self.record = RecordControls(self)
        self.playback = Playback(self)
        self.models = ModelControls(self)
        self.timeline = TimelineControls(self)  # under the video: a file's timeline, a recording's switch
        self._narrow = False  # the window is narrower than NARROW_W (the panel hid itself)

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
        if runtime:  # --runtime torch|openvino: this run's choice over the remembered one
            self.panel.runtime.blockSignals(True)
            self.panel.runtime.setCurrentText(runtime)
            self.panel.runtime.blockSignals(False)
        # The error banner and "Opening …" lie over the top of the video.
        self.top_bars = TopBars()
        bars = self.top_bars
        self.banner, self.error_label = bars.banner, bars.error_label
        self.opening_bar, self.opening_label, self.cancel_button = bars.opening_bar, bars.opening_label, \
            bars.cancel_button
        self.cancel_button.clicked.connect(self.cancel_open)
        self._demo_if_no_camera = False
        self._errors_at_open = 0  # errors before the open in flight began (a failed open adds one)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(over(self.view, self.top_bars), 1)
        column.addWidget(self.timeline.widget)
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

        self.status_line = StatusLine(self.statusBar())
        line = self.status_line
        self.fps_label, self.latency_label = line.fps_label, line.latency_label
        self.device_label, self.dropped_label = line.device_label, line.dropped_label

        self._wire()
        self.record.show_folder()
        self.record.update_enabled()
        install_shortcuts(self)
        self.arrow_keys = ArrowKeys(self)
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self._initial_source = source
        options = {**(model_options or {}), **({"weights": weights} if weights else {})}
        self.models.options = (self.panel.model.currentText(), options) if options else None
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
        s.warned.connect(self._on_warned)  # a damaged file: why it ends, in the banner
        s.finished.connect(self._on_finished)
        s.finished.connect(self.record.update_enabled)
        s.source_changed.connect(self._on_source_changed)
        s.source_changed.connect(self.timeline.on_source_changed)
        s.plain_changed.connect(self.timeline.on_plain_changed)
        s.model_loading.connect(self.models.on_loading)
        s.model_ready.connect(self.models.on_ready)
        s.model_ready.connect(self.timeline.on_model_ready)
        s.model_failed.connect(self.models.on_failed)
        s.recording_changed.connect(self.record.on_recording_changed)
        s.opening.connect(self._on_opening)
        s.opened.connect(self._on_opened)
        s.models_listed.connect(self.models.on_listed)
        p.model.opening.connect(s.request_model_list)
        p.open_spec.connect(lambda spec: self.open(spec))
        p.open_file_clicked.connect(self.open_file_dialog)
        p.open_folder_clicked.connect(self.open_folder_dialog)
        p.open_url_clicked.connect(self.open_url_dialog)
        p.open_demo_clicked.connect(self.open_demo)
        p.model_changed.connect(self.load_model)
        p.weights_file_clicked.connect(self.models.ask_weights_file)
        p.topk.clamped.connect(lambda typed: self.statusBar().showMessage(
            f"Top k goes up to {p.topk.maximum()}: {typed} became {p.topk.maximum()}", 6000))
        p.localize_changed.connect(self.push_localize)
        p.overlay_changed.connect(self._push_overlay)
        p.record_button.clicked.connect(lambda checked: self.toggle_recording(checked))
        p.snapshot_button.clicked.connect(self.snapshot)
        p.folder_button.clicked.connect(self.record.choose_output_dir)
        self.playback.wire()
        self.view.double_clicked.connect(self.toggle_full_screen)
        self.view.tag_clicked.connect(self._on_tag_clicked)

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
        self.push_localize()  # before the model loads: its first frame is made with them
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
            self.show_error(window_text(exc))

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
        self._errors_at_open = len(self.errors)
        shown = short(spec)
        self.top_bars.show_opening(f"Opening {shown}…" + ("" if self.session.source is None
                                                          else "  (what plays goes on until it opens)"), spec)
        self.statusBar().showMessage(f"opening {shown}… (Esc cancels)")
        if self.session.source is None:  # nothing on screen (a camera stops the old source first)
            self._show_no_source()
            self.view.set_message(f"Opening {shown}…")

    def _on_opened(self, spec: str, ok: bool) -> None:
        if self.session.opening_spec is None:
            self.opening_bar.hide()
        if SourceSpec.parse(spec, probe=False).kind == "stream":
            if ok:
                self.settings.setValue("last_url", url_to_keep(spec))  # Open URL… offers it (no password)
            elif self.session.opening_spec is None and len(self.errors) > self._errors_at_open:  # failed, not cancelled
                self.top_bars.offer_retry(f"open {short(spec)} again", lambda: self.open(spec))
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
        self.playback.no_source()
        self.timeline.no_source()

    def open_file_dialog(self) -> None:
        path = dialogs.ask_file(self, self.settings)
        if path:
            self.open(path)

    def open_folder_dialog(self) -> None:
        """A folder of images, played as a clip (sorted by name)."""
        folder = dialogs.ask_folder(self, self.settings)
        if folder:
            self.open(folder)

    def open_url_dialog(self) -> None:
        url = dialogs.ask_url(self, self.settings)
        if url:
            self.open(url)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        path = dialogs.dropped_path(event.mimeData(), self.settings)
        if path:
            event.acceptProposedAction()
            self.open(path)

    def _on_source_changed(self, name: str, live: bool) -> None:
        self.view.clear()
        self.view.set_message("" if self.session.model is not None
                              else f"Loading model {self.panel.model.currentText()}…")
        self.statusBar().clearMessage()  # an error about the last source is old news
        self.status_line.new_source(self.session, self.view)  # "dropped" counts this source's frames
        # a file by its name (the whole path in the tooltip): a long path wraps the panel
        self.panel.source_label.setText(f"live: {name}" if live else Path(name).name or name)
        self.panel.source_label.setToolTip(name)
        self.setWindowTitle(f"camvideo: {Path(name).name if not live else short(name)}")
        self.playback.new_source(live)
        self.banner.hide()

    def _on_warned(self, message: str) -> None:
        """The core's warning about the source on screen (it may come just before or
        just after the end: the reader and the pipeline are two threads)."""
        self.errors.append(message)
        self.top_bars.show_error(message)
        pipeline = self.session.pipeline
        ended = pipeline is not None and pipeline.finished
        self.statusBar().showMessage(self._end_text() if ended else f"warning: {message}", 8000)

    def _end_text(self) -> str:
        """What the status bar says at the end of the file (``end_text``)."""
        s = self.session
        shown, info = s.last_shown, s.source.info if s.source is not None else None
        return end_text(bool(s.source_warnings), shown.index if shown is not None else None,
                        info.frame_count if info is not None else None)

    def _on_finished(self) -> None:
        if self.session.pipeline is not None and self.session.pipeline.error is None:
            damaged = self.session.source_warnings
            self.statusBar().showMessage(self._end_text(), 8000 if damaged else 5000)
            if damaged:
                self.top_bars.show_error(damaged[-1])  # again, in case it was closed
        self.playback.on_finished()

    # -- model ------------------------------------------------------------------------------
    def push_localize(self) -> None:
        """The panel's localize settings to the session, at once (next frame)."""
        settings = self.panel.localize_settings()
        self.session.set_localize(settings)
        self.view.map_scale, self.view.map_gate = settings.intensity.scale, settings.intensity.gate

    def load_model(self, name: str) -> None:
        """Load ``name`` in the background (with the weights file given for it)."""
        self.models.load(name)

    # -- frames and status ----------------------------------------------------------------------
    def _on_frame(self, shown: ShownFrame) -> None:
        self.frames_shown += 1
        self.record.on_frame(shown)
        if self.view.message:
            self.view.set_message("")
        self.view.show_frame(shown)
        self.playback.on_frame(shown)
        self.timeline.on_frame(shown)
        rank = self.panel.heatmap_rank
        self.panel.set_map_class(next((d.label for d in shown.result.detections if d.rank == rank), "")
                                 if rank > 1 else "")

    def _update_status(self) -> None:
        self.playback.on_state(self.status_line.update(self.session, self.view, self.playback.state()))
        self.record.tick()

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        self.top_bars.show_error(message)
        self.statusBar().showMessage(f"error: {message}", 10000)

    # -- playback (the Playback box: ``playback``) --------------------------------------------
    def toggle_pause(self) -> None:
        self.playback.toggle_pause()

    def step(self) -> None:
        """One frame forward (files); pauses first."""
        self.playback.step()

    def seek_to(self, fraction: float) -> None:
        self.playback.seek_to(fraction)

    # -- recording and snapshots (the Record box: ``recording``) ----------------------------
    @property
    def output_dir(self) -> Path:
        return self.record.output_dir

    @property
    def frames_shown_recording(self) -> int:
        """Frames on screen that went into the current (or last) recording."""
        return self.record.frames_shown

    def toggle_recording(self, start: bool) -> None:
        self.record.toggle(start)

    def snapshot(self) -> None:
        self.record.snapshot()

    # -- full screen and shutdown --------------------------------------------------------------------
    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.leave_full_screen()
        else:
            self.side.hide()
            self.timeline.widget.hide()  # the video only: the timeline and its bars come back on leaving
            self.statusBar().hide()
            self.showFullScreen()

    def toggle_panel(self) -> None:
        """P: the side panel off (all the room for the video) or on again; the
        choice holds until the window is resized across ``NARROW_W``."""
        if not self.isFullScreen():
            self.side.setVisible(not self.side.isVisible())

    def resizeEvent(self, event) -> None:  # noqa: N802
        """A small window gives the video the room: the panel hides below
        ``NARROW_W`` (P brings it back) and comes back above it."""
        super().resizeEvent(event)
        narrow = self.width() < NARROW_W
        if self.isFullScreen() or narrow == self._narrow:
            return
        self._narrow = narrow
        self.side.setVisible(not narrow)
        if narrow:
            self.statusBar().showMessage("panel hidden (P shows it)", 5000)

    def leave_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        self.side.show()
        self.timeline.widget.show()
        self.statusBar().show()

    def closeEvent(self, event) -> None:  # noqa: N802
        """Finalize a running recording and stop every thread before closing."""
        self._status_timer.stop()
        self.timeline.close()  # a scan's threads, before the session's
        self.arrow_keys.remove()
        self.panel.save(self.settings)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        self.session.close()
        event.accept()

