"""Where a file is, in the words of the Playback box, and where ← / → take it.

``clock`` writes a time (``m:ss``, ``h:mm:ss`` past an hour; ``m:ss.cc`` while paused, so that each frame
step shows at 30 fps and more); ``position_text`` is the Playback box's clock
line: the time in the file and its length; ``frame_line`` the line under the seek
bar, the frame's number (the ``frame`` of ``camvideo process --export``): three
steps never look like none. ``seek_target`` is where ``seconds`` more or less from a position go: a
looping file wraps round (→ near its end goes on from its start, not to an
"ended" 0:00), a file played once stops at its ends. ``end_text`` is what the
status bar says when a file ends: "ended early" only when damage cut its end
off, not for a file damaged in the middle that played to its last frame.
``first_pass`` places a looping file's frame of a later round where it lies in
the file (the timeline keeps one result a frame of the file).
"""

from __future__ import annotations

import math


def clock(seconds: float, decimals: int = 0) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on), or ``m:ss.c`` / ``m:ss.cc`` with 1 or 2
    ``decimals`` (rounded down: the clock never shows a frame's time ahead of it)."""
    if decimals not in (0, 1, 2):
        raise ValueError(f"decimals must be 0, 1 or 2, got {decimals}")
    scale = 10 ** decimals
    units = max(0, int(math.floor(seconds * scale + 1e-6))) if math.isfinite(seconds) else 0
    whole = units // scale
    hours, minutes = divmod(whole // 60, 60)
    text = f"{hours}:{minutes:02d}:{whole % 60:02d}" if hours else f"{minutes}:{whole % 60:02d}"
    return f"{text}.{units % scale:0{decimals}d}" if decimals else text


def in_file(time: float, duration: float | None, *, loop: bool) -> float:
    """A frame's time as a position in the file of ``duration`` seconds (its header's
    length): a looping file's clock restarts each round; a file played once never
    wraps (its last frame can lie past that length: a clip cut without re-encoding),
    it stops at its end."""
    if not duration:
        return time
    return time % duration if loop else min(time, duration)


def first_pass(index: int, time: float, duration: float | None,
               loop_frames: int | None = None) -> tuple[int, float]:
    """Frame ``index`` at ``time`` as the file's own frame number and time: itself
    in the first round, in a file that does not loop (``loop_frames`` None: its last
    frame can lie past the header's length) or of unknown length; the same frame of
    the file in a later round of a looping file of ``loop_frames`` frames."""
    if not duration or time < duration or not loop_frames:
        return index, time
    return index % loop_frames, time % duration


def position_text(time: float, duration: float | None, *, paused: bool, loop: bool) -> str:
    """The Playback box's clock: ``0:03 / 0:10`` while playing; paused,
    ``0:03.43 / 0:10`` (hundredths: each frame step shows); ``loop``: as ``in_file``."""
    text = clock(in_file(time, duration, loop=loop), 2 if paused else 0)
    return f"{text} / {clock(duration)}" if duration else text


def frame_line(frame: int | None, loop_frames: int | None = None) -> str:
    """The line under the seek bar for a video file: ``frame 103`` (the ``frame``
    of ``camvideo process --export``); a looping file's count goes on round after
    round, so with ``loop_frames`` (its frames) it is the frame in the file.
    Empty before the first frame."""
    if frame is None or frame < 0:
        return ""
    return f"frame {frame % loop_frames if loop_frames else frame}"


def seek_target(position: float, seconds: float, duration: float, *, loop: bool) -> float:
    """Where ``seconds`` (+ forward, - back) from ``position`` go in a file of
    ``duration`` seconds: wrapped round when it ``loop``s, else within 0..duration."""
    if not duration or duration <= 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    target = position + seconds
    if loop:
        return target % duration
    return min(max(target, 0.0), duration)


ENDED = "end of the file"
ENDED_EARLY = "ended early: the file is damaged (see the message above)"
ENDED_DAMAGED = "end of the file; damaged frames were skipped (see the message above)"


def end_text(damaged: bool, last_frame: int | None, frame_count: int | None) -> str:
    """The status bar at a file's end: plain, ``ENDED_DAMAGED`` when the frame on
    screen is the file's last (``frame_count``: the container's count) though some
    were lost, else ``ENDED_EARLY`` (the end was lost, or where it lies is unknown)."""
    if not damaged:
        return ENDED
    if last_frame is not None and frame_count and last_frame >= frame_count - 1:
        return ENDED_DAMAGED
    return ENDED_EARLY
