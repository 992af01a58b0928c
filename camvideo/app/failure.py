"""What failed when the player on screen (the pipeline, or the preview) reports an error.

A live source that fails (a camera unplugged, a stream given up) may come back:
opening it again can help, so the window offers Retry and the status field says
"source failed". A model that fails on a frame (a forward pass that raises: a
runtime error, memory, an input the network cannot take) fails again on the same
source: the message says that the model failed and why, and what can help
(another model or Runtime), with no Retry. An output that cannot be written (a
sink the pipeline detached) is said as it is: the video goes on.

The source's failures reach the player as ``InputError`` (``Source.read`` wraps the
reader's), an output's as ``OutputError`` (``Pipeline._sink_failed``); anything
else raised while a model ran is the model's.
"""

from __future__ import annotations

from dataclasses import dataclass

from camvideo.app.wording import window_text
from camvideo.errors import InputError, OutputError

SOURCE, MODEL, OUTPUT, OTHER = "source", "model", "output", "other"


@dataclass(frozen=True)
class Failure:
    """A player's error in the window's words: ``kind`` (SOURCE, MODEL, OUTPUT or
    OTHER: neither, and no model ran) and the banner's ``message``."""

    kind: str
    message: str

    @property
    def retry(self) -> bool:
        """Opening the source again can help (its own failure, not the model's)."""
        return self.kind == SOURCE


def failure_kind(exc: BaseException | None, model: str | None = None) -> str | None:
    """The kind of failure ``exc`` is (None for no error); ``model``: the model that
    ran on the frames (None: none did, as in the preview or a recording played as it is)."""
    if exc is None:
        return None
    if isinstance(exc, InputError):
        return SOURCE
    if isinstance(exc, OutputError):
        return OUTPUT
    return MODEL if model is not None else OTHER


def failure(exc: BaseException, model: str | None = None) -> Failure:
    """``exc`` from the player on screen as the window says it (``failure_kind``)."""
    kind, text = failure_kind(exc, model), window_text(exc)
    if kind == MODEL:
        text = (f"the model {model} failed on a frame ({text}); the video stopped: choose another model "
                "or Runtime, then open the source again")
    return Failure(kind, text)
