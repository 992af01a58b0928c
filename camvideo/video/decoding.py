"""Decoding with PyAV packet by packet, so that damage costs only what is damaged.

``container.decode(stream)`` ends at the first packet that does not decode: one
bad packet in an MP4 lost the second half of the file. ``PacketDecoder`` feeds
the decoder one packet at a time instead, skips a packet that does not decode
(counted in ``skipped``), retries the demuxer after an error, and notes the signs
of damage (``damaged``): a packet that did not decode or is flagged corrupt, a
demuxer error, bytes the demuxer skipped over (Matroska resyncs at the next
cluster and says nothing). A source that numbers frames by the file's rate uses
that sign to tell lost frames from a variable frame rate (``Damage``).
``av_image`` is the one way a decoded frame becomes a BGR image (through a
source's own swscale context, ``bgr_reformatter``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camvideo.errors import reason

log = logging.getLogger(__name__)

SKIPPED_BYTES = 1024  # a jump between packets larger than this: the demuxer skipped damaged data
MAX_DEMUX_ERRORS = 20  # demuxer errors in a row, no packet between: the rest cannot be read


@dataclass(frozen=True)
class Damage:
    """Frames ``first``..``last`` (the source's indices) that could not be decoded;
    ``start`` is the time the first of them was due, ``end`` the time of the next
    frame that decoded (or of the file's end); ``file``: the one image of a folder
    or pattern that could not be read (its name says which, not a time);
    ``truncated``: the file's missing tail (it ends before its header says; ``end``
    is then the header's end)."""

    first: int
    last: int
    start: float
    end: float
    file: str | None = None
    truncated: bool = False

    @property
    def frames(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        if self.file is not None:
            return f"{Path(self.file).name} (image {self.first + 1})"
        which = f"frame {self.first}" if self.first == self.last else f"frames {self.first}-{self.last}"
        start, end = f"{self.start:.1f}", f"{self.end:.1f}"
        return f"{which} ({start} s)" if start == end else f"{which} ({start}-{end} s)"


def describe_damage(damage) -> str:
    """``frames 165-208 (5.5-7.0 s), frame 300 (10.0-10.1 s) could not be decoded``, in
    one line; a missing tail (``truncated``) is said as such, with what was kept:
    ``frames 158-299 (5.3-10.0 s) are missing: the video stops before the 10.0 s
    its header says (truncated or damaged); every frame that could be decoded was
    kept``."""
    lost = [str(d) for d in damage if not d.truncated]
    parts = [f"{', '.join(lost)} could not be decoded"] if lost else []
    tails = [d for d in damage if d.truncated]
    for tail in tails:
        verb = "is" if tail.frames == 1 else "are"
        parts.append(f"{tail} {verb} missing: the video stops before the {tail.end:.1f} s its header says "
                     "(truncated or damaged)")
    if tails:
        parts.append("every frame that could be decoded was kept")
    return "; ".join(parts)


def bgr_reformatter():
    """The swscale context a source converts all its frames with (``av_image``)."""
    from av.video.reformatter import VideoReformatter

    return VideoReformatter()


def av_image(frame, reformatter=None) -> np.ndarray:
    """A decoded PyAV video frame as BGR, turned as its display matrix says
    (counterclockwise degrees, as PyAV reports it).

    Converted by ``reformatter`` (``bgr_reformatter``, one a source; None: a new one)
    on the calling thread alone, not by ``frame.to_ndarray(format="bgr24")``, which
    makes a new swscale context with its own threads each frame (docs/measuring.md
    has the figures); the pixels are the same."""
    reformatter = reformatter or bgr_reformatter()
    try:
        image = reformatter.reformat(frame, format="bgr24", threads=1).to_ndarray()
    except TypeError:  # a PyAV without the threads argument (before 17): one thread anyway
        image = reformatter.reformat(frame, format="bgr24").to_ndarray()
    k = int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class PacketDecoder:
    """The frames of ``stream`` (a video stream of ``container``), decoded packet
    by packet. Iterate once.

    Signs of damage are kept as marks: the stream time (s) of the video packet
    where one was seen (for skipped bytes or a demuxer error, the next video
    packet). A frame that comes after a time jump with a mark inside the jump
    follows lost frames (``take_marks``); a jump with no mark is a variable frame
    rate. Marks go by stream time, not by the order frames leave the decoder, which
    holds a few back (frame threads, B-frames). ``skipped`` counts the packets that
    did not decode (``skipped_at`` holds where: a set shared across passes counts
    a packet once). A demuxer error is raised out of the iteration when
    ``retry_demux`` is False (a live stream reopens instead).
    """

    def __init__(self, container, stream, name: str, *, retry_demux: bool = True, skipped: set | None = None,
                 on_warning=None) -> None:
        """``on_warning(line)``: says a warning (the source's ``_warn``: logged and told); None: logged."""
        self.container = container
        self.stream = stream
        self.name = name
        self.warn = on_warning or log.warning
        self.retry_demux = retry_demux
        self.skipped_at = skipped if skipped is not None else set()  # (pts, pos) of packets that did not decode
        self.marks: list[float] = []
        self._pending = False  # a sign of damage waits for the next video packet's time
        self._end = None  # byte just after the last packet read (any stream)

    @property
    def skipped(self) -> int:
        return len(self.skipped_at)

    def take_marks(self, upto: float) -> list[float]:
        """The marks at or before ``upto`` seconds (removed)."""
        taken = [t for t in self.marks if t <= upto + 1e-6]
        if taken:
            self.marks = [t for t in self.marks if t > upto + 1e-6]
        return taken

    def _mark(self, packet) -> None:
        if packet.pts is None:
            self._pending = True
        else:
            self.marks.append(float(packet.pts * packet.time_base))

    def _note(self, packet) -> None:
        pos, size = packet.pos, packet.size
        if pos is not None and pos >= 0 and size:
            if self._end is not None and pos - self._end > SKIPPED_BYTES:
                log.debug("%s: %d bytes skipped by the demuxer at byte %d", self.name, pos - self._end, self._end)
                self._pending = True
            self._end = max(self._end or 0, pos + size)
        if packet.stream is not self.stream:
            return
        if packet.is_corrupt:
            self._pending = True
        if self._pending and packet.pts is not None:
            self._pending = False
            self._mark(packet)

    def __iter__(self) -> Iterator:
        import av

        errors = 0
        while True:
            try:
                # every stream's packets: their byte positions show what the demuxer skipped
                for packet in self.container.demux():
                    errors = 0
                    self._note(packet)
                    if packet.stream is not self.stream:
                        continue
                    try:
                        frames = packet.decode()
                    except av.FFmpegError as exc:
                        self.skipped_at.add((packet.pts, packet.pos))
                        self._mark(packet)
                        log.debug("%s: a packet at %s did not decode (%s)", self.name, packet.pts, reason(exc))
                        continue
                    yield from frames
                return
            except av.FFmpegError as exc:
                self._pending = True
                errors += 1
                if not self.retry_demux:
                    raise
                if errors >= MAX_DEMUX_ERRORS:
                    self.warn(f"{self.name}: the rest cannot be read ({reason(exc)}); stopping there")
                    return
                log.debug("%s: demuxer error (%s); reading on", self.name, reason(exc))
