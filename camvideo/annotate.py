"""Draw a FrameResult on its frame: heat map, boxes, labels, a HUD line.

One class per annotator, settings in ``__init__``, ``annotate(frame, result) ->
frame`` (BGR uint8). ``FrameAnnotator`` composes them as the overlay settings ask.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from camvideo.class_colours import result_colors
from camvideo.labels_layout import TagSize, place_labels
from camvideo.results import FrameResult
from camvideo.settings import OverlaySettings

COLORMAPS = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "hot": cv2.COLORMAP_HOT,
}

def colormap_lut(name: str) -> np.ndarray:
    """The 256x1 BGR table of one of ``COLORMAPS`` (made once): ``applyColorMap``
    with the table gives the same pixels as with the map's name, at ~0.6x the cost
    (a named map rebuilds its table on every call: ~0.45 against ~0.3 ms at 640x480)."""
    lut = _LUTS.get(name)
    if lut is None:
        lut = _LUTS[name] = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), COLORMAPS[name])
    return lut


def packed_lut(name: str) -> np.ndarray:
    """``colormap_lut(name)`` as one int32 a grey level (its B, G, R bytes and a zero,
    in memory order; made once): ``cv2.LUT`` of a grey picture with it, viewed as BGRA,
    is the colour picture."""
    packed = _PACKED.get(name)
    if packed is None:
        table = np.zeros((256, 4), np.uint8)
        table[:, :3] = colormap_lut(name)[:, 0, :]
        packed = _PACKED[name] = table.view(np.int32).reshape(256, 1)
    return packed


def paired_lut(name: str) -> np.ndarray:
    """``packed_lut(name)`` twice, as one 8-byte value a grey level (B, G, R, 0, B, G,
    R, 0x3F in memory order; made once), for ``colour_cells``: float64 is ``cv2.LUT``'s
    one 8-byte type, and the last byte makes every entry a normal double (never a NaN
    or a subnormal), which the lookup copies bit for bit."""
    pairs = _PAIRS.get(name)
    if pairs is None:
        table = np.tile(packed_lut(name).view(np.uint8).reshape(256, 4), 2)
        table[:, 7] = 0x3F
        pairs = _PAIRS[name] = table.view(np.float64).reshape(256, 1)
    return pairs


def colour_cells(heat8: np.ndarray, pairs: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The map ``heat8`` (uint8, at its own size) resized (bilinear) to ``rows`` x ``cols``
    and coloured through ``paired_lut``'s table, each value two pixels wide: a (rows,
    2 * cols, 3) BGR picture: one ``cv2.LUT`` a pair of pixels, then BGRA -> BGR."""
    grey = cv2.resize(heat8, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(cv2.LUT(grey, pairs).view(np.uint8).reshape(rows, 2 * cols, 4), cv2.COLOR_BGRA2BGR)


CELL_ROWS = 2  # frame rows one cell of the heat map's colours covers (two columns: paired_lut)


def blend_colormap(frame: np.ndarray, heat8: np.ndarray, pairs: np.ndarray, alpha: float,
                   rows: int = CELL_ROWS) -> np.ndarray:
    """The map ``heat8`` (uint8, at its own size) in colours blended over ``frame`` at
    ``alpha``, as a new array: one colour a cell of ``rows`` x 2 pixels (``colour_cells``,
    the map's value at the cell's centre), each row of cells repeated over its frame rows
    and blended over the frame by one ``cv2.addWeighted`` into a new picture: resize,
    lookups and BGRA -> BGR on a quarter of the pixels, a picture within a few levels of
    the map coloured at every pixel (docs/measuring.md, "The overlay, session 19")."""
    height, width = frame.shape[:2]
    rows = max(1, min(rows, height))
    colours = colour_cells(heat8, pairs, -(-height // rows), -(-width // 2))[:, :width]
    return cv2.addWeighted(frame, 1.0 - alpha, np.repeat(colours, rows, axis=0)[:height], alpha, 0.0)


_LUTS: dict[str, np.ndarray] = {}
_PACKED: dict[str, np.ndarray] = {}
_PAIRS: dict[str, np.ndarray] = {}


Colors = Callable[[FrameResult], list]  # one BGR colour per detection, in their order


def _font_scale(frame: np.ndarray) -> float:
    return min(max(min(frame.shape[:2]) / 720.0, 0.4), 1.2)  # plain Python: np.clip on a scalar costs ~10 us


class HeatmapAnnotator:
    """Blends the colour-mapped class map of one rank over the frame."""

    def __init__(self, alpha: float = 0.45, colormap: str = "jet", rank: int = 1) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if colormap not in COLORMAPS:
            raise ValueError(f"colormap must be one of {sorted(COLORMAPS)}, got {colormap!r}")
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise TypeError(f"rank must be an int (1 = the top class), got {rank!r}")
        if rank < 1:
            raise ValueError(f"rank must be at least 1 (1 = the top class), got {rank}")
        self.alpha = alpha
        self.colormap = COLORMAPS[colormap]
        self.rank = rank
        self._lut = paired_lut(colormap)

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        maps = result.maps  # one row per class, in rank order
        if len(maps) < self.rank or self.alpha == 0.0:
            return frame
        heat = maps.heat[self.rank - 1]
        alpha = self.alpha * maps.opacity[self.rank - 1]  # a class gated as not confident is drawn faint
        # Quantized at feature resolution, upsampled as uint8 (blend_colormap): a
        # fraction of the cost of upsampling floats to the frame.
        heat8 = np.minimum(np.maximum(heat * 255.0 + 0.5, 0.0), 255.0).astype(np.uint8)  # np.clip's pixels, ~2/3 its cost
        return blend_colormap(frame, heat8, self._lut, alpha)


class BoxAnnotator:
    """A rectangle per detection, in its class's colour (``class_colours``; or as ``colors`` says), with
    a dark outline so it reads on light and dark backgrounds alike."""

    def __init__(self, thickness: int = 2, colors: Colors = result_colors) -> None:
        if thickness < 1:
            raise ValueError(f"thickness must be at least 1, got {thickness}")
        self.thickness = thickness
        self.colors = colors

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        colors = self.colors(result)
        height, width = frame.shape[:2]
        # Rows of bytes for outlines(): a uint8 BGR frame whose rows are contiguous
        rows = frame.reshape(height, 3 * width) if (frame.dtype == np.uint8 and frame.shape[2:] == (3,)
                                                   and frame.flags.c_contiguous) else None
        for det, color in reversed(list(zip(result.detections, colors))):  # the top class drawn last, on top
            if det.box is None:
                continue
            x1, y1, x2, y2 = [operator.index(v) for v in det.box]  # plain ints: NumPy's unsigned wrap below 0
            p1, p2 = (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1))
            if (rows is not None and self.thickness == 2 and type(color) in (tuple, list) and len(color) == 3
                    and 0 <= x1 and p2[0] < width and 0 <= y1 and p2[1] < height):
                outlines(rows, *p1, *p2, color)
                continue
            # Axis-aligned, integer corners: anti-aliasing changes nothing visible
            # but costs 3x (0.27 vs 0.08 ms for three boxes at 640x480).
            cv2.rectangle(frame, p1, p2, (0, 0, 0), self.thickness + 2, cv2.LINE_8)
            cv2.rectangle(frame, p1, p2, color, self.thickness, cv2.LINE_8)
        return frame


def outlines(rows: np.ndarray, x1: int, y1: int, x2: int, y2: int, color) -> None:
    """``BoxAnnotator``'s box at thickness 2 (the corners inside the frame, x1 <= x2,
    y1 <= y2): ``cv2.rectangle``'s LINE_8 pixels in black at thickness 4, then in
    ``color`` at 2 over it (OpenCV draws each side as a band either side of it, its
    corners as small discs), painted by slices of ``rows``, the frame's rows of bytes
    (height, 3 * width), each upright side written once as black, colour x 3, black:
    slices cost less than OpenCV's scan lines on the long sides. A box under 5 pixels
    wide (its sides' bands would meet) is OpenCV's."""
    if x2 - x1 < 5:
        picture = rows.reshape(len(rows), -1, 3)  # the same bytes
        cv2.rectangle(picture, (x1, y1), (x2, y2), (0, 0, 0), 4, cv2.LINE_8)
        cv2.rectangle(picture, (x1, y1), (x2, y2), tuple(color), 2, cv2.LINE_8)
        return
    color = tuple(color)
    end, width = rows.shape[1], rows.shape[1] // 3
    band = _side_band(color)
    for x in (x1, x2):  # the upright sides, corner to corner, in both colours at once
        left, right = 3 * (x - 2), min(3 * (x + 3), end)
        skip = max(-left, 0)
        rows[y1:y2 + 1, left + skip:right] = band[skip:right - left]
    black, line = _colour_row((0, 0, 0), width), _colour_row(color, width)
    for dy in (1, 2):  # black above and below, each row shorter by the disc's
        left, right = 3 * max(x1 - 2 + dy, 0), min(3 * (x2 + 3 - dy), end)
        if y1 - dy >= 0:
            rows[y1 - dy, left:right] = black[:right - left]
        if y2 + dy < len(rows):
            rows[y2 + dy, left:right] = black[:right - left]
    left, right = 3 * (x1 + 3), 3 * (x2 - 2)  # black along the top and bottom, between the sides
    rows[y1:min(y1 + 2, y2) + 1, left:right] = black[:right - left]
    rows[max(y2 - 2, y1):y2 + 1, left:right] = black[:right - left]
    left, right = 3 * x1, 3 * (x2 + 1)  # the colour over it: a row above and below, two along
    if y1 >= 1:
        rows[y1 - 1, left:right] = line[:right - left]
    if y2 + 1 < len(rows):
        rows[y2 + 1, left:right] = line[:right - left]
    left, right = 3 * max(x1 - 1, 0), min(3 * (x2 + 2), end)
    rows[y1:min(y1 + 1, y2) + 1, left:right] = line[:right - left]
    rows[max(y2 - 1, y1):y2 + 1, left:right] = line[:right - left]


@lru_cache(maxsize=64)
def _side_band(color: tuple) -> np.ndarray:
    """An upright side of ``outlines``' box, one row of it: black, ``color`` x 3, black (bytes; read-only)."""
    band = np.concatenate([_bytes((0, 0, 0)), *[_bytes(color)] * 3, _bytes((0, 0, 0))])
    band.flags.writeable = False
    return band


@lru_cache(maxsize=64)
def _colour_row(color: tuple, width: int) -> np.ndarray:
    """A row of ``width`` pixels of one BGR colour, as bytes (read-only)."""
    row = np.tile(_bytes(color), width)
    row.flags.writeable = False
    return row


def _bytes(color) -> np.ndarray:
    """A BGR colour as OpenCV draws it: each value rounded and saturated to a byte."""
    return np.clip(np.rint(np.asarray(color, np.float64)), 0, 255).astype(np.uint8)


class LabelAnnotator:
    """``label 0.79`` (``label 0.79 Grad-CAM`` when the map is Grad-CAM's) on a
    filled tag in its class's colour (or as ``colors`` says), placed by ``labels_layout.place_labels``: at
    the box's top-left corner (pushed down when it would cover another tag); the
    classes without a box listed in rank order in the corner that covers the
    boxes least."""

    def __init__(self, font_scale: float | None = None, colors: Colors = result_colors) -> None:
        self.font_scale = font_scale
        self.colors = colors

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        scale = self.font_scale or _font_scale(frame)
        thickness = 1 if scale < 0.7 else 2
        texts = [label_text(det, result) for det in result.detections]
        measured = [text_size(text, scale, thickness) for text in texts]
        sizes = [TagSize(tw + 6, th + base + 6, None if det.box is None else (det.box[0], det.box[1]))
                 for det, ((tw, th), base) in zip(result.detections, measured)]
        height, width = frame.shape[:2]
        boxes = [tuple(det.box) for det in result.detections if det.box is not None]
        for color, text, size, rect in zip(self.colors(result), texts, measured,
                                           place_labels(sizes, (0, 0, width, height), boxes)):
            _draw_tag(frame, text, (int(rect[0]), int(rect[1])), color, scale, size)
        return frame


class HudAnnotator:
    """One line of text (fps, timings) on a dark band at the bottom of the frame,
    drawn in place: ``text(result)`` says it (nothing drawn for "")."""

    def __init__(self, text: Callable[[FrameResult], str]) -> None:
        self.text = text

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        text = self.text(result)
        if text:
            scale = 0.8 * _font_scale(frame)
            _draw_tag(frame, text, (0, frame.shape[0] - _tag_height(scale)), (32, 32, 32), scale)
        return frame


def _tag_height(scale: float) -> int:
    (_, h), base = text_size("Ag", scale, 1)
    return h + base + 6


@lru_cache(maxsize=1024)
def text_size(text: str, scale: float, thickness: int) -> tuple[tuple[int, int], int]:
    """``cv2.getTextSize`` of ``text`` in the tags' font, remembered: a video's labels
    and scores repeat from frame to frame."""
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)


def _draw_tag(frame, text, origin, color, scale, size=None) -> tuple[int, int, int, int]:
    """A filled tag with ``text`` at ``origin`` (kept inside the frame); ``size``: the
    text's ``cv2.getTextSize`` at ``scale`` when the caller has it (measured here otherwise).
    A tag seen before is pasted from ``tag_image`` (the same pixels as drawing it)."""
    thickness = 1 if scale < 0.7 else 2
    (tw, th), base = size if size is not None else text_size(text, scale, thickness)
    height, width = frame.shape[:2]
    w, h = tw + 6, th + base + 6
    x = int(min(max(origin[0], 0), max(0, width - w)))
    y = int(min(max(origin[1], 0), max(0, height - h)))
    tag = tag_image(text, scale, thickness, color, ((tw, th), base)) if frame.dtype == np.uint8 else None
    if tag is not None and y + tag.ink_bottom < height and x + tag.ink_right < width and frame.shape[2:] == (3,):
        frame[y:y + h + 1, x:x + w + 1] = tag.pixels[:height - y, :width - x]  # the tag's last row/column may lie outside
    else:
        cv2.rectangle(frame, (x, y), (x + w, y + h), color, cv2.FILLED)
        cv2.putText(frame, text, (x + 3, y + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, ink_color(color), thickness,
                    cv2.LINE_AA)
    return (x, y, x + w, y + h)


class TagImage(NamedTuple):
    """A drawn tag: its pixels ((h + 1, w + 1, 3): ``cv2.rectangle``'s filled box with
    both corners in, and the text) and the last row and column its text inks."""

    pixels: np.ndarray
    ink_bottom: int
    ink_right: int


TAG_IMAGES = 512  # tags remembered (~8 KB each at 640x480); all are forgotten when full


def tag_image(text: str, scale: float, thickness: int, color, size) -> TagImage | None:
    """The tag ``_draw_tag`` draws for ``text`` in ``color``, made on its second
    sighting and remembered (a video's labels repeat frame after frame; a HUD's
    changing numbers are drawn, not remembered). None the first time, and for a text
    that inks a pixel outside its tag (anti-aliasing spills): such tags are drawn."""
    key = (text, scale, thickness, tuple(color))
    tag = _TAGS.get(key, _UNSEEN)
    if tag is not _UNSEEN:
        return tag
    if key not in _SEEN:
        if len(_SEEN) >= TAG_IMAGES:
            _SEEN.clear()
        _SEEN.add(key)
        return None
    if len(_TAGS) >= TAG_IMAGES:
        _TAGS.clear()
    _TAGS[key] = tag = _render_tag(text, scale, thickness, color, size)
    return tag


def _render_tag(text, scale, thickness, color, size) -> TagImage | None:
    """The tag drawn on a black and on a white canvas with room around it: None
    when the text inks the room on either (it would ink the frame)."""
    (tw, th), base = size
    w, h = tw + 6, th + base + 6
    room = h
    inside = np.s_[room:room + h + 1, room:room + w + 1]
    drawn = []
    for background in (0, 255):
        canvas = np.full((h + 1 + 2 * room, w + 1 + 2 * room, 3), background, np.uint8)
        cv2.rectangle(canvas, (room, room), (room + w, room + h), color, cv2.FILLED)
        cv2.putText(canvas, text, (room + 3, room + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, ink_color(color),
                    thickness, cv2.LINE_AA)
        pixels = canvas[inside].copy()
        canvas[inside] = background
        if (canvas != background).any():
            return None
        drawn.append(pixels)
    if not np.array_equal(*drawn):
        return None
    rows, cols = np.nonzero((drawn[0] != np.asarray(color, np.uint8)).any(axis=2))
    return TagImage(drawn[0], int(rows.max(initial=0)), int(cols.max(initial=0)))


_TAGS: dict[tuple, TagImage | None] = {}
_SEEN: set[tuple] = set()
_UNSEEN = object()


def label_text(det, result: FrameResult) -> str:
    """A detection's tag: ``label 0.79``, plus ``held`` when it is ranked above a
    class with a higher score (video smoothing keeps the top label until another
    class leads it clearly: the list is then not in score order, and says so), plus
    ``Grad-CAM`` when the map is Grad-CAM's."""
    return (f"{det.label} {det.score:.2f}" + (" held" if is_held(det, result) else "")
            + (" Grad-CAM" if result.method == "gradcam" else ""))


def is_held(det, result: FrameResult) -> bool:
    """Whether ``det`` is ranked above a detection with a higher score (label hysteresis)."""
    return any(other.rank > det.rank and other.score > det.score for other in result.detections)


def ink_color(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black text on light tags, white on dark ones (ITU-R BT.601 luma > 140)."""
    luma = 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def shown_heatmap_rank(settings: OverlaySettings, result: FrameResult) -> int | None:
    """The rank whose map ``FrameAnnotator(settings)`` draws on ``result``:
    ``settings.heatmap_rank``, or 1 when the result has fewer maps than that
    (a frame localized with fewer classes, e.g. just after Top-k went from 3 to 2,
    still gets a heat map, the top class's, rather than none, which would read as
    "the model sees nothing"). None when no heat map is drawn (off, or no maps)."""
    if not settings.heatmap or len(result.heatmaps) == 0:
        return None
    return settings.heatmap_rank if len(result.heatmaps) >= settings.heatmap_rank else 1


class FrameAnnotator:
    """The full overlay: the heat map of one rank (``shown_heatmap_rank``), then
    boxes and labels, in their classes' colours or as ``colors`` says (a HUD is an annotator
    of its own, after this one)."""

    def __init__(self, settings: OverlaySettings = OverlaySettings(), colors: Colors = result_colors) -> None:
        if not isinstance(settings, OverlaySettings):
            raise TypeError(f"settings must be an OverlaySettings, got {type(settings).__name__}")
        self.settings = settings
        self.heatmap = HeatmapAnnotator(settings.alpha, settings.colormap, rank=settings.heatmap_rank)
        # the fallback for a result with fewer maps than heatmap_rank
        self.top_heatmap = self.heatmap if settings.heatmap_rank == 1 else HeatmapAnnotator(settings.alpha,
                                                                                             settings.colormap)
        self.boxes = BoxAnnotator(colors=colors)
        self.labels = LabelAnnotator(colors=colors)

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        """A new annotated frame; the input frame is left as it was."""
        s = self.settings
        heatmap = self.heatmap if len(result.heatmaps) >= self.heatmap.rank else self.top_heatmap
        out = heatmap.annotate(frame, result) if s.heatmap else frame
        if out is frame:
            out = frame.copy()
        if s.boxes:
            self.boxes.annotate(out, result)
        if s.labels:
            self.labels.annotate(out, result)
        return out
