"""What the bar of a camvideo recording says, played as recorded or analysed again.

A camvideo recording (its container says so) plays as it is: its labels are
burned in. The bar under the video says which of the two the window does, and
its button names the other one: "Analyse anyway" while it plays as recorded,
"Play as recorded" once it is analysed (the button used to keep its first label
either way).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordingBar:
    """The bar's state: shown or not, its line, its button's label and tip, and
    whether the button is down (analysed)."""

    shown: bool
    text: str
    button: str
    tip: str
    analysed: bool


PLAIN = RecordingBar(True, "a camvideo recording: played as recorded (its labels are in the picture)",
                     "Analyse anyway", "run the model on this recording too (its own labels are burned in: "
                     "the new ones stack on them)", False)
ANALYSED = RecordingBar(True, "a camvideo recording, analysed again: its own labels lie under these",
                        "Play as recorded", "play it as it is again: its own labels only", True)
HIDDEN = RecordingBar(False, "", PLAIN.button, PLAIN.tip, False)


def recording_bar(recording_source: bool, plain: bool) -> RecordingBar:
    """The bar for the source on screen: hidden unless it is a camvideo recording."""
    if not recording_source:
        return HIDDEN
    return PLAIN if plain else ANALYSED
