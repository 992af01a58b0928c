"""Motion tells the extent of what moves: boxes fitted to the moving region.

A class map of 7x9 cells upsampled spills far past a small object: on video of an
object moving across a still or panning background its box covered 3 to 5 times
the object's area. The picture itself knows better. With the camera's motion
measured (``camvideo.cam.motion``: the similarity of most of the picture), the
previous thumbnail is warped onto this one and the two are compared: what differs
is what moved against the background (the object's outline and texture, where it
is and where it was). ``MovingExtent.apply`` boxes the moving pixels that lie in a
class's box (the map's evidence) and, when the evidence agrees (enough moving
pixels, mostly inside the map's box, their box smaller than it), gives that box
instead. The fitted box is averaged over frames, the average carried as far as the
fit moved (a fast object leaves its old box, and the flow inside that box is then the
background's; a fit three times the average's area or more is the background's regions
joined, not taken) and, when the object stops, held
where the object's own flow takes it while the map's box still holds it; a cut, a
frame with no measured motion or a map's box that no longer holds it drops it, and
today's box comes back. Nothing moving: today's box.

When the picture's motion measured is the object's own (a sharp object holds nearly
all the corners over a soft background while the camera pans: what moved against it
is then the background, streaming past outside the map's box), ``followed`` boxes the
corners that moved as the picture did instead.

Cost: a warp and a difference a frame on the 160-pixel thumbnail, and one labelling
when enough pixels moved for any fit (``MovingRegions``: shared by every class's
box), 0.1-0.5 CPU ms a frame with top-3 (``bench/motion_parts.py``), on video with
the motion on only.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, cached_property

import cv2
import numpy as np

from camvideo.cam.motion import Motion, move_box
from camvideo.results import Box

LEVEL = 18  # grey levels of difference (after a light blur) that count as moved
LEAST = 0.002  # moving pixels, as a fraction of the picture, for a fit (~40 of 160x120)
INSIDE = 0.6  # the moving pixels' share that must lie in the map's box
SMALLER = 0.9  # the fitted box's area at most this fraction of the map's box
ALPHA = 0.5  # the fitted box's average over frames
HOLD = 0.5  # a held box stays while at least half of it lies in the map's box
FOLLOWED = 0.8  # a pan that follows the object: this share of the picture's corners on the object
PANNED = 2.0  # thumbnail pixels the picture moved at least, for a pan that follows
PAD = 3.0  # thumbnail pixels around the followed object's corners (corners lie inside an outline)
LARGER = 0.1  # in a panning picture, a fitted box under this fraction of the map's box may be specks:
SPECKS = 0.005  # it is, when its moving pixels are also under this fraction of the picture (~70-100 px)
THIN = 4.0  # or when it is under this many thumbnail pixels across or down (the warp's strip at an edge)
MEET = 0.5  # a moving region counts for a box when at least this share of it lies in the box
JUMP = 3.0  # a fit over this many times the held box's area is not taken (the background's regions joined)
_SQUARE3, _SQUARE2 = np.ones((3, 3), np.uint8), np.ones((2, 2), np.uint8)


class MovingExtent:
    """The moving region of each frame against the camera's motion, and the boxes
    fitted to it, per class (frames in order; ``reset`` on a seek)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._previous: tuple[np.ndarray, np.ndarray | None] | None = None  # the last thumbnail, blurred when it was
        self._held: dict[int, np.ndarray] = {}  # class id -> fitted corners (float pixels)
        self._last: dict[int, np.ndarray] = {}  # class id -> the last frame's moving box (pixels)

    def moving(self, thumb: np.ndarray | None, motion: Motion | None, cut: bool = False,
               least: float = 0.0) -> np.ndarray | None:
        """A 0/1 mask (the thumbnail's size) of what moved against the camera since the
        last thumbnail; None when unknown (the first frame, a cut, no motion measured).
        ``least`` (a fraction of the picture): when the mask would hold fewer moving pixels
        than that (too few for any fit), the raw difference may come back instead, which
        holds fewer too (what the clean-up gives is at most four times it: OpenCV's 2x2
        opening can grow a region on the top and left edges) and costs no warp of the
        valid pixels, no erosion and no opening."""
        previous, self._previous = self._previous, None if thumb is None else (thumb, None)
        if thumb is None or previous is None or previous[0].shape != thumb.shape or cut or motion is None:
            return None  # this thumbnail is blurred when the next frame compares with it (often a cut again)
        blurred = cv2.GaussianBlur(thumb, (3, 3), 0)
        self._previous = thumb, blurred  # the next frame's "before"
        previous = previous[1] if previous[1] is not None else cv2.GaussianBlur(previous[0], (3, 3), 0)
        height, width = blurred.shape
        if motion.still:  # the picture moved under a sixth of a pixel: the warp may not be needed (``_unmoved``)
            unmoved = _unmoved(blurred, previous, least * width * height)
            if unmoved is not None:
                return unmoved
        (a, b, e), (c, d, f) = motion.transform.tolist()  # plain floats, in the order of the product below
        across, down = float(width), float(height)
        # The motion in the thumbnail's pixels: diag(size) @ transform @ diag(1 / size, 1).
        warp = np.array([[across * a * (1.0 / across), across * b * (1.0 / down), across * e],
                         [down * c * (1.0 / across), down * d * (1.0 / down), down * f]])
        before = cv2.warpAffine(previous, warp, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        _, moved = cv2.threshold(cv2.absdiff(blurred, before), LEVEL, 1, cv2.THRESH_BINARY)  # 1 where > LEVEL
        if 4 * cv2.countNonZero(moved) < least * width * height:  # nothing moved against the camera, most often
            return moved
        valid = cv2.warpAffine(_ones(height, width), warp, (width, height), flags=cv2.INTER_NEAREST)
        mask = cv2.bitwise_and(moved, cv2.erode(valid, _SQUARE3))  # both 0/1
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, _SQUARE2)

    def apply(self, boxes: Mapping[int, list[Box]], size: tuple[int, int], thumb: np.ndarray | None,
              motion: Motion | None, cut: bool = False) -> dict[int, list[Box]]:
        """``boxes`` (by class, the smoothed boxes of a ``size`` frame) with each class's
        first box fitted to the moving region where the evidence agrees."""
        mask = self.moving(thumb, motion, cut, least=LEAST)  # below LEAST the regions fit nothing anyway
        if mask is None:
            self._held, self._last = {}, {}
            return dict(boxes)
        regions, out = MovingRegions(mask), {}  # labelled once for every class
        for class_id, found in boxes.items():
            fitted = self._fit(class_id, found[0], regions, size, motion) if found else None
            out[class_id] = [fitted, *found[1:]] if fitted is not None else list(found)
        self._held = {c: h for c, h in self._held.items() if c in out}
        return out

    def _fit(self, class_id: int, box: Box, regions: MovingRegions, size: tuple[int, int],
             motion: Motion) -> Box | None:
        """The class's box fitted to the moving pixels in ``box`` (averaged), or the held
        one moved with the object; None: keep ``box``."""
        width, height = size
        held = self._held.pop(class_id, None)
        found, pixels = regions.fit(box, size)
        if found is not None and not motion.still and _area(found) < LARGER * _area(box) \
                and _specks(found, pixels, regions, size):
            found = None  # specks in a panning picture: the interpolation's, not an object
        if found is None and not motion.still:
            found = followed(motion, box, size, regions)
        if found is not None and held is not None and _area(found) > JUMP * _area(held):
            found = None
        last = self._last.pop(class_id, None)
        moved = None if last is None or found is None else move_box(last, motion.transform, width, height)
        if held is not None and moved is not None:  # it moves as the fit did (a fast object leaves its old box)
            held = move_box(held, motion.transform, width, height) + _shift(found, moved)
        elif held is not None and not motion.still:  # no fit to follow: the object's own flow
            own = motion.within(held, width, height)
            held = move_box(held, own if own is not None else motion.transform, width, height)
        if found is not None:
            found = np.asarray(found, np.float64)
            self._last[class_id] = found
            new = _leading(found, moved)
            held = new if held is None else ALPHA * new + (1.0 - ALPHA) * held
        elif held is None or _share_inside(held, box) < HOLD:
            return None
        self._held[class_id] = held
        x1, y1, x2, y2 = (int(round(v)) for v in held)
        x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
        return x1, y1, min(max(x2, x1 + 1), width), min(max(y2, y1 + 1), height)


