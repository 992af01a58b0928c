"""The video view: fills its space, keeps the aspect ratio, paints the newest frame.

``show_frame`` only stores the frame and asks for a repaint; when several frames
arrive before Qt paints, the older ones are skipped (counted in ``skipped``), never
queued. The paint records how long each painted frame took from capture to screen.
Labels are painted here, over the scaled frame, at screen resolution (see
``labels``): the frame itself carries heat map and boxes only. A click on a
label asks for its class's heat map (``tag_clicked``); the tag of the class whose
map is shown is marked.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from camvideo.app.shown import ShownFrame
from camvideo.class_colours import result_colors
from camvideo.qt.labels import Tag, label_font, layout_tags, marked_rank, paint_tags
from camvideo.qt.legend import Legend, legend_font, legend_for, legend_rect, paint_legend
from camvideo.settings import OverlaySettings  # numpy + cv2, no torch

RATE_WINDOW_S = 2.0  # fps: paints of the last 2 s
RATE_MIN_S = 0.5  # ... shown once there is half a second to count
RATE_KEEP = 512  # paint times kept: more than 2 s of any real rate

if TYPE_CHECKING:  # the core (numpy, cv2) loads in the background: see session
    pass


class VideoView(QWidget):
    """Paints the newest ShownFrame scaled to fit, letterboxed, on black.

    A click takes the keyboard focus (so Space, R, S, F reach the window again
    after typing in a field of the panel); a click on a label emits
    ``tag_clicked(rank)``; a double click elsewhere asks for full screen.
    """

    double_clicked = pyqtSignal()
    tag_clicked = pyqtSignal(int)  # the rank of the label clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.current: ShownFrame | None = None
        self._pending = False
        self.message = ""  # shown over the picture: "Loading model ...", "No source"
        self.painted = 0  # frames painted (each frame counted once)
        self.skipped = 0  # frames replaced before they were painted
        self.latencies_ms: deque[float] = deque(maxlen=60)
        self.paint_times: deque[float] = deque(maxlen=RATE_KEEP)
        self._rate_since = time.monotonic()  # fps counts paints from here (a resume, a new source)
        self.show_labels = True  # paint the detections' labels over the frame
        self.overlay = OverlaySettings()  # which heat map the frames carry: marks its tag
        self.setMouseTracking(True)  # a pointing hand over the labels
        self.map_scale = "minmax"  # how the maps are scaled (IntensitySettings.scale), for the legend
        self.map_gate: float | None = None  # the confidence gate (a class under it gets no map)
        self.legend_box = QRectF()  # where the legend was last painted (empty: none)
        self.covered_top = 0.0  # the view's top this many pixels down lies under the window's bars (the banner)
        self.colors = result_colors  # the tags' colours: their classes' (camvideo.class_colours), as on the boxes

    def set_covered_top(self, height: float) -> None:
        """The bars over the view's top (the error banner, "Opening …") now cover
        ``height`` pixels of it: the legend and the labels keep below them."""
        if height != self.covered_top:
            self.covered_top = float(height)
            self.update()

    def set_labels(self, on: bool) -> None:
        """Labels on or off; takes effect at once (also on a paused frame)."""
        self.show_labels = bool(on)
        self.update()

    def set_overlay(self, settings: OverlaySettings) -> None:
        """The overlay the frames are annotated with: labels on or off (at once)
        and whose heat map is shown (its tag is marked)."""
        self.overlay = settings
        self.set_labels(settings.labels)

    def marked_rank(self) -> int | None:
        """The rank whose tag is marked (its map is shown); None: no choice to show."""
        return None if self.current is None else marked_rank(self.overlay, self.current.result)

    def label_tags(self) -> list[Tag]:
        """The tags the next paint draws (view coordinates); [] when labels are off."""
        if self.current is None or not self.show_labels:
            return []
        image, legend = self.current.image, self.legend()
        avoid = [] if legend is None else [legend_rect(legend, self.image_rect(), legend_font(self.font()),
                                                       self.boxes_in_view(), QRectF(self.rect()), self.covered_top)]
        if self.covered_top > 0:  # under the banner a label cannot be read
            avoid.append(QRectF(0.0, 0.0, float(self.width()), self.covered_top))
        return layout_tags(self.current.result, self.image_rect(), (image.width(), image.height()),
                           label_font(self.font()), self.marked_rank(), avoid, self.colors)

    def boxes_in_view(self) -> list[tuple[float, float, float, float]]:
        """The boxes of the frame on screen, in view coordinates (where the legend keeps off)."""
        if self.current is None or self.current.image.width() <= 0 or self.current.image.height() <= 0:
            return []
        rect = self.image_rect()
        sx, sy = rect.width() / self.current.image.width(), rect.height() / self.current.image.height()
        return [(rect.left() + x1 * sx, rect.top() + y1 * sy, rect.left() + x2 * sx, rect.top() + y2 * sy)
                for x1, y1, x2, y2 in (d.box for d in self.current.result.detections if d.box is not None)]

    def legend(self) -> Legend | None:
        """What the heat map's legend says for the frame on screen (None: no map
        shown, or labels off: the legend is the heat map's label, and "Labels" off
        leaves a clean picture)."""
        if self.current is None or not self.show_labels:
            return None
        return legend_for(self.overlay, self.current.result, self.map_scale, self.map_gate)

    def tag_at(self, x: float, y: float) -> Tag | None:
        """The label under view point (x, y), if any (the one painted last on top)."""
        return next((t for t in reversed(self.label_tags()) if t.rect.contains(x, y)), None)

    def show_frame(self, shown: ShownFrame) -> None:
        if self._pending:
            self.skipped += 1
        self.current = shown
        self._pending = True
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def clear(self) -> None:
        self.current = None
        self._pending = False
        self.restart_rate()
        self.update()

    def restart_rate(self) -> None:
        """Count the rate afresh from now (after a pause: the pause is no slow frame)."""
        self.paint_times.clear()
        self._rate_since = time.monotonic()

    @property
    def fps(self) -> float:
        """Frames painted per second: the paints of the last ``RATE_WINDOW_S`` seconds
        (or since ``restart_rate``) over that time; 0 until ``RATE_MIN_S`` have passed.
        Counting over a fixed time (not between the first and last of N paints) keeps
        a file's 30 fps at 30, not 32 after a hiccup, and a resume at "–", not 0.5."""
        now = time.monotonic()
        window = min(RATE_WINDOW_S, now - self._rate_since)
        if window < RATE_MIN_S:
            return 0.0
        return sum(1 for t in self.paint_times if t > now - window) / window

    @property
    def latency_ms(self) -> float:
        """Mean capture -> paint time of the last 60 painted frames."""
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else 0.0

    def image_rect(self) -> QRectF:
        """Where the frame lands in the widget: as large as fits, centred."""
        if self.current is None:
            return QRectF()
        iw, ih = self.current.image.width(), self.current.image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        tag = self.tag_at(event.position().x(), event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and tag is not None:
            self.tag_clicked.emit(tag.rank)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        on_tag = self.tag_at(event.position().x(), event.position().y()) is not None
        if on_tag:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip("click: show this class's heat map (click it again: the top class's)")
        else:
            self.unsetCursor()
            self.setToolTip("")
        super().mouseMoveEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        # on a label: the first click chose its map; no full screen
        if event.button() == Qt.MouseButton.LeftButton and self.tag_at(event.position().x(),
                                                                       event.position().y()) is None:
            self.double_clicked.emit()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        if self.current is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self.current.image)
            paint_tags(painter, self.label_tags(), label_font(self.font()))
            legend = self.legend()
            self.legend_box = paint_legend(painter, legend, self.image_rect(), legend_font(self.font()),
                                           self.boxes_in_view(), QRectF(self.rect()),
                                           self.covered_top) if legend is not None else QRectF()
            if self._pending:
                self._pending = False
                now = time.monotonic()
                self.painted += 1
                self.paint_times.append(now)
                self.latencies_ms.append((now - self.current.captured) * 1000.0)
        if self.message:
            font = QFont(self.font())
            font.setPointSizeF(max(10.0, self.height() / 30))
            painter.setFont(font)
            metrics = painter.fontMetrics()
            text_w = metrics.horizontalAdvance(self.message) + 24
            box = QRectF((self.width() - text_w) / 2, self.height() / 2 - metrics.height(), text_w, metrics.height() * 2)
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.setPen(QColor(240, 240, 240))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.message)
        painter.end()
