"""Errors that reach a user: each carries a message that says what was wrong and what to do."""


class CamvideoError(Exception):
    """A problem the user can fix (bad input, missing weights, no camera).

    The command line prints its message on one line and exits non-zero; the window
    shows it and keeps running. Programming errors are not CamvideoError.
    """


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


def describe(exc: BaseException) -> str:
    """One line for any exception: a CamvideoError's own message, else its type
    and reason (``ValueError: ...``), as the window's banner and a batch's summary
    show a failure."""
    if isinstance(exc, CamvideoError):
        return str(exc)
    text = reason(exc)
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"
