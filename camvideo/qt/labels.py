"""Labels painted by the view at screen resolution; burned in only for files.

In the window the frame is scaled to the view, so a label burned into a 640x360
frame is ~6 px high in a small window and large and soft in a big one. The
window therefore annotates the displayed frame with labels off
(``DisplayAnnotator``) and ``VideoView`` paints the tags with QPainter, at a
constant size on screen (``LABEL_POINT_SIZE``), in the class's colour
(``camvideo.class_colours``: its box's, and the one ``camvideo process`` gives it),
with annotate's black/white ink rule and its
layout (``labels_layout.place_labels``: the one both renderers use). The tag of the class whose heat map is shown is marked
(an outline in its ink colour) when there is a choice (two maps or more); a
click on a tag chooses its map (``VideoView.tag_clicked``). Recordings and snapshots still get the labels burned in
(``DisplayAnnotator.burn_labels``: annotate's own ``LabelAnnotator``), so a
file made from the window is what ``camvideo process`` makes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from camvideo.annotate import (
    FrameAnnotator,
    LabelAnnotator,
    ink_color,
    label_text,
    shown_heatmap_rank,
)
from camvideo.class_colours import result_colors
from camvideo.labels_layout import TagSize, place_labels
from camvideo.settings import OverlaySettings

LABEL_POINT_SIZE = 11.0  # on screen, whatever the frame's and the window's size
PAD_X, PAD_Y = 4.0, 1.0  # around the text inside a tag, device-independent pixels
MARK_WIDTH = 1.5  # the outline of the tag whose class's heat map is shown


class DisplayAnnotator:
    """The window's overlay: ``FrameAnnotator`` with the labels left out (the view
    paints them), and ``burn_labels`` for the frames that go to a file.

    ``burn_labels(annotate(frame, result), result)`` is pixel for pixel
    ``FrameAnnotator(settings).annotate(frame, result)`` (labels are its last
    layer; the window has no HUD) with the same ``colors``.
    """

    def __init__(self, settings: OverlaySettings = OverlaySettings(), colors=result_colors) -> None:
        if not isinstance(settings, OverlaySettings):
            raise TypeError(f"settings must be an OverlaySettings, got {type(settings).__name__}")
        self.settings = settings  # what the user chose (labels included)
        self.colors = colors  # one BGR colour per detection of a result (annotate.Colors)
        self.frame = FrameAnnotator(replace(settings, labels=False), colors)
        self.labels = LabelAnnotator(colors=colors)

    def annotate(self, frame: np.ndarray, result) -> np.ndarray:
        """A new frame with heat map and boxes, no labels (the pipeline calls this)."""
        return self.frame.annotate(frame, result)

    def burn_labels(self, annotated: np.ndarray, result) -> np.ndarray:
        """Draw the labels into ``annotated`` (in place, when labels are on); returns it."""
        if self.settings.labels:
            self.labels.annotate(annotated, result)
        return annotated


def label_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(LABEL_POINT_SIZE)
    font.setWeight(QFont.Weight.DemiBold)
    return font


@dataclass(frozen=True)
class Tag:
    """One label as painted: where (view coordinates), what, in which colours."""

    rect: QRectF
    text: str
    rank: int
    fill: QColor
    ink: QColor
    marked: bool = False  # its class's heat map is the one shown


def marked_rank(settings: OverlaySettings, result) -> int | None:
    """The rank whose tag is marked: the one whose heat map ``FrameAnnotator``
    draws (``annotate.shown_heatmap_rank``), when the frame has two maps or more
    to choose from; None otherwise (Top-1, heat map off)."""
    if len(result.heatmaps) < 2:
        return None
    return shown_heatmap_rank(settings, result)


def layout_tags(result, image_rect: QRectF, frame_size: tuple[int, int], font: QFont,
                marked: int | None = None, avoid=(), colors=result_colors) -> list[Tag]:
    """The tags of ``result`` in view coordinates, placed by
    ``labels_layout.place_labels`` as ``annotate.LabelAnnotator`` places them in
    the frame: boxed classes at their box's top-left corner mapped through
    ``image_rect`` (where a ``frame_size`` = (width, height) frame lands), the
    box-less ones listed in rank order in the corner that covers the boxes least;
    all inside the picture (in a picture narrower than a tag, its text is
    elided; every tag keeps off the ``avoid`` rects, e.g. the legend: a boxed
    one goes down past them). The tags
    of rank ``marked`` are marked; ``colors(result)``: their fills (one per detection)."""
    width, height = frame_size
    if not result.detections or width <= 0 or height <= 0 or image_rect.isEmpty():
        return []
    metrics = QFontMetricsF(font)
    h = metrics.height() + 2 * PAD_Y
    sx, sy = image_rect.width() / width, image_rect.height() / height
    left, top = image_rect.left(), image_rect.top()
    texts, sizes, boxes = [], [], []
    for det in result.detections:
        text = label_text(det, result)
        w = metrics.horizontalAdvance(text) + 2 * PAD_X
        if w > image_rect.width():  # a small view: the tag is cut to the picture's width, text elided
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0.0, image_rect.width() - 2 * PAD_X))
            w = image_rect.width()
        anchor = None
        if det.box is not None:
            x1, y1, x2, y2 = det.box
            anchor = (left + x1 * sx, top + y1 * sy)
            boxes.append((left + x1 * sx, top + y1 * sy, left + x2 * sx, top + y2 * sy))
        texts.append(text)
        sizes.append(TagSize(w, h, anchor))
    area = (left, top, image_rect.right(), image_rect.bottom())
    tags: list[Tag] = []
    blocked = [tuple(a.getCoords()) for a in avoid]
    places = place_labels(sizes, area, boxes, blocked)
    for det, bgr, text, (x1, y1, x2, y2) in zip(result.detections, colors(result), texts, places):
        ink = ink_color(bgr)
        tags.append(Tag(QRectF(x1, y1, x2 - x1, y2 - y1), text, det.rank, QColor(*bgr[::-1]), QColor(*ink[::-1]),
                        det.rank == marked))
    return tags


def paint_tags(painter: QPainter, tags: list[Tag], font: QFont) -> None:
    """Filled tags with their text, crisp at screen resolution."""
    if not tags:
        return
    painter.save()
    painter.setFont(font)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    for tag in tags:
        painter.fillRect(tag.rect, tag.fill)
        if tag.marked:  # an outline in the ink colour, inside the tag: the layout does not move
            pen = QPen(tag.ink, MARK_WIDTH)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            painter.drawRect(tag.rect.adjusted(MARK_WIDTH / 2, MARK_WIDTH / 2, -MARK_WIDTH / 2, -MARK_WIDTH / 2))
        painter.setPen(tag.ink)
        painter.drawText(tag.rect.adjusted(PAD_X, 0, -PAD_X, 0),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, tag.text)
    painter.restore()
