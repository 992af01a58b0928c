"""The window's words for the options a core message names (``camvideo.errors.Hint``).

The window has its own controls for some options: the "Weights file…" button, the
Runtime box, the device it was started on. A message names those controls; an
option it has no control for (``--checkpoint``, ``--labels``: given to ``camvideo
gui`` when it starts) keeps the command line's words. ``window_text(exc)`` is any
exception as one line in these words, for banners and the Model box.
"""

from __future__ import annotations

from camvideo.errors import CamvideoError, Hint, describe, option_words

WEIGHTS_BUTTON = "“Weights file…”"


def window_words(hint: Hint) -> str:
    """``pass it with --weights PATH`` -> ``open it with “Weights file…” (next to the
    model list)``; ``--runtime torch`` -> ``Runtime torch``; the Runtime box's own
    subject is left out (the message is shown beside it)."""
    value = f" {hint.value}" if hint.value else ""
    if hint.option == "weights" and hint.value == "PATH" and not hint.command:
        if hint.action == "pass it with":
            return f"open it with {WEIGHTS_BUTTON} (next to the model list)"
        return f"{hint.action} {WEIGHTS_BUTTON}" if hint.action else WEIGHTS_BUTTON
    if hint.option in ("runtime", "device") and not hint.command:
        if hint.subject:
            return "" if hint.option == "runtime" else f"device{value}: "
        text = ("Runtime" if hint.option == "runtime" else "device") + value
        return f"{hint.action} {text}" if hint.action else text
    return option_words(hint)


def window_text(exc: BaseException) -> str:
    """One line for ``exc`` in the window's words (``camvideo.errors.describe``)."""
    return describe(exc, window_words) if isinstance(exc, CamvideoError) else describe(exc)
