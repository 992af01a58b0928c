"""What the timeline strip says besides its lines, without Qt: the time axis, the
score scale and the stretches that could not be decoded.

``time_ticks`` picks the ticks of the time axis: a round step (1, 2, 5, 10, 15,
30 s, 1, 2, 5, 10 min ...) as small as keeps two labels ``min_px`` apart at the
strip's width, labelled as the Playback box's clock (``camvideo.app.position.clock``:
"0:05", "1:30", "1:02:00"; tenths when the step is under a second). ``SCORE_LEVELS``: the score scale's lines (scores are
0..1, the legend's numbers). ``damaged_spans`` turns the source's lost
stretches (``camvideo.video.decoding.Damage``) into what the strip hatches and
its tooltip says ("frames 34-59 (1.1-2.0 s) could not be decoded").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from camvideo.app.position import clock

# round steps of the time axis, in seconds
STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600)
SCORE_LEVELS = ((1.0, "1.0"), (0.5, "0.5"), (0.0, "0"))  # the score scale: top, middle, bottom


@dataclass(frozen=True)
class Tick:
    """A tick of the time axis: where (seconds) and what it says."""

    seconds: float
    label: str


@dataclass(frozen=True)
class DamagedSpan:
    """A stretch of the file that could not be decoded: from ``start`` to ``end``
    (seconds; ``end`` is when the next frame that decoded was due) and the words
    the strip's tooltip says."""

    start: float
    end: float
    text: str


def tick_step(duration: float, width: float, min_px: float) -> float:
    """The smallest round step whose ticks lie at least ``min_px`` apart when
    ``duration`` seconds span ``width`` pixels (the largest step when none does)."""
    if duration <= 0 or width <= 0:
        return STEPS[-1]
    per_second = width / duration
    return next((step for step in STEPS if step * per_second >= min_px), STEPS[-1])


def time_ticks(duration: float, width: float, min_px: float = 60.0) -> list[Tick]:
    """The time axis of a strip ``width`` pixels wide over ``duration`` seconds:
    a tick at 0 and at each multiple of ``tick_step`` up to the end, labelled
    ``clock`` (tenths when the step is under a second). None for no duration."""
    if not (duration > 0 and math.isfinite(duration)) or width <= 0:
        return []
    if min_px <= 0:
        raise ValueError(f"min_px must be positive, got {min_px}")
    step = tick_step(duration, width, min_px)
    decimals = 1 if step < 1 else 0
    count = int(math.floor(duration / step + 1e-9))
    return [Tick(round(k * step, 6), clock(k * step, decimals)) for k in range(count + 1)]


def damaged_spans(damage: Iterable) -> list[DamagedSpan]:
    """The lost stretches (``Damage``: ``first``, ``last``, ``start``, ``end``) of a
    video file as the strip shows them, in time order; an image of a slideshow
    (``file`` set) has no time and is left out."""
    spans = [DamagedSpan(float(d.start), max(float(d.end), float(d.start)), f"{d} could not be decoded")
             for d in damage if getattr(d, "file", None) is None]
    return sorted(spans, key=lambda s: s.start)


def span_at(spans: Iterable[DamagedSpan], seconds: float, slack: float = 0.0) -> DamagedSpan | None:
    """The span that holds ``seconds`` (``slack`` seconds either side: a short one is thin)."""
    return next((s for s in spans if s.start - slack <= seconds <= s.end + slack), None)
