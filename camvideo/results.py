"""Per-frame results: the data contract shared by the exporter, the window and the CLI.

``FrameResult.to_dict()`` is exactly the per-frame JSON object of docs/architecture.md:
``{"frame", "time", "width", "height", "detections": [{"rank", "class_id",
"label", "score", "box"}]}`` with ``box`` as [x1, y1, x2, y2] in source pixels.
Detections whose maps come from Grad-CAM also carry ``"method": "gradcam"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 (x2, y2 exclusive) in source pixels
_NO_TIMINGS: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True)
class Detection:
    rank: int  # 1 = the top class
    class_id: int
    label: str
    score: float  # softmax probability
    box: Box | None  # None when the class has no region (e.g. gated as not confident)

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "class_id": self.class_id,
            "label": self.label,
            "score": round(float(self.score), 4),
            "box": list(self.box) if self.box is not None else None,
        }


@dataclass(frozen=True, eq=False)
class FrameResult:
    """What the model found in one frame, plus what the overlay needs to draw it."""

    frame: int
    time: float  # the frame's own presentation time, seconds
    width: int
    height: int
    detections: tuple[Detection, ...]
    # (k, h, w) float32 maps in [0, 1] at feature resolution, one per chosen class,
    # in rank order; ``map_class_ids[j]`` is the class of ``heatmaps[j]``.
    heatmaps: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1), np.float32))
    map_class_ids: tuple[int, ...] = ()
    # Opacity factor per map, 0..1: below 1 (faint) when the class was gated as not
    # confident; empty means all 1.
    map_opacity: tuple[float, ...] = ()
    # Stage -> milliseconds per frame, set once when the result is made: read-only
    # (a plain dict given here is copied; camvideo.runtime.timing makes them).
    timings: Mapping[str, float] = field(default_factory=lambda: _NO_TIMINGS)
    # How the maps were made: "cam" (exact CAM) or "gradcam" (the model's head is
    # not GAP -> Linear). Grad-CAM detections say so in their JSON.
    method: str = "cam"

    def __post_init__(self) -> None:
        if not isinstance(self.timings, MappingProxyType):
            object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

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
