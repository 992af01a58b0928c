"""The heat map's legend: whose evidence it shows, on which scale, or why there is none.

A small box in the bottom-left corner of the picture (or beside it, in the black
bar of a letterboxed or pillarboxed picture), painted by the view at
screen resolution: "evidence for Egyptian cat (0.86)", the colour bar of the
map's colours from weak to strong, and the scale ("scaled to this frame's
strongest"). A class below the window's confidence gate gets no map at all (a
map scaled to its own maximum would tint the whole frame as surely as a real
find): the legend then says "no heat map: tabby 0.01 is under the 5% gate"
(what the gate knows: the score is low, not that the class is absent). Nothing is drawn when the heat map is off, the frame has no maps, or
the labels are off (the legend is the heat map's label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from camvideo.annotate import colormap_lut, shown_heatmap_rank
from camvideo.labels_layout import panel_corner
from camvideo.qt.convert import bgr_to_qimage

SCALES = {
    "minmax": "scaled to this frame's strongest",
    "running": "scaled to a running maximum",
    "fixed": "on a fixed scale",
}
BAR_W, BAR_H = 120.0, 8.0
PAD = 6.0
MARGIN = 8.0
GAP = 4.0  # between the picture and a legend placed under it
POINT_SIZE = 9.0
SMALL = (560.0, 320.0)  # a picture narrower or lower than this gets the compact legend
MAX_SHARE = 0.45  # the legend's width: at most this share of a compact picture's

_bars: dict[str, QImage] = {}


def colour_bar(colormap: str) -> QImage:
    """The colormap from weak (left) to strong (right), 256 x 1: the overlay's own
    table (``annotate.colormap_lut``), laid on its side."""
    if colormap not in _bars:
        _bars[colormap] = bgr_to_qimage(np.ascontiguousarray(colormap_lut(colormap).reshape(1, 256, 3)))
    return _bars[colormap]


@dataclass(frozen=True)
class Legend:
    """What the legend says: ``title`` ("evidence for X (0.86)" or "no heat map:
    …") and ``scale`` (under the colour bar; empty when there is no map)."""

    title: str
    scale: str
    colormap: str
    faint: bool  # the class is under the gate: no map, no bar


def legend_for(overlay, result, scale: str = "minmax", gate: float | None = None) -> Legend | None:
    """The legend of ``result`` as ``overlay`` draws it (None: no heat map shown)."""
    rank = shown_heatmap_rank(overlay, result) if result is not None else None
    if rank is None:
        return None
    class_id = result.maps.class_ids[rank - 1]  # shown_heatmap_rank: the result has a map of that rank
    det = next((d for d in result.detections if d.rank == rank), None)
    name = det.label if det is not None else str(class_id)
    score = f" ({det.score:.2f})" if det is not None else ""
    opacity = result.maps.opacity_of(class_id)
    if opacity < 1.0:
        under = f" is under the {gate:.0%} gate" if gate else " is too unsure"
        return Legend(f"no heat map: {name}{score.replace('(', '').replace(')', '')}{under}",
                      "", overlay.colormap, True)
    return Legend(f"evidence for {name}{score}", SCALES.get(scale, scale), overlay.colormap, False)


def scale_line(legend: Legend) -> str:
    """The line under the colour bar."""
    return f"weak … strong, {legend.scale}"


def legend_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(POINT_SIZE)
    return font


def compact(image_rect: QRectF) -> bool:
    """Whether the picture is small (a small window): the legend then keeps its
    title and colour bar, leaves out the scale line and the margin, and is at most
    ``MAX_SHARE`` of the picture's width (the title elided), so it stays readable
    (the same point size) and leaves the picture to the picture."""
    return image_rect.width() < SMALL[0] or image_rect.height() < SMALL[1]


def _full_size(legend: Legend, metrics: QFontMetricsF) -> tuple[float, float]:
    """The legend's width and height with every line (title, colour bar, scale)."""
    lines = 1 if legend.faint else 2
    width = max(metrics.horizontalAdvance(legend.title), 0 if legend.faint else
                max(BAR_W, metrics.horizontalAdvance(scale_line(legend)))) + 2 * PAD
    height = lines * metrics.height() + (0 if legend.faint else BAR_H + PAD / 2) + 2 * PAD
    return width, height


def _beside(legend: Legend, metrics: QFontMetricsF, image_rect: QRectF, view: QRectF) -> QRectF | None:
    """The legend in the bar left of the picture (a portrait video), level with its
    bottom: whole where it fits, else its title and colour bar; None when neither fits."""
    room = image_rect.left() - view.left() - GAP
    full_w, full_h = _full_size(legend, metrics)
    title_w = max(metrics.horizontalAdvance(legend.title), 0 if legend.faint else BAR_W) + 2 * PAD
    short_h = metrics.height() + (0 if legend.faint else BAR_H + PAD / 2) + 2 * PAD
    for width, height in ((full_w, full_h), (title_w, short_h)):
        if width <= room and height <= image_rect.height():
            return QRectF(image_rect.left() - GAP - width, image_rect.bottom() - height, width, height)
    return None


def legend_rect(legend: Legend, image_rect: QRectF, font: QFont, boxes=(), view: QRectF | None = None,
                covered_top: float = 0.0) -> QRectF:
    """Where the legend box goes: under the picture when the ``view`` has a bar there
    it fits in (a letterboxed video: it hides nothing); else in the bar left of the
    picture when its title fits there (a portrait video between black bars: ``_beside``); else the
    picture's bottom-left corner, or the corner where it hides the ``boxes`` (view
    coordinates) least (``labels_layout.panel_corner``); a top corner starts below
    ``covered_top`` (the window's error banner lies over the view's top)."""
    metrics = QFontMetricsF(font)
    full_w, full_h = _full_size(legend, metrics)
    if compact(image_rect):
        height = metrics.height() + (0 if legend.faint else BAR_H + PAD / 2) + 2 * PAD
        width = min(metrics.horizontalAdvance(legend.title) + 2 * PAD, MAX_SHARE * image_rect.width())
        margin = 0.0
    else:
        width, height, margin = min(full_w, max(0.0, image_rect.width() - 2 * MARGIN)), full_h, MARGIN
    if view is not None and view.bottom() - image_rect.bottom() >= height + GAP:
        return QRectF(image_rect.left() + margin, image_rect.bottom() + GAP, width, height)
    beside = _beside(legend, metrics, image_rect, view) if view is not None else None
    if beside is not None:
        return beside
    area = (image_rect.left(), max(image_rect.top(), covered_top), image_rect.right(), image_rect.bottom())
    x1, y1, x2, y2 = panel_corner(width, height, area, boxes, margin)
    return QRectF(x1, y1, x2 - x1, y2 - y1)


def paint_legend(painter: QPainter, legend: Legend, image_rect: QRectF, font: QFont, boxes=(),
                 view: QRectF | None = None, covered_top: float = 0.0) -> QRectF:
    """Paint ``legend`` under or over the picture, off the ``boxes`` and below
    ``covered_top`` where it can be (``legend_rect``); returns its box."""
    box = legend_rect(legend, image_rect, font, boxes, view, covered_top)
    inside = box.bottom() <= image_rect.bottom() + 0.5 or (view is not None and box.bottom() <= view.bottom())
    if box.width() < 2 * PAD or box.top() < image_rect.top() or not inside:
        return QRectF()  # no room in a tiny view
    metrics = QFontMetricsF(font)
    painter.save()
    painter.setFont(font)
    painter.fillRect(box, QColor(0, 0, 0, 175))
    painter.setPen(QColor(240, 240, 240))
    inner = box.adjusted(PAD, PAD, -PAD, -PAD)
    title = metrics.elidedText(legend.title, Qt.TextElideMode.ElideRight, inner.width())
    painter.drawText(QRectF(inner.left(), inner.top(), inner.width(), metrics.height()),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
    if not legend.faint:
        top = inner.top() + metrics.height() + PAD / 4
        bar = QRectF(inner.left(), top, min(BAR_W, inner.width()), BAR_H)
        painter.drawImage(bar, colour_bar(legend.colormap))
        if box.height() < _full_size(legend, metrics)[1] - 0.5:  # a small picture's legend: no scale line
            painter.restore()
            return box
        scale = metrics.elidedText(scale_line(legend), Qt.TextElideMode.ElideRight, inner.width())
        painter.drawText(QRectF(inner.left(), bar.bottom() + PAD / 4, inner.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, scale)
    painter.restore()
    return box
