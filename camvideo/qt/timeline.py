"""The timeline strip under the video: what the model saw over the whole file.

``TimelineStrip`` draws, with QPainter, the scores of a few classes over the
file's time (one line each, in the class's colour: the colour of its boxes on
the video, ``camvideo.class_colours``; named in a legend above the plot), the
stretches where one chosen class is the top class (a gold band above the time
axis), the stretches that could not be decoded (hatched red; not analysed yet
is the plain background) and the position of the frame on screen, with its
time (a red line down the plot, never across the legend's row). A time axis runs along the bottom (round steps, "0:05", as wide apart as
the labels need: ``camvideo.app.timeline_axis``) and a score scale on the left
(0, 0.5, 1.0). A click seeks there (``seek_requested``); a click on a stretch
jumps to its start; the tooltip says what is under the pointer (a damaged
stretch: "frames 34-59 (1.1-2.0 s) could not be decoded"; else the time).

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
from PyQt6.QtCore import QEvent, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPixmap, QPolygonF
from PyQt6.QtWidgets import QSizePolicy, QToolTip, QWidget

from camvideo.app.position import clock
from camvideo.app.timeline_axis import SCORE_LEVELS, DamagedSpan, span_at, time_ticks
from camvideo.class_colours import PALETTE

HEIGHT = 110  # pixels: the strip's height
LEGEND = 16  # the legend's row above the lines
AXIS = 14  # the time axis's row along the bottom (tick labels, the position's time)
BAND = 8  # the top-1 stretches' band, above the time axis
PLOT_TOP = LEGEND + 4.0  # the score 1.0 line: the legend's row lies above it, the position line below
GUTTER = 24  # the score scale's labels, left of the lines
BACKGROUND = QColor(24, 24, 28)
GRID = QColor(70, 70, 78)
TICK_GRID = QColor(48, 48, 56)  # the time ticks' lines across the plot: fainter than the score lines
SCALE_TEXT = QColor(150, 150, 160)
POSITION = QColor(255, 70, 70)
STRETCH = QColor(255, 200, 0, 200)  # gold, translucent: the top-1 stretches' band
DAMAGE_FILL = QColor(80, 28, 28)  # could not be decoded: red hatch on dark red (not analysed: the background)
DAMAGE = QColor(235, 105, 80)
DAMAGE_WORDS = "could not be decoded"


def line_color(number: int) -> QColor:
    """The colour of the ``number``-th line (0-based) when ``set_data`` is given none:
    the palette's order."""
    b, g, r = PALETTE[number % len(PALETTE)]
    return QColor(r, g, b)


