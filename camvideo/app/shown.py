"""One annotated frame on its way to the screen, without Qt.

``image`` is what the screen paints, made in the pipeline's writer thread by the
sink's ``to_image`` (the window's: a QImage, ``camvideo.qt.convert``), so the GUI
thread only paints; the rest is the frame's result and the arrays a snapshot, a
recording or a paused frame's re-annotation need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the core (numpy, cv2) loads in the background
    from camvideo.results import FrameResult


@dataclass(frozen=True, eq=False)
class ShownFrame:
    """One annotated frame on its way to the screen."""

    image: object  # what is painted (the window's: a QImage)
    index: int
    time: float  # the frame's own presentation time, seconds
    captured: float  # time.monotonic() when the reader got it
    result: FrameResult
    annotated: object = field(repr=False)  # the BGR array (snapshots): heat map and boxes
    recorded: bool = False  # written to the running recording
    labels_burned: bool = False  # ``annotated`` has the labels drawn in (as recorded)
    frame: object = field(default=None, repr=False)  # the source frame (BGR), to annotate again while paused
