"""The main window's widgets, laid out: the video with its bars and timeline on the
left, the side panel (scrolling) on the right, the status bar's fields.

``build(window, timeline, model, runtime)`` makes them and sets them on the window as the
attributes its parts and the tests use (``view``, ``panel``, ``side``, ``top_bars``,
``banner``, ``error_label``, ``opening_bar`` …, ``status_line``, ``fps_label`` …);
what they do is wired by the window.
"""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker, Qt
from PyQt6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from camvideo import DEFAULT_MODEL  # without importing torch
from camvideo.qt.bars import TopBars, over
from camvideo.qt.dialogs import list_cameras
from camvideo.qt.panel import ControlPanel
from camvideo.qt.saved import SavedSettings
from camvideo.qt.status import StatusLine
from camvideo.qt.view import VideoView


def build(window, timeline: QWidget, model: str | None, runtime: str | None) -> None:
    """The window's widgets (``timeline``: the widget under the video); the panel as
    remembered in ``window.settings``, read checked (``window.saved``), with this run's
    ``model`` and ``runtime`` (``--runtime``) over the remembered ones. The model list
    holds the names known without torch: the built-in model, the remembered one and ``model``."""
    window.saved = saved = SavedSettings(window.settings)  # a value edited into garbage is named, not used
    models = list(dict.fromkeys(n for n in (DEFAULT_MODEL, saved.text("model"), model) if n))
    window.view = VideoView()
    window.view.set_message("Loading model…")
    window.panel = ControlPanel(models, list_cameras())
    window.panel.restore(window.saved)
    for combo, text in ((window.panel.model, model), (window.panel.runtime, runtime)):
        if text:
            with QSignalBlocker(combo):  # a choice made at start-up, not by the user: no load yet
                combo.setCurrentText(text)
    # The error banner and "Opening …" lie over the top of the video.
    window.top_bars = bars = TopBars()
    window.banner, window.error_label = bars.banner, bars.error_label
    window.opening_bar, window.opening_label = bars.opening_bar, bars.opening_label
    window.cancel_button = bars.cancel_button
    window.loading_bar, window.loading_label = bars.loading_bar, bars.loading_label
    bars.covering.connect(window.view.set_covered_top)  # the legend and labels keep below the banner
    left = QWidget()
    column = QVBoxLayout(left)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    column.addWidget(over(window.view, bars), 1)
    column.addWidget(timeline)
    window.side = side = QScrollArea()
    side.setWidget(window.panel)
    side.setWidgetResizable(True)
    side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    side.setMinimumWidth(window.panel.minimumSizeHint().width() + 24)
    central = QWidget()
    layout = QHBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(left, 1)
    layout.addWidget(side)
    window.setCentralWidget(central)
    window.status_line = line = StatusLine(window.statusBar())
    window.fps_label, window.latency_label = line.fps_label, line.latency_label
    window.device_label, window.dropped_label = line.device_label, line.dropped_label
