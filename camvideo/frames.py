"""The pipeline's parts: ``ProcessedFrame``, what every sink gets a frame, and the
Protocols a ``Pipeline`` is built of (``Localizer``, ``SplitLocalizer``,
``Annotator``, ``Sink``).

A ``ProcessedFrame`` is a frame as the source read it (``camvideo.video.reader.Frame``), the picture the
annotators drew, and the model's ``FrameResult``: the last of the run's carrier
types (``Frame`` -> ``Evidence`` -> ``FrameResult`` -> ``ProcessedFrame``). They live
here, in neither the pipeline nor the sinks, so that both import them without a
cycle (``video`` never imports ``runtime``); nothing is imported at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from camvideo.results import FrameResult
    from camvideo.video.reader import Frame
    from camvideo.video.yuv import I420Picture


@dataclass(frozen=True, eq=False)
class ProcessedFrame:
    """One frame done: the source's ``frame``, the ``annotated`` picture (BGR uint8,
    the sinks' to write; a sink that draws more draws into it) and the ``result``;
    ``i420``: the annotated picture already converted for a recording
    (``camvideo.video.yuv.I420Picture``, made by the pipeline's writer with the
    recorder's ``i420_pool``), or None."""

    frame: Frame
    annotated: np.ndarray
    result: FrameResult
    i420: I420Picture | None = None

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def time(self) -> float:
        return self.frame.time


class Localizer(Protocol):
    """Images -> one ``FrameResult`` each, in order (``reset``: forget the frames before)."""

    def __call__(self, images: Sequence[np.ndarray], indices: Sequence[int],
                 times: Sequence[float]) -> list[FrameResult]: ...


@runtime_checkable
class SplitLocalizer(Localizer, Protocol):
    """A localizer whose work splits in two (``FrameLocalizer``): ``forward`` runs in
    the pool, several batches side by side; ``finish`` in frame order."""

    model: object
    method: object

    def forward(self, images: Sequence[np.ndarray]) -> object: ...

    def finish(self, evidence: object, indices: Sequence[int], times: Sequence[float]) -> list[FrameResult]: ...


class Annotator(Protocol):
    """Draws ``result`` on ``image``: returns a new picture, or ``image`` drawn in
    place. The first annotator of a pipeline gets the frame's own picture, which it
    must leave as it is (``FrameAnnotator`` and ``NoAnnotator`` copy it); the next
    ones get the picture before them."""

    def annotate(self, image: np.ndarray, result: FrameResult) -> np.ndarray: ...


class Sink(Protocol):
    """Takes each frame done, in frame order, in the writer thread."""

    def write(self, item: ProcessedFrame) -> None: ...

    def close(self) -> None: ...
