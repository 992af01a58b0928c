"""The status bar's fields, and the short texts the window shows (the source).

``StatusLine`` keeps four permanent fields right in the status bar: what the
stream does (``31.2 fps``, or ``paused``, ``ended``, ``loading model`` …: never a
stale rate), the latency from capture to screen, the device the model runs on
(hidden until a model is ready) and the frames dropped for the source on screen. The window refreshes it four
times a second.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QStatusBar

from camvideo.errors import redact
from camvideo.video.spec import SourceSpec

FIELDS = (
    ("fps_label", "frames painted per second, or what the stream does (paused, ended…)"),
    ("latency_label", "capture to screen: mean of the last 60 frames"),
    ("device_label", "where the model runs"),
    ("dropped_label", "frames skipped: the model or the screen was slower than the source"),
)


class StatusLine:
    """The permanent fields of ``bar`` (its messages stay the window's)."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        for name, tip in FIELDS:
            label = QLabel()
            label.setToolTip(tip)
            label.setStyleSheet("QLabel { padding: 0 6px; border-left: 1px solid palette(mid); }")
            bar.addPermanentWidget(label)
            setattr(self, name, label)
        self.device_label.hide()  # no empty bordered field: it shows once a model is ready
        self.skipped_before = 0  # the view's skipped frames before the source on screen

    def say(self, text: str, ms: int = 0) -> None:
        """``text`` in the bar's message area, cut to its room (``say``)."""
        say(self.bar, text, ms)

    @staticmethod
    def state(session, view) -> str:
        """What the stream does, in a word or two; ``… fps`` while it plays."""
        player = session.player  # the pipeline, or the preview while the model loads
        if session.source is None:
            return "opening" if session.opening_spec is not None else "no source"
        if player is not None and player.finished:
            return "source failed" if session.source_dead else "model failed" if session.model_dead else "ended"
        if session.paused:
            return "paused"
        if session.model is None:
            return "loading model"
        return f"{view.fps:.1f} fps" if view.fps else "– fps"  # until two frames are painted

    def dropped(self, session, view) -> int:
        """Frames dropped for the source on screen since the model runs on it
        (``Session.dropped``), and the frames of the source the view replaced
        before painting them; 0 while the preview plays it without a model."""
        if session.pipeline is None:
            return 0
        return session.dropped + view.skipped - self.skipped_before

    def set_device(self, device: str) -> None:
        """The device the model runs on; the field is hidden while there is none."""
        self.device_label.setText(device)
        self.device_label.setVisible(bool(device))

    def new_source(self, session, view) -> None:
        """From now on "dropped" counts the new source's frames."""
        self.skipped_before = view.skipped

    def update(self, session, view, state: str | None = None) -> str:
        """Refresh the fields (``state``: what to say instead, e.g. a slideshow's);
        returns the state shown."""
        state = state or self.state(session, view)
        self.fps_label.setText(state)
        latency = view.latency_ms
        self.latency_label.setText(f"latency {latency:.0f} ms" if state.endswith("fps") and latency else "latency –")
        self.dropped_label.setText(f"dropped {self.dropped(session, view)}")
        return state


def say(bar: QStatusBar, text: str, ms: int = 0, *, middle: bool = False) -> None:
    """Show ``text`` in ``bar`` for ``ms`` (0: until replaced), cut with "…" (at its end,
    or in the ``middle`` for a path) to the room the permanent fields leave: a message
    the bar clipped stopped mid-word with nothing to say it went on."""
    room = bar.width() - sum(w.width() + 8 for w in bar.findChildren(QLabel) if w.isVisible()) - 24
    mode = Qt.TextElideMode.ElideMiddle if middle else Qt.TextElideMode.ElideRight
    bar.showMessage(bar.fontMetrics().elidedText(text, mode, max(room, 80)), ms)


def short(spec: str, limit: int = 60) -> str:
    """A source for a one-line message: a path by its name, a long URL cut in the
    middle and without its password (``redact``)."""
    spec = redact(spec)
    parsed = SourceSpec.parse(spec, probe=False)  # no filesystem look-up on the GUI thread
    if parsed.kind == "camera":
        spec = f"camera {parsed.text}"
    elif parsed.kind not in ("stream", "url"):
        spec = Path(spec).name or spec
    return spec if len(spec) <= limit else spec[: limit // 2 - 1] + "…" + spec[-(limit // 2 - 1):]