def bgr_color(bgr: tuple[int, int, int]) -> QColor:
    b, g, r = bgr
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
    """The strip; the controls (``timeline_ui``) give it lines, stretches, damage and the position."""

    seek_requested = pyqtSignal(float)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.duration = 0.0
        self.position: float | None = None
        self.lines: list[tuple[str, np.ndarray, np.ndarray]] = []  # (label, times, scores)
        self.colors: list[QColor] = []  # the lines' colours, in their order
        self.stretches: list[tuple[float, float]] = []
        self.damaged: list[DamagedSpan] = []  # stretches that could not be decoded
        self.note = ""  # said in the strip when there is nothing to draw (yet)
        self._cache: QPixmap | None = None
        self._tick_labels: list[QRectF] = []  # where the time axis's labels are drawn (in the cache)
        self.paints = 0  # paint events (each frame's position line)
        self.renders = 0  # the lines drawn again (the data changed)

    # -- data -------------------------------------------------------------------------------
    def set_data(self, duration: float, lines, stretches=(), note: str = "", damaged=(), colors=()) -> None:
        """``lines``: (label, times, scores) each; ``stretches``: (first, last) times;
        ``damaged``: ``DamagedSpan``s (``camvideo.app.timeline_axis``); ``colors``: a
        BGR colour per line (its class's; the palette's order where missing)."""
        self.duration = float(duration or 0.0)
        self.lines = list(lines)
        colors = list(colors)
        self.colors = [bgr_color(colors[n]) if n < len(colors) else line_color(n) for n in range(len(self.lines))]
        self.stretches = list(stretches)
        self.damaged = list(damaged)
        self.note = note
        self._cache = None
        self.update()

    def set_position(self, seconds: float | None) -> None:
        if seconds != self.position:
            self.position = seconds
            self.update()

    @property
    def plot_width(self) -> float:
        return max(1.0, self.width() - GUTTER - 2.0)

    def x_of(self, seconds: float) -> float:
        return GUTTER if self.duration <= 0 else GUTTER + seconds / self.duration * self.plot_width

    def time_at(self, x: float) -> float:
        return min(max((x - GUTTER) / self.plot_width, 0.0), 1.0) * self.duration

    def band_y(self) -> float:
        """The top of the stretches' band (it is ``BAND`` pixels high)."""
        return self.height() - AXIS - BAND

    def stretch_at(self, x: float) -> tuple[float, float] | None:
        """The stretch under ``x`` (a few pixels' slack: a one-frame stretch is thin)."""
        for first, last in self.stretches:
            if self.x_of(first) - 3 <= x <= self.x_of(last) + 3:
                return first, last
        return None

    def tooltip_at(self, x: float, y: float) -> str:
        """What the strip says under (x, y): a stretch that could not be decoded, a
        stretch where the class is on top, or the time there."""
        if self.duration <= 0:
            return "what the model saw: class scores over the file"
        slack = 3 * self.duration / self.plot_width
        damaged = span_at(self.damaged, self.time_at(x), slack) if y < self.height() - AXIS else None
        if damaged is not None:
            return damaged.text
        stretch = self.stretch_at(x) if self.band_y() - 6 <= y < self.height() - AXIS else None
        if stretch is not None and self.lines:
            return (f"{self.lines[0][0]} is the top class {clock(stretch[0], 1)}-{clock(stretch[1], 1)} "
                    "(click to go to its start)")
        return f"{clock(self.time_at(x), 1)}: what the model saw here (click to go there)"

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            QToolTip.showText(event.globalPos(), self.tooltip_at(event.pos().x(), event.pos().y()), self)
            return True
        return super().event(event)

    # -- painting -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        self._cache = None
        super().resizeEvent(event)

    def _small_font(self, size: float) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(size)
        return font

    def _render(self) -> QPixmap:
        self.renders += 1
        pixmap = QPixmap(self.size() * self.devicePixelRatioF())
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        pixmap.fill(BACKGROUND)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            top, bottom = PLOT_TOP, self.band_y() - 3.0
            self._draw_time_axis(painter, top)
            self._draw_damage(painter, top)
            self._draw_score_scale(painter, top, bottom)
            band = self.band_y()
            for first, last in self.stretches:
                x0, x1 = self.x_of(first), self.x_of(last)
                width = max(2.0, x1 - x0 + self.plot_width / max(1.0, self.duration * 30))
                painter.fillRect(QRectF(x0, band, width, BAND - 1), STRETCH)
            self._draw_lines(painter, top, bottom)
            self._draw_legend(painter)
        finally:
            painter.end()
        return pixmap

    def _draw_time_axis(self, painter: QPainter, top: float) -> None:
        """Ticks at round times across the plot, labelled along the bottom row."""
        painter.setFont(self._small_font(7.5))
        metrics = painter.fontMetrics()
        w, h = self.width(), self.height()
        shown_to = -1.0  # the right edge of the last label drawn: labels never overlap
        self._tick_labels = []
        for tick in time_ticks(self.duration, self.plot_width, metrics.horizontalAdvance("0:00.0") + 18):
            x = self.x_of(tick.seconds)
            painter.setPen(QPen(TICK_GRID, 1))
            painter.drawLine(QPointF(x, top), QPointF(x, h - AXIS + 3))
            width = metrics.horizontalAdvance(tick.label)
            left = min(max(x - width / 2, 0.0), w - width - 1.0)
            if left > shown_to + 4:
                rect = QRectF(left, h - AXIS + 1, width + 1, AXIS - 1)
                painter.setPen(SCALE_TEXT)
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, tick.label)
                self._tick_labels.append(rect)
                shown_to = left + width

    def _draw_score_scale(self, painter: QPainter, top: float, bottom: float) -> None:
        """The score lines (1.0 and 0.5 dotted, 0 solid), labelled in the gutter."""
        metrics = painter.fontMetrics()
        for level, label in SCORE_LEVELS:
            y = bottom - level * (bottom - top)
            painter.setPen(QPen(GRID, 1, Qt.PenStyle.DotLine if level else Qt.PenStyle.SolidLine))
            painter.drawLine(QPointF(GUTTER, y), QPointF(self.width(), y))
            painter.setPen(SCALE_TEXT)
            painter.drawText(QRectF(0, y - metrics.height() / 2, GUTTER - 4, metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)

    def _draw_damage(self, painter: QPainter, top: float) -> None:
        """Stretches that could not be decoded: hatched from the plot's top to the band's foot."""
        for span in self.damaged:
            x0 = self.x_of(span.start)
            rect = QRectF(x0, top - 2, max(3.0, self.x_of(span.end) - x0), self.height() - AXIS - top + 1)
            painter.fillRect(rect, DAMAGE_FILL)
            painter.fillRect(rect, QBrush(DAMAGE, Qt.BrushStyle.BDiagPattern))

    def _draw_lines(self, painter: QPainter, top: float, bottom: float) -> None:
        width = int(self.plot_width)
        for number, (_label, times, scores) in enumerate(self.lines):
            # a 1-pixel pen: Qt's raster stroker takes ~100x longer for a wider
            # antialiased line (1000 jagged points: 1.2 ms at 1 px, 130 ms at 1.5 px)
            painter.setPen(QPen(self.colors[number], 1.0))
            join = join_columns(times, self.duration, width)
            for xs, ys in _runs(columns(times, scores, self.duration, width), join):
                xs, ys = xs + GUTTER, bottom - ys * (bottom - top)
                if len(xs) == 1:  # a lone column still shows
                    xs, ys = np.array([xs[0], xs[0] + 1.0]), np.repeat(ys, 2)
                painter.drawPolyline(polygon(xs, ys))

    def _draw_legend(self, painter: QPainter) -> None:
        """The lines' names, then (when there is damage) the hatch's meaning; the note on the right."""
        painter.setFont(self._small_font(8.5))
        metrics = painter.fontMetrics()
        x = GUTTER + 2.0
        for number, (label, _t, _s) in enumerate(self.lines):
            painter.setPen(self.colors[number])
            painter.drawText(QPointF(x, 13), label)
            x += metrics.horizontalAdvance(label) + 14
        note_left = self.width() - 6 - (metrics.horizontalAdvance(self.note) if self.note else 0)
        if self.damaged and x + 14 + metrics.horizontalAdvance(DAMAGE_WORDS) < note_left - 10:
            swatch = QRectF(x, 4, 10, 10)
            painter.fillRect(swatch, DAMAGE_FILL)
            painter.fillRect(swatch, QBrush(DAMAGE, Qt.BrushStyle.BDiagPattern))
            painter.setPen(DAMAGE)
            painter.drawText(QPointF(x + 14, 13), DAMAGE_WORDS)
        if self.note:
            painter.setPen(QColor(190, 190, 190))
            painter.drawText(QRectF(0, 0, self.width() - 6, LEGEND + 2),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, self.note)

    def paintEvent(self, event) -> None:  # noqa: N802
        if self._cache is None or self._cache.size() != self.size() * self.devicePixelRatioF():
            self._cache = self._render()
        painter = QPainter(self)
        try:
            painter.drawPixmap(0, 0, self._cache)
            if self.position is not None and self.duration > 0:
                self._draw_position(painter, min(self.position, self.duration))
        finally:
            painter.end()
        self.paints += 1

    def _draw_position(self, painter: QPainter, seconds: float) -> None:
        """The frame on screen: a line from the plot's top (under the legend's row:
        it never hides a name) down to the axis, its time in the axis row."""
        x, h = self.x_of(seconds), self.height()
        painter.setPen(QPen(POSITION, 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))  # no cap into the legend
        painter.drawLine(QPointF(x, PLOT_TOP - 2), QPointF(x, h - AXIS))
        painter.setFont(self._small_font(7.5))
        label = clock(seconds, 1)
        width = painter.fontMetrics().horizontalAdvance(label) + 6
        box = QRectF(min(max(x - width / 2, 0.0), self.width() - width), h - AXIS, width, AXIS)
        for rect in self._tick_labels:  # a tick label it would half cover is left out, not cut
            if rect.intersects(box):
                painter.fillRect(rect, BACKGROUND)
        painter.fillRect(box, POSITION)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton or self.duration <= 0:
            return super().mousePressEvent(event)
        x, y = event.position().x(), event.position().y()
        stretch = self.stretch_at(x) if self.band_y() - 6 <= y < self.height() - AXIS else None
        self.seek_requested.emit(stretch[0] if stretch is not None else self.time_at(x))
