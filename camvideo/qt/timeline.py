"""The timeline strip under the video: what the model saw over the whole file.

``TimelineStrip`` draws, with QPainter, the scores of a few classes over the
file's time (one line each, in the rank colours, named in a legend), the
stretches where one chosen class is the top class (bands along the bottom) and
the position of the frame on screen. A click seeks there (``seek_requested``);
a click on a stretch jumps to its start.

Why QPainter and not pyqtgraph: both were measured on this machine (docs/app.md,
"the timeline"); QPainter needs no package and no import time, and the strip
draws its lines once per data change into a cached pixmap, so a frame costs a
pixmap blit and one line.

Lines are drawn per pixel column (the highest score of the frames that fall in
it): a ten-minute file costs as much as a ten-second one; columns without an
analysed frame stay empty, so the strip fills in as frames are analysed.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPen, QPixmap, QPolygonF
from PyQt6.QtWidgets import QSizePolicy, QWidget

from camvideo.annotate import rank_color

HEIGHT = 96  # pixels: the strip's height
LEGEND = 16  # the legend's row above the lines
BAND = 8  # the top-1 stretches' band along the bottom
BACKGROUND = QColor(24, 24, 28)
GRID = QColor(70, 70, 78)
POSITION = QColor(255, 70, 70)
STRETCH = QColor(255, 200, 0, 200)  # gold: rank 1's colour is white (the line above it)


def line_color(number: int) -> QColor:
    """The colour of the ``number``-th line (0-based): the rank colours' order."""
    b, g, r = rank_color(number + 1)
    return QColor(r, g, b)


def columns(times: np.ndarray, scores: np.ndarray, duration: float, width: int) -> np.ndarray:
    """The highest score per pixel column (NaN where no frame falls)."""
    out = np.full(max(1, width), np.nan, np.float32)
    if len(times) == 0 or duration <= 0:
        return out
    cols = np.clip((np.asarray(times) / duration * width).astype(np.int64), 0, len(out) - 1)
    best = np.full(len(out), -1.0, np.float32)
    np.maximum.at(best, cols, np.asarray(scores, np.float32))
    present = best >= 0
    out[present] = best[present]
    return out


