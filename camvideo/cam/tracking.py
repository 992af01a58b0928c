"""Boxes that hold still on video: each frame's boxes matched to the last frame's and filtered.

``BoxTracker.update`` takes one frame's boxes per class (in rank order) and gives
them back smoothed: each box is matched, greedily by IoU, to one of the previous
frame's tracks of its class (a class new in the picture continues the tracks of
the classes boxed in the last frame, so the box does not jump when only the label
changes), and the ``BoxFilter`` combines the two. Before that, the tracks are moved
with the picture's measured motion (``camvideo.cam.motion``: the flow inside each
box, or the whole picture's), so that a pan, a zoom or the object itself is
followed without lag. A cut, a reset or another frame size starts afresh; a class
not boxed in a frame loses its tracks.

``SmoothingFilter`` (the default): a track that the motion moved is averaged with
``moved_box_alpha`` and no velocity term; one not moved (no motion measured, or
``--no-motion``) gets an EMA of its corners with a damped velocity term (Holt's
linear method), so that steady motion does not lag. Another filter (a Kalman
filter, say) is one class with ``start`` and ``update``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from camvideo.cam.boxes import iou
from camvideo.cam.motion import Motion, move_box
from camvideo.results import Box
from camvideo.settings import SmoothingSettings


@dataclass(frozen=True, eq=False)
class Track:
    """One box followed across frames: its corners (x1, y1, x2, y2, float pixels),
    their velocity per frame, and whether the picture's motion moved it this frame.
    The corners and velocity are 4 floats: a NumPy array, or (``SmoothingFilter``'s)
    a tuple of plain floats."""

    corners: np.ndarray | tuple[float, ...]
    velocity: np.ndarray | tuple[float, ...]
    moved: bool = False


class BoxFilter(Protocol):
    """How a track and a new box of it become the track's next state."""

    def start(self, box: np.ndarray) -> Track: ...

    def update(self, track: Track, box: np.ndarray) -> Track: ...


_STILL = (0.0, 0.0, 0.0, 0.0)


class SmoothingFilter:
    """The EMA of the corners with a damped velocity term; a moved track's plain average.

    Worked corner by corner in plain floats (4 of them: NumPy's calls cost more than
    the arithmetic), the same operations in the same order as on float64 arrays: the
    same values to the bit."""

    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings

    def start(self, box) -> Track:
        return Track(_floats(box), _STILL)

    def update(self, track: Track, box) -> Track:
        s = self.settings
        box, corners, velocity = _floats(box), _floats(track.corners), _floats(track.velocity)
        if track.moved:  # moved with the picture already: a plain average of what is left
            a, keep = s.moved_box_alpha, 1.0 - s.moved_box_alpha
            return Track(tuple([a * b + keep * c for b, c in zip(box, corners)]), _STILL)
        damping, a, keep = s.trend_damping, s.box_alpha, 1.0 - s.box_alpha
        smoothed = tuple([a * b + keep * (c + damping * v) for b, c, v in zip(box, corners, velocity)])
        t, carry = s.trend_alpha, (1.0 - s.trend_alpha) * s.trend_damping
        return Track(smoothed, tuple([t * (m - c) + carry * v for m, c, v in zip(smoothed, corners, velocity)]))


def _floats(values) -> tuple[float, ...]:
    """4 corners (an array, a tuple of ints or floats) as a tuple of plain floats."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if type(values) is tuple and set(map(type, values)) <= {float}:  # floats already (map, set: no generator)
        return values
    return tuple([float(v) for v in values])


class BoxTracker:
    """Box tracks per class across the frames of one video (frames in order). With
    ``settings`` None it keeps nothing and gives the boxes back as they came."""

    def __init__(self, settings: SmoothingSettings | None = SmoothingSettings(),
                 box_filter: BoxFilter | None = None) -> None:
        self.settings = settings
        self.box_filter = box_filter
        self.reset()

    def reset(self) -> None:
        """Forget every track (a cut, a seek: the next boxes start afresh)."""
        self._tracks: dict[int, list[Track]] = {}
        self._size: tuple[int, int] | None = None  # (width, height) the tracks are in

    def update(self, boxes: Mapping[int, Sequence[Box]], size: tuple[int, int], motion: Motion | None = None,
               cut: bool = False) -> dict[int, list[Box]]:
        """One frame: ``boxes`` by class id (rank order; classes without a box left
        out) in a ``size`` (width, height) frame -> the smoothed boxes, each inside
        the frame. ``motion``: the picture's since the last frame; ``cut``: a new shot."""
        if self.settings is None:
            return {c: list(b) for c, b in boxes.items()}
        if cut or size != self._size:
            self.reset()  # pixels of another frame size mean nothing here
            self._size = size
        elif motion is not None:
            self._move(motion, size)
        box_filter = self.box_filter if self.box_filter is not None else SmoothingFilter(self.settings)
        out = {c: self._smooth(c, b, size, box_filter) for c, b in boxes.items() if b}
        self._tracks = {c: t for c, t in self._tracks.items() if c in out}
        return out

    def _move(self, motion: Motion, size: tuple[int, int]) -> None:
        """Move each track with the picture inside it (or the whole picture's motion
        when too few corners lie inside); a small object in a still picture stays."""
        for c, tracks in self._tracks.items():
            moved = []
            for track in tracks:
                own = motion.within(track.corners, *size)
                if own is None and motion.still:
                    moved.append(track)  # not measured, not moved
                else:
                    corners = move_box(track.corners, motion.transform if own is None else own, *size)
                    moved.append(Track(corners, track.velocity, True))  # made directly: cheaper than dataclasses.replace
            self._tracks[c] = moved

    def _smooth(self, class_id: int, boxes: Sequence[Box], size: tuple[int, int], box_filter: BoxFilter) -> list[Box]:
        """This frame's boxes of one class, each matched to one track and filtered."""
        old = self._tracks.get(class_id)
        if old is None:  # a class without tracks of its own continues the others'
            old = [t for tracks in self._tracks.values() for t in tracks]
        plain = isinstance(box_filter, SmoothingFilter)
        if plain:  # plain floats (its start takes any 4 numbers)
            new = [box_filter.start(b) for b in boxes]
        else:
            new = [box_filter.start(np.asarray(b, np.float64)) for b in boxes]
        corners = [_floats(n.corners) for n in new], [_floats(o.corners) for o in old]  # floats: no NumPy scalars
        pairs = sorted(((iou(n, o), i, j) for i, n in enumerate(corners[0]) for j, o in enumerate(corners[1])),
                       reverse=True)
        taken_new, taken_old = set(), set()
        for overlap, i, j in pairs:
            if overlap < self.settings.match_iou:
                break
            if i in taken_new or j in taken_old:
                continue
            taken_new.add(i)
            taken_old.add(j)
            new[i] = box_filter.update(old[j] if plain else _arrays(old[j]), new[i].corners)
        self._tracks[class_id] = new
        return [inside(tuple([round(v) for v in _floats(t.corners)]), size) for t in new]


def _arrays(track: Track) -> Track:
    """``track`` with its corners and velocity as float64 arrays, as a ``BoxFilter`` other
    than ``SmoothingFilter`` takes them (a track that filter made, before the filter was
    swapped mid-stream, holds tuples of plain floats)."""
    if isinstance(track.corners, np.ndarray) and isinstance(track.velocity, np.ndarray):
        return track
    return Track(np.asarray(track.corners, np.float64), np.asarray(track.velocity, np.float64), track.moved)


def inside(box: Box, size: tuple[int, int] | None) -> Box:
    """``box`` clipped to a ``size`` (width, height) frame, at least a pixel wide and high."""
    if size is None:
        return box
    width, height = size
    x1, y1 = min(max(box[0], 0), width - 1), min(max(box[1], 0), height - 1)
    return x1, y1, min(max(box[2], x1 + 1), width), min(max(box[3], y1 + 1), height)
