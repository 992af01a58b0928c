"""The main window: video view + side panel + status bar, wired to a Session.

Everything here runs on the GUI thread; frames and errors arrive as signals from
the session. The window appears at once and the model loads behind a visible
"Loading model" state. Its widgets are laid out by ``layout``; its parts each own
one box or job: the Source box (``sources_ui``: opening, the bars while one opens,
what ended), the Model box (``models_ui``), the Record box (``recording``),
playback (``playback``), the keys (``keys``) and the timeline under the video
(``timeline_ui``). Settings, the last folder of the file dialog and the output
folder are kept in QSettings. A video file or a folder dropped on the window opens.

The window shows before torch is imported (``Session.core_ready``): until the
whole model list comes (the user's kept list at once; the first time, a child at
the lowest CPU priority makes it) it holds the built-in model and the one asked
for (or remembered).
Settings need no torch (``camvideo.settings``): each change reaches the session
at once, before the model has loaded too, and the first frame is made with them.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, QSize, QTimer
from PyQt6.QtWidgets import QMainWindow

from camvideo.qt import app_settings, layout
from camvideo.qt.keys import ArrowKeys, ButtonKeys, install_shortcuts
from camvideo.qt.models_ui import ModelControls
from camvideo.qt.playback import Playback
from camvideo.qt.recording import RecordControls
from camvideo.qt.session import Session
from camvideo.qt.sources_ui import SourceControls
from camvideo.qt.timeline_ui import TimelineControls

NARROW_W = 760  # narrower than this, the panel hides itself: the video keeps its room
SHORT_H = 480  # lower than this, the timeline hides itself (it keeps its height: the video had what was left)
HID_MESSAGES = {  # the status bar's word when a resize hid them (short: a small window's status bar is narrow)
    ("panel",): "panel hidden (P shows it)",
    ("timeline",): "timeline hidden (a taller window shows it)",
    ("panel", "timeline"): "panel and timeline hidden (P: the panel)",
}
FIRST_SIZE = QSize(1280, 800)  # the window's size when none is remembered ...
# ... less where the screen's free area is smaller: room kept for the title bar and the frame,
# which the window manager adds outside the window (a 1366x768 or 1280x800 screen)
FRAME_ROOM = QSize(8, 40)


def first_size(screen) -> QSize:
    """The window's first size on ``screen`` (a QScreen, or None): ``FIRST_SIZE``, or
    less, so that the window with its title bar fits the screen's free area (the
    status bar and the timeline's buttons are not off the bottom of a small screen)."""
    if screen is None:
        return QSize(FIRST_SIZE)
    area = screen.availableGeometry().size() - FRAME_ROOM
    return FIRST_SIZE.boundedTo(area.expandedTo(QSize(NARROW_W, 480)))


