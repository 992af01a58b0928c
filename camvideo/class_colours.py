"""A class's colour: one rule for every front end, from the class id alone.

Boxes, tags and the window's timeline lines take a class's colour from here
(``annotate``'s annotators by default, so ``camvideo process``, ``camvideo
image``, batches and the window draw alike). A class's colour depends on its id
and on the other classes shown with it, never on rank, on the frames before it,
or on the run: the same class has the same colour in every file, on every run, in
every segment of a long file split across workers (segments are stitched: a
first-seen order would change colours at a boundary), and in the window.

``PALETTE`` holds 20 colours; class ``c``'s own colour is ``PALETTE[c % 20]``, so
classes whose ids lie less than 20 apart (ImageNet's neighbours, such as the
cats 281-285, which often share a frame) never share one, and the palette is
ordered so that neighbouring slots differ most. Two classes shown together whose
ids differ by a multiple of 20 would: the lower id keeps its own colour, the
other takes the next slot that no class shown holds (a class never loses its
own colour to a class that lost its own; the rule depends only on which classes
are shown, not on their order or ranks). No two classes
shown together share a colour while there are at most 20 of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

BGR = tuple[int, int, int]

# Sasha Trubetskoy's 20 simple distinct colours, less black, navy and maroon (they
# vanish on the boxes' dark outline and the timeline's dark ground) and with rose
# (Kelly's strong purplish pink) added; ordered so that slots 1 to 4 apart differ
# by at least 30 CIELAB units (ΔE; tests/test_class_colours.py checks it), and
# turned so that the Egyptian cat (285) of the demo clip is white.
PALETTE: tuple[BGR, ...] = (
    (216, 99, 67),  # blue
    (25, 225, 255),  # yellow
    (75, 180, 60),  # green
    (49, 130, 245),  # orange
    (144, 153, 70),  # teal
    (255, 255, 255),  # white
    (255, 190, 220),  # lavender
    (230, 50, 240),  # magenta
    (0, 128, 128),  # olive
    (36, 99, 154),  # brown
    (200, 250, 255),  # beige
    (212, 190, 250),  # pink
    (244, 212, 66),  # cyan
    (75, 25, 230),  # red
    (180, 30, 145),  # purple
    (69, 239, 191),  # lime
    (195, 255, 170),  # mint
    (177, 216, 255),  # apricot
    (169, 169, 169),  # grey
    (142, 118, 246),  # rose
)


def own_slot(class_id: int) -> int:
    """The palette slot of ``class_id`` when no class shown with it claims that slot first."""
    return int(class_id) % len(PALETTE)


def class_colors(class_ids: Iterable[int]) -> list[BGR]:
    """The colour (BGR) of each of ``class_ids``, classes shown together (a class
    twice: the same colour). Each own slot goes to the lowest id that has it; the
    others, in id order, take the next slot no class holds."""
    return list(_colors(tuple(int(c) for c in class_ids)))


@lru_cache(maxsize=256)
def _colors(ids: tuple[int, ...]) -> tuple[BGR, ...]:
    """``class_colors`` of a tuple of ids, worked out once (a video shows the same few
    classes frame after frame)."""
    slot: dict[int, int] = {}
    for class_id in sorted(set(ids)):
        slot.setdefault(own_slot(class_id), class_id)
    slot = {class_id: s for s, class_id in slot.items()}
    held = set(slot.values())
    for class_id in sorted(set(ids) - slot.keys()):
        home = own_slot(class_id)
        free = (s % len(PALETTE) for s in range(home + 1, home + len(PALETTE)))
        slot[class_id] = next((s for s in free if s not in held), home)  # more than 20 classes: some share
        held.add(slot[class_id])
    return tuple(PALETTE[slot[c]] for c in ids)


def result_colors(result) -> list[BGR]:
    """One colour per detection of ``result`` (a ``FrameResult``), in its order: the
    ``colors`` of ``annotate``'s boxes and labels."""
    return class_colors(det.class_id for det in result.detections)