class MovingRegions:
    """The connected regions of a 0/1 moving mask (thumbnail scale), labelled once when
    first asked for (never when too few pixels moved for any fit: ``total``), and the
    box of those that meet a class's box (``box``)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.shape = mask.shape
        self.mask = mask
        self.total = cv2.countNonZero(mask)  # the moving pixels: every region's area

    @cached_property
    def _regions(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The count of labels (the background's 0 included), the labels, and each
        label's area, left, top, right and bottom (thumbnail pixels)."""
        # BBDT: the regions any algorithm finds, at a third of the default's (Spaghetti's) cost
        # with the statistics on a thumbnail; which label a region gets does not matter here.
        count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(self.mask, 8, cv2.CV_32S,
                                                                                cv2.CCL_BBDT)
        left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        return (count, labels, stats[:, cv2.CC_STAT_AREA], left, top, left + stats[:, cv2.CC_STAT_WIDTH],
                top + stats[:, cv2.CC_STAT_HEIGHT])

    def box(self, box: Box, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
        """The box (pixels of a ``size`` frame) of the moving pixels in the regions that
        meet ``box``, when they agree with it: enough of them, mostly inside it,
        their box smaller than it. None otherwise."""
        return self.fit(box, size)[0]

    def fit(self, box: Box, size: tuple[int, int]) -> tuple[tuple[float, float, float, float] | None, int]:
        """``box``'s answer and the count of the moving pixels it bounds (0 with no box)."""
        mh, mw = self.shape
        if self.total < LEAST * mw * mh:  # too few moving pixels in all (none: only the background's label)
            return None, 0
        count, labels, areas, left, top, right, bottom = self._regions
        sx, sy = mw / size[0], mh / size[1]
        bx1, by1 = int(np.floor(box[0] * sx)), int(np.floor(box[1] * sy))
        bx2, by2 = int(np.ceil(box[2] * sx)), int(np.ceil(box[3] * sy))
        per = np.bincount(labels[by1:by2, bx1:bx2].ravel(), minlength=count)
        kept = np.zeros(count, bool)
        kept[1:] = per[1:] >= MEET * areas[1:]  # regions mostly in the map's box
        moving = int(areas[kept].sum())
        if moving < LEAST * mw * mh or moving < INSIDE * self.total:
            return None, 0
        fitted = (left[kept].min() / sx, top[kept].min() / sy,  # the kept regions' bounding boxes'
                  right[kept].max() / sx, bottom[kept].max() / sy)
        return (None, 0) if _area(fitted) > SMALLER * _area(box) else (fitted, moving)


def followed(motion: Motion, box: Box, size: tuple[int, int],
             regions: MovingRegions) -> tuple[float, float, float, float] | None:
    """The box of the corners that move as the picture does, when nearly all of them lie
    in ``box`` and what moved against them lies mostly outside it: the camera followed
    the object, the background streams past (the camera's motion is the object's). None
    otherwise."""
    width, height = size
    mh, mw = regions.shape
    if regions.total < LEAST * mw * mh or _panned(motion.transform, mw, mh) < PANNED:
        return None  # too little moved against the camera, or a camera that moved this little followed nothing
    points = motion.after[motion.agreeing(mw, mh)] * np.array([width, height])
    inside = ((points[:, 0] >= box[0]) & (points[:, 0] <= box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] <= box[3]))
    if int(inside.sum()) < 8 or inside.mean() < FOLLOWED:
        return None
    sx, sy = mw / width, mh / height
    cut = regions.mask[int(box[1] * sy):int(np.ceil(box[3] * sy)), int(box[0] * sx):int(np.ceil(box[2] * sx))]
    if np.count_nonzero(cut) > (1.0 - INSIDE) * regions.total:  # the moving pixels are not the background's
        return None
    held = points[inside]
    fitted = (max(box[0], held[:, 0].min() - PAD / sx), max(box[1], held[:, 1].min() - PAD / sy),
              min(box[2], held[:, 0].max() + PAD / sx), min(box[3], held[:, 1].max() + PAD / sy))
    return fitted if _area(fitted) <= SMALLER * _area(box) else None


