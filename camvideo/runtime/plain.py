"""Frames played as they are: a localizer and an annotator that do nothing.

A camvideo recording has its heat maps, boxes and labels burned in; analysed
again, a second set of labels would stack under the first. The window plays
such a file through the same ``Pipeline`` (pacing, pause, seek, recording)
with these two in place of the model and the overlay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from camvideo.results import FrameResult


class NoLocalizer:
    """A localizer for ``Pipeline`` that finds nothing: one empty ``FrameResult``
    per frame (no forward pass: no model needed)."""

    method = "none"

    def __call__(self, frames: Sequence[np.ndarray], indices: Sequence[int] | None = None,
                 times: Sequence[float] | None = None) -> list[FrameResult]:
        indices = list(indices) if indices is not None else list(range(len(frames)))
        times = list(times) if times is not None else [0.0] * len(frames)
        if len(indices) != len(frames) or len(times) != len(frames):
            raise ValueError(f"indices and times must have one entry per frame ({len(frames)})")
        return [FrameResult(frame=int(i), time=float(t), width=int(f.shape[1]), height=int(f.shape[0]),
                            detections=()) for f, i, t in zip(frames, indices, times)]

    def reset(self) -> None:
        """Nothing is carried across frames."""


class NoAnnotator:
    """An annotator that draws nothing: a copy of the frame (sinks may draw into theirs)."""

    def annotate(self, frame: np.ndarray, result=None) -> np.ndarray:
        return frame.copy()

    def burn_labels(self, annotated: np.ndarray, result=None) -> np.ndarray:
        return annotated
