"""Per-frame results: the data contract shared by the exporter, the window and the CLI.

``FrameResult.to_dict()`` is exactly the per-frame JSON object of docs/architecture.md:
``{"frame", "time", "width", "height", "detections": [{"rank", "class_id",
"label", "score", "box"}]}`` with ``box`` as [x1, y1, x2, y2] in source pixels.
A detection whose class map was split into regions also carries ``"regions"``: the
boxes of its map's connected regions, ranked, ``box`` first (``camvideo.cam.regions``).
Detections whose maps come from Grad-CAM also carry ``"method": "gradcam"``.
``FrameResult.json_line`` is that object's JSON text (``json.dumps``'s), the export's
line, made once a result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import numpy as np


def _line_encoder():
    """``json.dumps``'s own C encoder, made once (``json.dumps`` makes an encoder a call):
    a function from a frame's dict to its JSON text, the same text as ``json.dumps``
    (``", "`` and ``": "`` between items, ASCII, NaN allowed); ``json.dumps`` itself
    where the interpreter has no C encoder or one of another signature."""
    from json import encoder

    try:
        chunks = encoder.c_make_encoder(None, json.JSONEncoder().default, encoder.encode_basestring_ascii, None,
                                        ": ", ", ", False, False, True)
        if "".join(chunks({"a": [1, 0.5, None, "\u00e9"]}, 0)) == '{"a": [1, 0.5, null, "\\u00e9"]}':
            return lambda obj: "".join(chunks(obj, 0))
    except TypeError:  # no C encoder (None), or its arguments changed
        pass
    return json.dumps


_to_json = _line_encoder()

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 (x2, y2 exclusive) in source pixels
_NO_TIMINGS: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True)
class Detection:
    rank: int  # 1 = the top class
    class_id: int
    label: str
    score: float  # softmax probability
    box: Box | None  # None when the class has no region (e.g. gated as not confident)
    # Every region's box of the class's map, ranked, ``box`` first; () when not listed.
    regions: tuple[Box, ...] = ()

    def to_dict(self) -> dict:
        out = {
            "rank": self.rank,
            "class_id": self.class_id,
            "label": self.label,
            "score": round(float(self.score), 4),
            "box": list(self.box) if self.box is not None else None,
        }
        if self.regions:
            out["regions"] = [list(b) for b in self.regions]
        return out


_NO_HEAT = np.zeros((0, 1, 1), np.float32)
_NO_HEAT.setflags(write=False)


@dataclass(frozen=True, eq=False)
class ClassMaps:
    """A frame's heat maps keyed by class, columnar (as supervision's ``Detections``):
    row j is class ``class_ids[j]``, its map ``heat[j]`` ((h, w) float32 in [0, 1], at
    feature resolution) and its ``opacity[j]`` (below 1, faint, when the class was
    gated as not confident). Rows are in rank order; ``maps[class_id]`` looks one up."""

    class_ids: tuple[int, ...] = ()
    heat: np.ndarray = field(default_factory=lambda: _NO_HEAT)
    opacity: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        ids = self.class_ids
        if not _plain(ids, int):  # ids as plain ints (a tuple of them, as the localizer gives, is kept)
            ids = tuple(int(c) for c in ids)
            object.__setattr__(self, "class_ids", ids)
        if len(set(ids)) != len(ids):
            raise ValueError(f"class_ids must name each class once, got {ids}")
        if self.heat.ndim != 3 or len(self.heat) != len(ids):
            raise ValueError(f"heat must be (k, h, w) with one map per class id ({len(ids)}), got {self.heat.shape}")
        opacity = self.opacity
        if not opacity:
            opacity = (1.0,) * len(ids)
        elif not _plain(opacity, float):
            opacity = tuple(float(o) for o in opacity)
        if len(opacity) != len(ids):
            raise ValueError(f"opacity must have one value per class id ({len(ids)}), got {len(opacity)}")
        object.__setattr__(self, "opacity", opacity)

    def __len__(self) -> int:
        return len(self.class_ids)

    def __contains__(self, class_id: object) -> bool:
        return class_id in self.class_ids

    def row(self, class_id: int) -> int:
        """The row of ``class_id`` (KeyError when the frame has no map of it)."""
        try:
            return self.class_ids.index(int(class_id))
        except ValueError:
            raise KeyError(class_id) from None

    def __getitem__(self, class_id: int) -> np.ndarray:
        return self.heat[self.row(class_id)]

    def opacity_of(self, class_id: int) -> float:
        return self.opacity[self.row(class_id)]


def _plain(values, kind: type) -> bool:
    """Whether ``values`` is a tuple of ``kind`` itself (no subclass: a bool is not an int
    here, nor a NumPy number a float)."""
    return type(values) is tuple and set(map(type, values)) <= {kind}


NO_MAPS = ClassMaps()


@dataclass(frozen=True, eq=False)
class FrameResult:
    """What the model found in one frame, plus what the overlay needs to draw it:
    ``detections`` (one per box, rank order) and ``maps`` (one per class, keyed by
    class id)."""

    frame: int
    time: float  # the frame's own presentation time, seconds
    width: int
    height: int
    detections: tuple[Detection, ...]
    maps: ClassMaps = NO_MAPS
    # Stage -> milliseconds per frame, set once when the result is made: read-only
    # (a plain dict given here is copied; camvideo.timing makes them).
    timings: Mapping[str, float] = field(default_factory=lambda: _NO_TIMINGS)
    # How the maps were made: "cam" (exact CAM) or "gradcam" (the model's head is
    # not GAP -> Linear). Grad-CAM detections say so in their JSON.
    method: str = "cam"

    def __post_init__(self) -> None:
        if not isinstance(self.maps, ClassMaps):
            raise TypeError(f"maps must be a ClassMaps, got {type(self.maps).__name__}")
        if not isinstance(self.timings, MappingProxyType):
            object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    # Rank-order views of ``maps`` (row j is rank j + 1's class).
    @property
    def heatmaps(self) -> np.ndarray:
        return self.maps.heat

    @property
    def map_class_ids(self) -> tuple[int, ...]:
        return self.maps.class_ids

    @property
    def map_opacity(self) -> tuple[float, ...]:
        return self.maps.opacity

    @cached_property
    def json_line(self) -> str:
        """``to_dict()`` as JSON text (``json.dumps``'s), the export's line without its
        newline: made once a result, by the first thread that reads it (a pipeline's writer,
        while the result is in its cache; the exporter then writes it). Kept in the
        instance's ``__dict__`` (a frozen result's text never changes); a result made by
        ``dataclasses.replace`` makes its own."""
        return _to_json(self.to_dict())

    def to_dict(self) -> dict:
        return {
            "frame": self.frame,
            "time": round(float(self.time), 6),
            "width": self.width,
            "height": self.height,
            "detections": [
                {**d.to_dict(), "method": "gradcam"} if self.method == "gradcam" else d.to_dict()
                for d in self.detections
            ],
        }
