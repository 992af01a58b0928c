"""Where the label tags go: one layout for both renderers (docs/dev/labels.md).

``annotate.LabelAnnotator`` (frames written to files, in frame pixels) and the
window's view (``qt/labels.py``, tags painted at screen resolution) measure their
tags their own way, then both place them here, in their own coordinates:

- a class with a box gets its tag at the box's top-left corner, kept inside the
  picture, pushed down by its own height while it would cover a tag placed
  before it (never past the bottom);
- the classes without a box (at Top-k 10 most of them: under the confidence
  gate, or no region found) are listed together, **in rank order** top to
  bottom, flush in one corner of the picture: the corner whose list covers the
  boxes (the subject) and the boxed classes' tags least, top-left first on a
  tie. A list taller than the picture goes on in a second column beside it;
- what the caller blocks (the window's legend, placed first) is kept clear as
  a tag placed before would be.

Placed tag by tag from one corner, tags of different widths used to take free
slots out of order (a short rank-5 tag fitted above a wide rank-4 one) and sat
over the subject whatever its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass(frozen=True)
class TagSize:
    """One tag to place: its size, and its box's top-left corner (None: no box)."""

    width: float
    height: float
    anchor: tuple[float, float] | None = None


def overlaps(a: Rect, b: Rect) -> bool:
    """Whether two (x1, y1, x2, y2) rectangles overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _overlap_area(a: Rect, b: Rect) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(tags: Sequence[TagSize], area: Rect, subject: Sequence[Rect] = (),
                 blocked: Sequence[Rect] = ()) -> list[Rect]:
    """The rect of each tag (in ``tags``' order, which is rank order) inside ``area``.

    ``subject``: the boxes, in the same coordinates; the list of box-less tags
    goes in the corner where it covers them least. ``blocked``: what no tag
    should cover (the window's legend): a boxed tag is pushed down past it as
    past a tag placed before it, and the list counts it as a box."""
    free = [i for i, t in enumerate(tags) if t.anchor is None]
    boxed = [i for i, t in enumerate(tags) if t.anchor is not None]
    wanted = {i: _clamp(tags[i], tags[i].anchor, area) for i in boxed}  # where each boxed tag would go
    avoid = list(subject) + list(blocked) + list(wanted.values())
    best: list[Rect] = []
    if free:
        options = [_column([tags[i] for i in free], area, corner) for corner in _CORNERS]
        best = min(options, key=lambda rects: sum(_overlap_area(r, a) for r in rects for a in avoid))
    rects: dict[int, Rect] = dict(zip(free, best))
    placed = list(blocked) + list(best)
    for i in boxed:
        x1, y1, x2, y2 = wanted[i]
        h = y2 - y1
        while y2 + h <= area[3] and any(overlaps((x1, y1, x2, y2), r) for r in placed):
            y1, y2 = y1 + h, y2 + h
        if any(overlaps((x1, y1, x2, y2), r) for r in placed):  # no room below: the bottom row
            y1, y2 = max(area[1], area[3] - h), max(area[1], area[3] - h) + h
        rects[i] = (x1, y1, x2, y2)
        placed.append(rects[i])
    return [rects[i] for i in range(len(tags))]


def _clamp(tag: TagSize, origin: tuple[float, float], area: Rect) -> Rect:
    x = min(max(origin[0], area[0]), max(area[0], area[2] - tag.width))
    y = min(max(origin[1], area[1]), max(area[1], area[3] - tag.height))
    return (x, y, x + tag.width, y + tag.height)


_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _column(tags: Sequence[TagSize], area: Rect, corner: str) -> list[Rect]:
    """``tags`` listed down from ``corner`` in rank order, flush to its side; a
    new column inward when the picture's height runs out."""
    left, top, right, bottom = area
    columns: list[list[TagSize]] = [[]]
    used = 0.0
    for t in tags:
        if columns[-1] and used + t.height > bottom - top:
            columns.append([])
            used = 0.0
        columns[-1].append(t)
        used += t.height
    rects: list[Rect] = []
    edge = left if "left" in corner else right
    for column in columns:
        height = sum(t.height for t in column)
        y = top if "top" in corner else max(top, bottom - height)
        width = max(t.width for t in column)
        for t in column:
            x = edge if "left" in corner else edge - t.width
            x = min(max(x, left), max(left, right - t.width))
            rects.append((x, y, x + t.width, y + t.height))
            y += t.height
        edge = edge + width if "left" in corner else edge - width
    return rects


BAND = 6.0  # how much of a box's edge counts as its outline when a panel covers it


def panel_corner(width: float, height: float, area: Rect, boxes: Sequence[Rect] = (), margin: float = 0.0) -> Rect:
    """Where a ``width`` x ``height`` panel (the heat map's legend) goes inside
    ``area``, ``margin`` from its edges: bottom-left, unless it would cover a box's
    outline there and another corner (bottom-right, top-left, top-right) covers
    the outlines less; the picture under a box counts a tenth as much as its edge."""
    left, top, right, bottom = area
    x1s = (left + margin, right - margin - width)
    y1s = (bottom - margin - height, top + margin)
    options = [(x1s[0], y1s[0]), (x1s[1], y1s[0]), (x1s[0], y1s[1]), (x1s[1], y1s[1])]
    rects = [(x, y, x + width, y + height) for x, y in options]
    return min(rects, key=lambda r: sum(_covered(r, box) for box in boxes))  # min keeps the first on a tie


def _covered(rect: Rect, box: Rect) -> float:
    """How much of ``box`` ``rect`` hides: the area over its outline, plus a tenth of the area inside it."""
    inner = (box[0] + BAND, box[1] + BAND, box[2] - BAND, box[3] - BAND)
    inside = _overlap_area(rect, inner) if inner[0] < inner[2] and inner[1] < inner[3] else 0.0
    return (_overlap_area(rect, box) - inside) + 0.1 * inside