def moving_box(mask: np.ndarray, box: Box, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The box (pixels of a ``size`` frame) of the moving pixels of ``mask`` (thumbnail
    scale) in the regions that meet ``box``, when they agree with it (``MovingRegions.box``)."""
    return MovingRegions(mask).box(box, size)


def _specks(found, pixels: int, regions: MovingRegions, size: tuple[int, int]) -> bool:
    """Whether a small fit (``found``, of ``pixels`` moving pixels) is the warp's specks:
    few moving pixels, or a strip a few thumbnail pixels thin (a frame's edge)."""
    mh, mw = regions.shape
    thin = min((found[2] - found[0]) * mw / size[0], (found[3] - found[1]) * mh / size[1]) < THIN
    return pixels < SPECKS * mw * mh or thin


def _leading(found: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """The moving pixels' box less the trailing strip: the difference of two frames holds
    the object where it is and where it was, so the box of the moving pixels moves as
    the object does; the side it left is moved up by how far it went since ``last``
    (the previous frame's moving box)."""
    if last is None:
        return found
    dx = (found[0] + found[2] - last[0] - last[2]) / 2
    dy = (found[1] + found[3] - last[1] - last[3]) / 2
    out = found.copy()
    if abs(dx) < 0.5 * (found[2] - found[0]):
        out[0 if dx > 0 else 2] += dx
    if abs(dy) < 0.5 * (found[3] - found[1]):
        out[1 if dy > 0 else 3] += dy
    return out


def _shift(found, moved: np.ndarray) -> np.ndarray:
    """How far ``found``'s centre lies from ``moved``'s, for both corners."""
    return np.tile((np.asarray(found[:2]) + found[2:] - moved[:2] - moved[2:]) / 2, 2)


def _unmoved(blurred: np.ndarray, previous: np.ndarray, least: float) -> np.ndarray | None:
    """The raw difference of two blurred thumbnails compared unwarped, when it holds under
    an eighth of ``least`` pixels (``moving``'s quick answer needs under a quarter of the
    warped difference's: the warp of a still picture, under ``STILL`` of a pixel, moves an
    edge's grey levels by a fraction of that margin); None: warp and compare."""
    _, moved = cv2.threshold(cv2.absdiff(blurred, previous), LEVEL, 1, cv2.THRESH_BINARY)
    return moved if 8 * cv2.countNonZero(moved) < least else None


@cache
def _ones(height: int, width: int) -> np.ndarray:
    """A read-only uint8 picture of ones (one a thumbnail size: the warp's source of its valid pixels)."""
    ones = np.ones((height, width), np.uint8)
    ones.flags.writeable = False
    return ones


def _panned(transform: np.ndarray, width: float, height: float) -> float:
    """How far a normalized 2x3 ``transform`` moves the furthest of the frame's corners
    along an axis, in pixels of a ``width`` x ``height`` thumbnail: the shift of a
    corner p is (linear - identity) @ p + offset, summed in that order (plain floats)."""
    (a, b, e), (c, d, f) = transform.tolist()
    a, d = a - 1.0, d - 1.0
    across = max(abs(e), abs(a + e), abs(b + e), abs((a + b) + e))
    down = max(abs(f), abs(c + f), abs(d + f), abs((c + d) + f))
    return max(across * width, down * height)


def _area(box) -> float:
    """A box's area."""
    return (box[2] - box[0]) * (box[3] - box[1])


def _share_inside(corners: np.ndarray, box: Box) -> float:
    """The share of ``corners``' area inside ``box``."""
    ix = max(0.0, min(corners[2], box[2]) - max(corners[0], box[0]))
    iy = max(0.0, min(corners[3], box[3]) - max(corners[1], box[1]))
    area = max(1e-9, (corners[2] - corners[0]) * (corners[3] - corners[1]))
    return ix * iy / area
