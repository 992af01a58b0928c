"""A window recording's clock: source times to the recording's own, and its length.

The window records what it shows, from wherever the file is when Record is
pressed: the recording starts at 0 s (``start`` is the source time that became
0). A seek or a loop while recording (a jump back, or forward by more than
``max_gap_s``) does not jump in the recording: it goes on one frame later, and
``jumps`` counts it (the source's sound, copied along, stops there: it would no
longer match). ``elapsed`` is the recording's length so far, from its frames:
the Record box's counter, which stops when the frames stop (the file ended, or
paused), instead of the wall clock running on.
"""

from __future__ import annotations

import math

MAX_GAP_S = 1.0  # a jump in source time larger than this while recording is a seek, not late frames


class RecordingClock:
    """Places each recorded frame's source time on the recording's timeline."""

    def __init__(self, fps_hint: float = 30.0, max_gap_s: float = MAX_GAP_S) -> None:
        if not fps_hint or not math.isfinite(fps_hint) or fps_hint <= 0:
            fps_hint = 30.0
        if max_gap_s <= 0:
            raise ValueError(f"max_gap_s must be > 0, got {max_gap_s}")
        self.frame_s = 1.0 / fps_hint
        self.max_gap_s = max_gap_s
        self.start: float | None = None  # the source time that is the recording's 0 s
        self.jumps = 0  # seeks and loops while recording
        self.elapsed = 0.0  # the recording's time of its last frame
        self._offset = 0.0
        self._last = 0.0

    def place(self, source_time: float) -> float:
        """The recording's time for a frame at ``source_time`` (source seconds)."""
        if not math.isfinite(source_time):
            raise ValueError(f"source_time must be finite, got {source_time}")
        if self.start is None:
            self.start = self._offset = source_time
        elif not 0.0 < source_time - self._last <= self.max_gap_s:
            self._offset += source_time - self._last - self.frame_s  # one frame on, not a jump
            self.jumps += 1
        self._last = source_time
        self.elapsed = source_time - self._offset
        return self.elapsed
