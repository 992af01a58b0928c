"""The Source box's behaviour: opening a camera, file, folder, URL or the demo clip,
and what the window shows while one opens, when it opened, failed or ended.

Sources open in the background (``opener``): while one opens, what was playing
goes on, a bar over the top of the video says "Opening …" and offers Cancel (or
Esc); with nothing on screen the middle of the view says it and the bar holds only
Cancel (the status field says "opening"); a newer open supersedes it. A stream that failed to open offers "open … again"
(its URL kept, without a password), and so does a live source that failed while it played
(Retry on the banner; the status field says "source failed"); a model that fails on its frames does not
(the banner says what failed in the model; the status field says "model failed"). With no source asked for, the window opens
camera 0 when there is one, else the demo clip. ``opened(spec, ok)`` (the window's
``opened`` too) says when an open ended, after the window has shown the outcome.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.app.position import end_text
from camvideo.app.sources import url_to_keep
from camvideo.app.wording import window_text
from camvideo.errors import CamvideoError
from camvideo.qt import dialogs
from camvideo.qt.status import say, short
from camvideo.video.spec import SourceSpec

REOPENING = "; reopening"  # how a live source's warning that it dropped ends (``camvideo.video.live``)

# What the status bar says when the window starts on the demo clip for want of a camera.
NO_CAMERA_HINT = "No camera found: the demo clip plays. Yours: File… (Ctrl+O), Images…, URL…, or drop a video here"


class SourceControls(QObject):
    """Sources for ``window`` (its session, panel, view, bars and status bar)."""

    opened = pyqtSignal(str, bool)  # spec, ok: an open ended (False: failed or cancelled), window updated

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.demo_if_no_camera = False  # start-up: camera 0 failed to open -> the demo clip
        # the status bar's line once the source in flight is on screen (on_source_changed clears the bar):
        # why the demo clip plays at start-up, or which of several dropped files opened
        self.note: str | None = None
        self._reopening: tuple[str, float] | None = None  # a live stream's "reopening" warning, and when it came
        self._errors_at_open = 0  # errors before the open in flight began (a failed open adds one)

    def start(self, source: str | None, loop: bool) -> None:
        """The first source: ``source``; else camera 0 when one opens, else the demo clip
        (on Linux, no /dev/video* means no camera: the slow probe is skipped)."""
        if source is not None:
            self.open(source, loop=loop)
        elif dialogs.list_cameras():
            self.open("0", report=False)
            self.demo_if_no_camera = True  # set after open: it clears the flag
        else:
            self.open_demo()
            self.note = NO_CAMERA_HINT

    def open(self, spec: str, loop: bool = False, report: bool = True) -> None:
        self.demo_if_no_camera, self.note = False, None
        self.window.session.open(spec, loop=loop, report=report)

    def open_demo(self) -> None:
        try:
            self.open(str(dialogs.demo_clip()), loop=True)
        except CamvideoError as exc:
            self.window.show_error(window_text(exc))

    def cancel(self) -> None:
        """Stop opening (what plays goes on); the late result is closed unseen."""
        self.demo_if_no_camera = False
        spec = self.window.session.cancel_open()
        if spec is not None:
            self.window.statusBar().showMessage(f"cancelled opening {spec}", 5000)

    def ask(self, kind: str) -> None:
        """Open what the ``kind`` dialog ("file", "folder", "url") returns, if anything."""
        w = self.window
        asked = {"file": dialogs.ask_file, "folder": dialogs.ask_folder, "url": dialogs.ask_url}[kind]
        spec = asked(w, w.settings)
        if spec:
            self.open(spec)

    @staticmethod
    def accepts(event) -> bool:
        """A drag that brings a local file or folder."""
        mime = event.mimeData()
        return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    def dropped(self, event) -> None:
        """A file or folder dropped on the window opens."""
        path = dialogs.dropped_path(event.mimeData(), self.window.settings)
        if path:
            event.acceptProposedAction()
            self.open(path)
            count = sum(u.isLocalFile() for u in event.mimeData().urls())
            if count > 1:  # one source at a time: say which, and how to show many images
                self.note = f"{count} files dropped: {Path(path).name} opened (drop a folder for a slideshow)"

    def refresh_cameras(self) -> None:
        self.window.panel.set_cameras(dialogs.list_cameras())

    def on_opening(self, spec: str) -> None:
        w = self.window
        self._errors_at_open = len(w.errors)
        shown = short(spec)
        w.statusBar().clearMessage()  # the status field says "opening"; the bar or the view says what
        if w.session.source is None:  # nothing on screen (a camera stops the old source first)
            w.top_bars.show_opening("", spec)  # the bar holds Cancel; the view's middle names the source
            self.show_no_source()
            w.view.set_message(f"Opening {shown}…")
        else:
            w.top_bars.show_opening(f"Opening {shown}…  (what plays goes on until it opens)", spec)

    def on_opened(self, spec: str, ok: bool) -> None:
        w = self.window
        if w.session.opening_spec is None:
            w.opening_bar.hide()
        if SourceSpec.parse(spec, probe=False).kind == "stream":
            if ok:
                w.settings.setValue("last_url", url_to_keep(spec))  # Open URL… offers it (no password)
            elif w.session.opening_spec is None and len(w.errors) > self._errors_at_open:  # failed, not cancelled
                w.top_bars.offer_retry(f"open {short(spec)} again", lambda: self.open(spec))
        if not ok:
            if w.session.source is None and w.session.opening_spec is None:
                if self.demo_if_no_camera:
                    self.open_demo()  # start-up: no camera 0 here, the demo clip instead
                    self.note = NO_CAMERA_HINT
                else:
                    self.show_no_source()
        if not ok and w.session.opening_spec is None:
            self.note = None  # it was about the source that did not open
        self.opened.emit(spec, ok)

    def on_source_failed(self, spec: str) -> None:
        """A live source failed while it played (a camera unplugged): nothing reads on
        from it; the banner's message (already shown) gets Retry, which opens it again."""
        self.window.top_bars.offer_retry(f"open {short(spec)} again", lambda: self.open(spec))

    def show_no_source(self) -> None:
        w = self.window
        w.view.clear()
        w.view.set_message("No source: open a camera, a file or a URL")
        w.panel.source_label.setText("no source")
        w.setWindowTitle("camvideo")
        w.playback.no_source()
        w.timeline.no_source()

    def on_source_changed(self, name: str, live: bool) -> None:
        w = self.window
        w.view.clear()
        w.view.set_message("" if w.session.model is not None else f"Loading model {w.panel.model.currentText()}…")
        w.statusBar().clearMessage()  # an error about the last source is old news
        w.status_line.new_source(w.session, w.view)  # "dropped" counts this source's frames
        w.panel.reset_heatmap_rank()  # the top class's map: a rank chosen for the old source means nothing here
        # a file by its name (the whole path in the tooltip): a long path wraps the panel
        w.panel.source_label.setText(f"live: {name}" if live else Path(name).name or name)
        w.panel.source_label.setToolTip(name)
        w.setWindowTitle(f"camvideo: {Path(name).name if not live else short(name)}")
        w.playback.new_source(live)
        w.banner.hide()
        self._reopening = None
        if self.note:  # a new user's first seconds (why the demo clip), or which dropped file
            say(w.statusBar(), self.note, 20000)
            self.note = None

    def on_warned(self, message: str) -> None:
        """The core's warning about the source on screen (it may come just before or
        just after the end: the reader and the pipeline are two threads); a live
        stream's "reopening", once an outage (each failed attempt says it again)."""
        w = self.window
        if self._reopening is not None and self._reopening[0] == message:
            return  # the same outage, tried again: told already (or hidden with ×)
        w.errors.append(message)
        w.top_bars.show_error(message)
        if w.session.live and message.endswith(REOPENING):  # the banner goes when frames come again
            self._reopening = (message, time.monotonic())
        player = w.session.player
        ended = player is not None and player.finished
        say(w.statusBar(), self.end_text() if ended else f"warning: {message}", 8000)

    @property
    def reopening(self) -> bool:
        """A live stream dropped and no frame has come since (the status field says "reopening")."""
        return self._reopening is not None

    def on_frame(self, shown) -> None:
        """A frame read after a live stream was reopened: its "reopening" banner (the
        stream dropped) is old news; the status bar says it is back."""
        if self._reopening is None or shown.captured <= self._reopening[1]:
            return
        message, self._reopening = self._reopening[0], None
        w = self.window
        if w.banner.isVisible() and w.error_label.text() == message:
            w.banner.hide()
            say(w.statusBar(), f"{short(w.session.source_spec or '')}: the stream is back", 5000)

    def end_text(self) -> str:
        """What the status bar says at the end of the file (``end_text``)."""
        s = self.window.session
        shown, info = s.last_shown, s.source.info if s.source is not None else None
        return end_text(bool(s.source_warnings), shown.index if shown is not None else None,
                        info.frame_count if info is not None else None)

    def on_finished(self) -> None:
        w = self.window
        player = w.session.player
        if player is not None and player.error is None:
            damaged = w.session.source_warnings
            w.statusBar().showMessage(self.end_text(), 8000 if damaged else 5000)
            if damaged:
                w.top_bars.show_error(damaged[-1])  # again, in case it was closed
        w.playback.on_finished()

