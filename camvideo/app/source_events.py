"""What the source on screen reports while it reads, for the window's banner.

A file damaged in the middle, or cut short, plays up to the damage and ends; the
source tells its subscribers (``Source.subscribe``) each stretch it lost, as a
``Damage`` (a missing tail says so: "... are missing: the video stops before ..."),
and its other warnings ("the rest cannot be read", a stream reopened) as a line. ``SourceWarnings`` subscribes to the source
on screen and hands each, once, to ``deliver`` in the window's words, the path
shortened to the file's name. It is attached while that source plays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from camvideo.video.decoding import describe_damage


class SourceWarnings:
    """The warnings of ``source`` -> ``deliver(message)`` (from its reader thread): a
    file's each once (a looping file finds its damage again each round), a live
    source's each time (a stream that drops again is news again)."""

    def __init__(self, source, deliver: Callable[[str], None]) -> None:
        if not source.name:
            raise ValueError("the source must have a name (its path or URL)")
        self.name = source.name
        self.once = not getattr(source, "live", False)
        self.deliver = deliver
        self.messages: list[str] = []
        self.lost: set[int] = set()  # the source's frame indices that could not be read (a slideshow skips them)
        self.damage: tuple = ()  # the stretches lost (``Damage``s), as found: the timeline shows them
        self._short = Path(self.name).name if "://" not in self.name else self.name
        self._lock = threading.Lock()
        self._unsubscribe = source.subscribe(on_damage=self._damaged, on_warning=self._warned)

    def _damaged(self, damage) -> None:
        with self._lock:
            self.lost.update(range(damage.first, damage.last + 1))
            self.damage = (*self.damage, damage)
        self._say(f"{self._short}: {describe_damage((damage,))}")

    def _warned(self, line: str) -> None:
        self._say(line.replace(self.name, self._short))

    def _say(self, message: str) -> None:
        with self._lock:
            if self.once and message in self.messages:  # a looping file finds it again each time round
                return
            self.messages.append(message)
        self.deliver(message)

    def detach(self) -> None:
        """No more warnings from this source."""
        self._unsubscribe()
