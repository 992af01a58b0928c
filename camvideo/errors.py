"""Errors that reach a user: each carries a message that says what was wrong and what to do.

What to do often means setting an option, which each front end names its own way:
the command line ``--weights PATH``, the window its "Weights file…" button. So the
core never writes an option's name into a message: it gives a ``Hint`` in its
place, ``CamvideoError("... download it and ", Hint("weights", "PATH", "pass it
with"), ", or ...")``, and each front end renders the message in its words
(``CamvideoError.render(words)``). ``str(exc)`` is the message in the words of
``camvideo``'s options (``option_words``: ``--weights PATH``), which the command
line, a batch's summary, the logs and the library's users read; the window renders
its own (``camvideo.qt.wording``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """An option named inside a message: what to set and to what, for a front end
    to word.

    ``option``: the option's name (as in ``camvideo.settings.ModelOptions``:
    "weights", "runtime", "input_size"); ``value``: a value or a placeholder
    ("torch", "PATH"; "" for none); ``action``: the words before it that a front
    end may word its own way ("pass it with"; "" for none); ``command``: the
    ``camvideo`` command the option belongs to when it is not the one running
    ("models": ``camvideo models --fetch lite0``, something to run in a terminal;
    ``option`` "" for the command alone);
    ``subject``: the message is about this option and opens with it ("--runtime
    openvino: ...").
    """

    option: str
    value: str = ""
    action: str = ""
    command: str = ""
    subject: bool = False

    def __post_init__(self) -> None:
        if not (self.option.replace("_", "").isalnum() or (self.command and not self.option)):
            raise ValueError(f"option must be a name such as 'weights' (or '' with a command), got {self.option!r}")


Words = Callable[[Hint], str]


def flag(option: str) -> str:
    """``input_size`` -> ``--input-size``."""
    return "--" + option.replace("_", "-")


def option_words(hint: Hint) -> str:
    """``camvideo``'s words for ``hint``: ``pass it with --weights PATH``,
    ``--runtime openvino: ``, ```camvideo models --fetch lite0```."""
    text = f"{flag(hint.option)} {hint.value}" if hint.value else flag(hint.option)
    if hint.command:
        text = f"`camvideo {hint.command} {text}`" if hint.option else f"`camvideo {hint.command}`"
    if hint.subject:
        return f"{text}: "
    return f"{hint.action} {text}" if hint.action else text


class CamvideoError(Exception):
    """A problem the user can fix (bad input, missing weights, no camera).

    The command line prints its message on one line and exits non-zero; the window
    shows it and keeps running. Programming errors are not CamvideoError.

    ``CamvideoError(*parts)``: the message as text and ``Hint``s, joined in order
    (see the module); ``str(exc)`` renders the hints with ``option_words``.
    """

    def __init__(self, *parts: str | Hint) -> None:
        if not all(isinstance(part, (str, Hint)) for part in parts):
            raise TypeError(f"a message is made of str and Hint, got {[type(p).__name__ for p in parts]}")
        self.parts: tuple[str | Hint, ...] = parts
        super().__init__(self.render())

    @property
    def hints(self) -> tuple[Hint, ...]:
        """The options the message names, in order."""
        return tuple(part for part in self.parts if isinstance(part, Hint))

    def render(self, words: Words = option_words) -> str:
        """The message with each hint in ``words``."""
        return redact("".join(part if isinstance(part, str) else words(part) for part in self.parts))


class ModelLoadError(CamvideoError):
    """A model name, weights file or download that cannot give a working model."""


class InputError(CamvideoError):
    """An image, video, camera or stream that cannot be read."""


class OutputError(CamvideoError):
    """A place that cannot be written (missing folder, no permission, full disk, codec)."""


def reason(exc: BaseException | None, limit: int = 200) -> str:
    """One line saying why ``exc`` happened, for a message that a user reads.

    The first line of the exception's text (an OS error's ``strerror``, without
    FFmpeg's ``: 'path'`` suffix, which the message names anyway), cut at ``limit``
    characters; the exception's type name when it has no text.
    """
    if exc is None:
        return "unknown error"
    text = getattr(exc, "strerror", None) or str(exc)
    text = text.strip().splitlines()[0] if text.strip() else ""
    text = text.split(": '")[0].strip()
    return text[:limit] if text else type(exc).__name__


def describe(exc: BaseException, words: Words = option_words) -> str:
    """One line for any exception: a CamvideoError's own message (its hints in
    ``words``), else its type and reason (``ValueError: ...``), as the window's
    banner and a batch's summary show a failure."""
    if isinstance(exc, CamvideoError):
        return exc.render(words)
    text = redact(reason(exc))
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"


_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s:/@]*):[^\s/@]*@")


def redact(text: str) -> str:
    """``rtsp://admin:S3cret@cam/1`` -> ``rtsp://admin:***@cam/1``: a stream's password
    never reaches a message, a log or a summary."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that takes passwords out of each record's message (``redact``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