class MainWindow(QMainWindow):
    """The window: its widgets (``layout``) and its parts, wired to one ``Session``."""

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
        self.sources = SourceControls(self)
        self.opened = self.sources.opened  # spec, ok: an open ended, the window updated (tests wait on it)
        self.timeline = TimelineControls(self)  # under the video: a file's timeline, a recording's switch
        self._narrow = False  # the window is narrower than NARROW_W (the panel hid itself)
        self._short = False  # the window is lower than SHORT_H (the timeline hid itself)
        # The names known without torch (the whole list comes with models_listed); the
        # settings read checked: ``self.saved``.
        layout.build(self, self.timeline.widget, model, runtime)
        self._wire()
        self.record.show_folder()
        self.record.update_enabled()
        install_shortcuts(self)
        self.arrow_keys = ArrowKeys(self)
        self.button_keys = ButtonKeys(self)  # a button reached with Tab takes Space and Enter
        geometry = self.saved.blob("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(first_size(self.screen()))
        options = {**(model_options or {}), **({"weights": weights} if weights else {})}
        self.models.options = (self.panel.model.currentText(), options) if options else None
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(250)
        # Show first, then load: the window appears at once.
        QTimer.singleShot(0, lambda: self._start(source, loop))

    # -- wiring -----------------------------------------------------------------------
    def _wire(self) -> None:
        s, p = self.session, self.panel
        s.frame_shown.connect(self._on_frame)
        s.error.connect(self.show_error)
        s.warned.connect(self.sources.on_warned)  # a damaged file: why it ends, in the banner
        s.finished.connect(self.sources.on_finished)
        s.finished.connect(self.record.update_enabled)
        s.source_changed.connect(self.sources.on_source_changed)
        s.source_changed.connect(self.timeline.on_source_changed)
        s.plain_changed.connect(self.timeline.on_plain_changed)
        s.model_loading.connect(self.models.on_loading)
        s.model_ready.connect(self.models.on_ready)
        s.model_ready.connect(self.timeline.on_model_ready)
        s.model_failed.connect(self.models.on_failed)
        s.recording_changed.connect(self.record.on_recording_changed)
        s.recording_saving.connect(self.record.on_saving)
        s.recording_empty.connect(self.record.on_empty)
        s.opening.connect(lambda _spec: self.record.update_enabled())
        s.opened.connect(lambda _spec, _ok: self.record.update_enabled())
        s.opening.connect(self.sources.on_opening)
        s.opened.connect(self.sources.on_opened)
        s.source_failed.connect(self.sources.on_source_failed)
        s.models_listed.connect(self.models.on_listed)
        p.model.opening.connect(s.request_model_list)
        p.open_spec.connect(lambda spec: self.open(spec))
        p.open_file_clicked.connect(self.open_file_dialog)
        p.open_folder_clicked.connect(self.open_folder_dialog)
        p.open_url_clicked.connect(lambda: self.sources.ask("url"))
        p.open_demo_clicked.connect(self.sources.open_demo)
        self.cancel_button.clicked.connect(self.cancel_open)
        p.model_changed.connect(self.load_model)
        p.weights_file_clicked.connect(self.models.ask_weights_file)
        p.runtime.currentTextChanged.connect(lambda _text: self.models.runtime.start())
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

    def _start(self, source: str | None, loop: bool) -> None:
        self.view.setFocus()  # the keys (Space, R, S, F) work before any click
        self._push_overlay()
        self.push_localize()  # before the model loads: its first frame is made with them
        self.load_model(self.panel.model.currentText())
        self.sources.start(source, loop)
        self.session.request_model_list(urgent=False)  # the whole list, ready when the box opens
        if self.saved.message():  # the settings file edited by hand: said once the first open has ended
            self.opened.connect(self._say_bad_settings)  # (opening a source hides the banner)

    def _say_bad_settings(self, _spec: str = "", _ok: bool = True) -> None:
        """The settings file's values not used, in the banner (in the status bar
        when the banner already says why the source did not open)."""
        self.opened.disconnect(self._say_bad_settings)
        if self.banner.isVisible():
            self.status_line.say(self.saved.message(), 20000)
        else:
            self.show_error(self.saved.message())

    # -- sources (the Source box: ``sources_ui``) -------------------------------------------
    def open(self, spec: str, loop: bool = False, report: bool = True) -> None:
        """Open a camera index, URL, folder or file in the background; when it
        opens, a running recording is finalized and it replaces what plays. When
        it does not open, what was playing goes on. ``opened`` tells the end."""
        self.sources.open(spec, loop=loop, report=report)

    def cancel_open(self) -> None:
        self.sources.cancel()

    def escape(self) -> None:
        """Esc: leave full screen; else cancel an open in flight."""
        if self.isFullScreen():
            self.leave_full_screen()
        elif self.session.opening_spec is not None:
            self.cancel_open()

    def open_file_dialog(self) -> None:
        self.sources.ask("file")

    def open_folder_dialog(self) -> None:
        """A folder of images, played as a clip (sorted by name)."""
        self.sources.ask("folder")

    def refresh_cameras(self) -> None:
        """List the cameras again (the window does when it is activated: a camera
        plugged in meanwhile appears)."""
        self.sources.refresh_cameras()

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.refresh_cameras()
        super().changeEvent(event)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self.sources.accepts(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.sources.dropped(event)

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
    def _on_frame(self, shown) -> None:
        self.frames_shown += 1
        self.record.on_frame(shown)
        if self.session.source is None:  # the last recorded frame of what is stopping: counted, the view
            return  # keeps saying what opens
        if self.view.message:
            self.view.set_message("")
        self.models.on_frame()  # while the first model loads, a bar says why there is no heat map
        self.view.show_frame(shown)
        self.playback.on_frame(shown)
        self.timeline.on_frame(shown)
        self.sources.on_frame(shown)
        rank = self.panel.heatmap_rank
        self.panel.set_map_class(next((d.label for d in shown.result.detections if d.rank == rank), "")
                                 if rank > 1 else "")

    def _update_status(self) -> None:
        reopening = "reopening" if self.sources.reopening else None  # a live stream dropped: no stale fps
        self.playback.on_state(self.status_line.update(self.session, self.view, reopening or self.playback.state()))
        self.record.tick()

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        self.top_bars.show_error(message)
        self.status_line.say(f"error: {message}", 10000)

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
        ``NARROW_W`` (P brings it back) and the timeline below ``SHORT_H``; each
        comes back above."""
        super().resizeEvent(event)
        narrow, short = self.width() < NARROW_W, self.height() < SHORT_H
        if self.isFullScreen() or (narrow, short) == (self._narrow, self._short):
            return
        hid = []  # what this resize hid
        if narrow != self._narrow:
            self._narrow = narrow
            self.side.setVisible(not narrow)
            hid += ["panel"] if narrow else []
        if short != self._short:
            self._short = short
            self.timeline.widget.setVisible(not short)
            hid += ["timeline"] if short else []
        if hid:
            self.statusBar().showMessage(HID_MESSAGES[tuple(hid)], 5000)

    def leave_full_screen(self) -> None:
        """The window as it was: the panel and the timeline, unless its size hid them."""
        if self.isFullScreen():
            self.showNormal()
        self.side.setVisible(not self._narrow)
        self.timeline.widget.setVisible(not self._short)
        self.statusBar().show()

    def closeEvent(self, event) -> None:  # noqa: N802
        """Finalize a running recording and stop every thread before closing."""
        self._status_timer.stop()
        self.timeline.close()  # a scan's threads, before the session's
        self.arrow_keys.remove()
        self.button_keys.remove()
        self.panel.save(self.settings)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        self.session.close()
        event.accept()