def polygon(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
    """A QPolygonF filled from two arrays through its buffer (a QPointF each costs ~5 µs)."""
    poly = QPolygonF()
    poly.resize(len(xs))
    buffer = poly.data()
    buffer.setsize(16 * len(xs))  # two doubles a point
    points = np.frombuffer(buffer, dtype=np.float64).reshape(len(xs), 2)
    points[:, 0], points[:, 1] = xs, ys
    return poly


def _runs(cols: np.ndarray, join: int = 1):
    """(x, score) arrays of each run of columns with a score (x at the column's
    middle); columns up to ``join`` apart belong to one run (a file with fewer
    frames than the strip has pixels fills every other column)."""
    index = np.flatnonzero(~np.isnan(cols))
    if len(index) == 0:
        return
    for run in np.split(index, np.flatnonzero(np.diff(index) > join) + 1):
        yield run + 0.5, cols[run].astype(np.float64)


def join_columns(times: np.ndarray, duration: float, width: int) -> int:
    """How many columns apart two analysed frames in a row may lie: 2.5 frame
    intervals (a frame dropped on screen is no gap; a stretch not analysed is)."""
    if len(times) < 2 or duration <= 0:
        return 1
    return max(1, int(np.ceil(2.5 * float(np.median(np.diff(times))) / duration * width)))


class TimelineStrip(QWidget):
    """The strip; the controls (``timeline_ui``) give it lines, stretches and the position."""

    seek_requested = pyqtSignal(float)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("what the model saw: class scores over the file (click to go there)")
        self.duration = 0.0
        self.position: float | None = None
        self.lines: list[tuple[str, np.ndarray, np.ndarray]] = []  # (label, times, scores)
        self.stretches: list[tuple[float, float]] = []
        self.note = ""  # said in the strip when there is nothing to draw (yet)
        self._cache: QPixmap | None = None
        self.paints = 0  # paint events (each frame's position line)
        self.renders = 0  # the lines drawn again (the data changed)

    # -- data -------------------------------------------------------------------------------
    def set_data(self, duration: float, lines, stretches=(), note: str = "") -> None:
        """``lines``: (label, times, scores) each; ``stretches``: (first, last) times."""
        self.duration = float(duration or 0.0)
        self.lines = list(lines)
        self.stretches = list(stretches)
        self.note = note
        self._cache = None
        self.update()

    def set_position(self, seconds: float | None) -> None:
        if seconds != self.position:
            self.position = seconds
            self.update()

    def x_of(self, seconds: float) -> float:
        return 0.0 if self.duration <= 0 else seconds / self.duration * self.width()

    def time_at(self, x: float) -> float:
        return min(max(x / max(1, self.width()), 0.0), 1.0) * self.duration

    def stretch_at(self, x: float) -> tuple[float, float] | None:
        """The stretch under ``x`` (a few pixels' slack: a one-frame stretch is thin)."""
        for first, last in self.stretches:
            if self.x_of(first) - 3 <= x <= self.x_of(last) + 3:
                return first, last
        return None

    # -- painting -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        self._cache = None
        super().resizeEvent(event)

    def _render(self) -> QPixmap:
        self.renders += 1
        pixmap = QPixmap(self.size() * self.devicePixelRatioF())
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        pixmap.fill(BACKGROUND)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            w, h = self.width(), self.height()
            top, bottom = LEGEND + 2.0, h - BAND - 3.0
            painter.setPen(QPen(GRID, 1, Qt.PenStyle.DotLine))
            for level in (0.5, 1.0):
                y = bottom - level * (bottom - top)
                painter.drawLine(QPointF(0, y), QPointF(w, y))
            for first, last in self.stretches:
                x0, x1 = self.x_of(first), self.x_of(last)
                painter.fillRect(QRectF(x0, h - BAND, max(2.0, x1 - x0 + w / max(1.0, self.duration * 30)), BAND - 1),
                                 STRETCH)
            for number, (_label, times, scores) in enumerate(self.lines):
                # a 1-pixel pen: Qt's raster stroker takes ~100x longer for a wider
                # antialiased line (1000 jagged points: 1.2 ms at 1 px, 130 ms at 1.5 px)
                painter.setPen(QPen(line_color(number), 1.0))
                join = join_columns(times, self.duration, w)
                for run in _runs(columns(times, scores, self.duration, w), join):
                    xs, ys = run
                    ys = bottom - ys * (bottom - top)
                    if len(xs) == 1:  # a lone column still shows
                        xs, ys = np.array([xs[0], xs[0] + 1.0]), np.repeat(ys, 2)
                    painter.drawPolyline(polygon(xs, ys))
            font = QFont(self.font())
            font.setPointSizeF(8.5)
            painter.setFont(font)
            x = 6.0
            for number, (label, _t, _s) in enumerate(self.lines):
                painter.setPen(line_color(number))
                painter.drawText(QPointF(x, 13), label)
                x += painter.fontMetrics().horizontalAdvance(label) + 14
            if self.note:
                painter.setPen(QColor(190, 190, 190))
                painter.drawText(QRectF(0, 0, w - 6, h - BAND), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                                 self.note)
        finally:
            painter.end()
        return pixmap

    def paintEvent(self, event) -> None:  # noqa: N802
        if self._cache is None or self._cache.size() != self.size() * self.devicePixelRatioF():
            self._cache = self._render()
        painter = QPainter(self)
        try:
            painter.drawPixmap(0, 0, self._cache)
            if self.position is not None and self.duration > 0:
                x = self.x_of(min(self.position, self.duration))
                painter.setPen(QPen(POSITION, 2))
                painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        finally:
            painter.end()
        self.paints += 1

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton or self.duration <= 0:
            return super().mousePressEvent(event)
        x = event.position().x()
        stretch = self.stretch_at(x) if event.position().y() >= self.height() - BAND - 6 else None
        self.seek_requested.emit(stretch[0] if stretch is not None else self.time_at(x))
