"""The video view: fills its space, keeps the aspect ratio, paints the newest frame.

``show_frame`` only stores the frame and asks for a repaint; when several frames
arrive before Qt paints, the older ones are skipped (counted in ``skipped``), never
queued. The paint records how long each painted frame took from capture to screen.
Labels are painted here, over the scaled frame, at screen resolution (see
``labels``): the frame itself carries heat map and boxes only.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .labels import Tag, label_font, layout_tags, paint_tags

if TYPE_CHECKING:  # the core (numpy, cv2) loads in the background: see session
    from ..results import FrameResult


@dataclass(frozen=True, eq=False)
class ShownFrame:
    """One annotated frame on its way to the screen."""

    image: QImage
    index: int
    time: float  # the frame's own presentation time, seconds
    captured: float  # time.monotonic() when the reader got it
    result: FrameResult
    annotated: object = field(repr=False)  # the BGR array (snapshots): heat map and boxes
    recorded: bool = False  # written to the running recording
    labels_burned: bool = False  # ``annotated`` has the labels drawn in (as recorded)


class VideoView(QWidget):
    """Paints the newest ShownFrame scaled to fit, letterboxed, on black.

    A click takes the keyboard focus (so Space, R, S, F reach the window again
    after typing in a field of the panel); a double click asks for full screen.
    """

    double_clicked = pyqtSignal()

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
        self.paint_times: deque[float] = deque(maxlen=60)
        self.show_labels = True  # paint the detections' labels over the frame

    def set_labels(self, on: bool) -> None:
        """Labels on or off; takes effect at once (also on a paused frame)."""
        self.show_labels = bool(on)
        self.update()

    def label_tags(self) -> list[Tag]:
        """The tags the next paint draws (view coordinates); [] when labels are off."""
        if self.current is None or not self.show_labels:
            return []
        image = self.current.image
        return layout_tags(self.current.result, self.image_rect(), (image.width(), image.height()),
                           label_font(self.font()))

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
        self.update()

    @property
    def fps(self) -> float:
        """Frames painted per second over the last 60 paints."""
        if len(self.paint_times) < 2:
            return 0.0
        span = self.paint_times[-1] - self.paint_times[0]
        return (len(self.paint_times) - 1) / span if span > 0 else 0.0

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

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        if self.current is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self.current.image)
            paint_tags(painter, self.label_tags(), label_font(self.font()))
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
