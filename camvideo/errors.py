"""Errors that reach a user: each carries a message that says what was wrong and what to do.

What to do often means setting an option, which each front end names its own way:
the command line ``--weights PATH``, the window its "Weights file…" button. So the
core never writes an option's name into a message: it gives a ``Hint`` in its
place, ``CamvideoError("... download it and ", Hint("weights", "PATH", "pass it
with"), ", or ...")``, and each front end renders the message in its words
(``CamvideoError.render(words)``). ``str(exc)`` is the message in the words of
``camvideo``'s options (``option_words``: ``--weights PATH``), which the command
line, a batch's summary, the logs and the library's users read; the window renders
its own (``camvideo.app.wording``).
"""

from __future__ import annotations

import logging
import re
import stat
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
        """The message with each hint in ``words``: one line, its names' control
        characters escaped (``printable``), its passwords redacted."""
        return redact(printable("".join(part if isinstance(part, str) else words(part) for part in self.parts)))


class ModelLoadError(CamvideoError):
    """A model name, weights file or download that cannot give a working model."""


class InputError(CamvideoError):
    """An image, video, camera or stream that cannot be read."""


class OutputError(CamvideoError):
    """A place that cannot be written (missing folder, no permission, full disk, codec)."""


# OpenVINO's errors open with the C++ files they passed through, one a line
# ("Exception from src/inference/src/cpp/core.cpp:268:", "Check 'x' failed at src/.../y.cpp:47:");
# the cause is the line after.
SOURCE_LOCATION = re.compile(r"Exception from \S+:\d+:|Check '.*' failed at \S+:\d+:")


TORCH_FILES = (".pt", ".pth", ".pth.tar", ".ckpt", ".safetensors")  # what torch.save and safetensors write


def unknown_model(name: str, names, typed: str | None = None) -> ModelLoadError:
    """The error for a ``--model`` name that is none of ``names``: it names the models
    ``typed`` (default: ``name``) may be a typo of ("resnt18" -> resnet18), not all of
    them (``camvideo models`` lists those); a torch file's name (``model.pt``) is
    sent to ``--checkpoint``, another file's said to be no format camvideo reads.
    No torch: the CLI says it before loading."""
    import difflib
    import os

    from camvideo import is_exported

    if name.lower().endswith(TORCH_FILES):
        return ModelLoadError(f"unknown model {name!r}: a torch file goes with ", Hint("checkpoint", name),
                              " (a state dict: give its architecture with ", Hint("model"),
                              "); a model file is an exported graph, .onnx or OpenVINO IR .xml")
    if os.path.isfile(name) and not is_exported(name):  # an exported graph is read elsewhere
        return ModelLoadError(f"unknown model {name!r}: a model file camvideo reads is an exported graph, .onnx or "
                              "OpenVINO IR .xml with its .bin; convert it to one of those")

    close = difflib.get_close_matches((typed or name).lower(), names, n=3, cutoff=0.6)
    guess = f" (did you mean {', '.join(close[:-1])} or {close[-1]}?)" if len(close) > 1 else (
        f" (did you mean {close[0]}?)" if close else "")
    return ModelLoadError(f"unknown model {name!r}{guess}; ", Hint("", command="models"),
                          " lists every name (timm's as timm:NAME)")


def reason(exc: BaseException | None, limit: int = 200) -> str:
    """One line saying why ``exc`` happened, for a message that a user reads.

    The first line of the exception's text (an OS error's ``strerror``, without
    FFmpeg's ``: 'path'`` suffix, which the message names anyway; past OpenVINO's
    C++ source locations), cut at ``limit`` characters; the exception's type name
    when it has no text.
    """
    if exc is None:
        return "unknown error"
    text = getattr(exc, "strerror", None) or str(exc)
    lines = [line for line in text.splitlines() if line.strip() and not SOURCE_LOCATION.fullmatch(line.strip())]
    text = lines[0] if lines else ""
    text = text.split(": '")[0].strip()
    return text[:limit] if text else type(exc).__name__


def not_a_file(mode: int) -> str | None:
    """What a path is when it is not a regular file, for a message (``mode``: its
    ``os.stat`` mode): "a folder", "a named pipe (FIFO)", "a character device"
    (``/dev/urandom``), "a block device", "a socket"; None for a regular file. A
    reader checks before opening: a named pipe blocks the open, a device never ends."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def describe(exc: BaseException, words: Words = option_words) -> str:
    """One line for any exception: a CamvideoError's own message (its hints in
    ``words``), else its type and reason (``ValueError: ...``), as the window's
    banner and a batch's summary show a failure."""
    if isinstance(exc, CamvideoError):
        return exc.render(words)
    text = redact(printable(reason(exc)))
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"


_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s:/@]*):[^\s/@]*@")


def redact(text: str) -> str:
    """``rtsp://admin:S3cret@cam/1`` -> ``rtsp://admin:***@cam/1``: a stream's password
    never reaches a message, a log or a summary."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


# C0 and C1 controls (newline, ESC: a terminal's escape sequences), the bidi overrides
# (text shown in another order than it is), and a file name's bytes that are not
# UTF-8 (Python's surrogate escapes, which a strict stream cannot even write)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte the name had on disk
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """``text`` safe to print on one line of a terminal: control characters escaped
    as Python writes them (``a\\nb.mp4``, ``\\x1b[31m``), bidi overrides as
    ``\\u202e``, a file name's bytes that are not UTF-8 as ``\\xff``; any other
    text (every ordinary name) unchanged, character for character. For names and
    labels that come from files: a name with a newline cannot forge a progress
    line, one with escapes cannot restyle the terminal."""
    return _UNPRINTABLE.sub(_escaped, text)


class RedactingFilter(logging.Filter):
    """A logging filter that takes passwords out of each record's message
    (``redact``) and, in camvideo's own records, escapes control characters
    (``printable``): its log line is one line, whatever a file's name holds (other
    libraries' messages keep their lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(printable(message) if record.name.split(".")[0] == "camvideo" else message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
