"""Which colour a class has in the window: the same one for as long as a source plays.

The command line colours boxes and tags by rank (``annotate.rank_color``: the
top class white, the second gold …). In the window a rank colour changes hands
whenever two classes swap places, and the timeline's lines, ordered by summed
score, swapped colours as the track filled in (issue 23 follow-up). So the
window gives each class a colour of ``annotate.PALETTE`` when it first
appears, and keeps it: the boxes and tags on the video, the timeline's lines
and its legend all ask ``ClassColours``.

A new class takes the first palette colour no class holds (the first frame's
classes get the rank colours, in rank order). Once all ten are held, it takes
the colour of the class seen least recently that is not in the same call (a
frame's classes never share a colour while the palette has enough); only then
does a class lose its colour. Thread-safe: the pipeline's thread colours the
frames, the GUI thread the timeline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from camvideo.annotate import PALETTE

BGR = tuple[int, int, int]


class ClassColours:
    """Palette colours by class id, each kept from its first appearance (``clear``: a new source)."""

    def __init__(self, palette: Sequence[BGR] = PALETTE) -> None:
        if not palette:
            raise ValueError("palette must hold at least one colour")
        self.palette = tuple(palette)
        self._lock = threading.Lock()
        self._slot: dict[int, int] = {}  # class id -> palette index
        self._seen: dict[int, int] = {}  # class id -> the call it was last asked for in
        self._calls = 0

    def slots(self, class_ids: Iterable[int]) -> list[int]:
        """The palette index of each of ``class_ids`` (a class twice: the same index),
        new classes given one in the order they come."""
        ids = [int(c) for c in class_ids]
        with self._lock:
            self._calls += 1
            wanted = dict.fromkeys(ids)
            for class_id in wanted:
                if class_id not in self._slot:
                    self._slot[class_id] = self._free_slot(wanted)
                self._seen[class_id] = self._calls
            return [self._slot[c] for c in ids]

    def _free_slot(self, wanted: dict[int, None]) -> int:
        """A palette index for a new class: one nobody holds, else the one of the class
        seen least recently outside ``wanted`` (it loses it), else one of ``wanted``'s."""
        held = set(self._slot.values())
        free = next((s for s in range(len(self.palette)) if s not in held), None)
        if free is not None:
            return free
        others = [c for c in self._slot if c not in wanted]
        if others:
            oldest = min(others, key=self._seen.__getitem__)
            self._seen.pop(oldest)
            return self._slot.pop(oldest)
        return len(self._slot) % len(self.palette)  # more classes in one call than colours

    def colors(self, class_ids: Iterable[int]) -> list[BGR]:
        """The colour (BGR) of each of ``class_ids``."""
        return [self.palette[s] for s in self.slots(class_ids)]

    def of_result(self, result) -> list[BGR]:
        """One colour per detection of ``result`` (a ``FrameResult``), in its order:
        what ``annotate``'s ``colors`` argument asks for."""
        return self.colors(det.class_id for det in result.detections)

    def clear(self) -> None:
        """Forget every class (a new source, or another model's classes)."""
        with self._lock:
            self._slot.clear()
            self._seen.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._slot)
