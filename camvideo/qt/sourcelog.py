"""What the core logs about the source on screen, for the window's banner.

A file damaged in the middle, or cut short, plays up to the damage and ends; the
reader says why only in the log ("the video is damaged after frame 102",
"it may be truncated"). ``SourceWarnings`` is a logging handler on the
``camvideo.video`` loggers that picks the warnings naming the source on screen
(they all start with its path) and hands each, once, to ``deliver`` with the
path shortened to the file's name. It is attached while that source plays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

LOGGER = "camvideo.video"  # the sources' loggers are below it


class SourceWarnings(logging.Handler):
    """Warnings about the source ``name`` -> ``deliver(message)`` (any thread), each once."""

    def __init__(self, name: str, deliver: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        if not name:
            raise ValueError("name must name the source (its path or URL)")
        self.source = name
        self.deliver = deliver
        self.messages: list[str] = []
        self._short = Path(name).name if "://" not in name else name

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not ours to report
            return
        if self.source not in message:
            return
        message = message.replace(self.source, self._short)
        if message in self.messages:  # a looping file logs it again each time round
            return
        self.messages.append(message)
        self.deliver(message)

    def attach(self) -> SourceWarnings:
        logging.getLogger(LOGGER).addHandler(self)
        return self

    def detach(self) -> None:
        logging.getLogger(LOGGER).removeHandler(self)
