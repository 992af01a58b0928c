"""The frame on screen, localized again: Localize changes reach a paused frame.

While a file is paused (or has ended) no frame comes, so a new class, a new k or
a new box threshold would show only on Step or Play. ``HeldFrame`` runs the
model once on the frame on screen and keeps its features and probabilities (the
forward pass of ``FrameLocalizer`` with smoothing on keeps exactly those); each
later change of the Localize settings on the same frame then costs only the
class maps and the boxes (``FrameLocalizer.finish``), not a forward pass. A
method whose maps need their own pass (Grad-CAM) runs the model again each time.

The frame stands alone: its smoother is fresh for each call, so the scores are
the frame's own, not the running average playback showed. It runs in a
background task (the window's ``Tasks``), on its own localizer (the pipeline's
keeps its state for when playback goes on).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from camvideo.settings import LocalizeSettings, SmoothingSettings

log = logging.getLogger(__name__)


class HeldFrame:
    """Localizes one frame again and again with new settings. Calls are serialized:
    a superseded call still running finishes first, and the next reuses its pass."""

    def __init__(self, model) -> None:
        self.model = model
        self.forwards = 0  # forward passes run (a change on the same frame reuses the last)
        self._localizer = None
        self._frame = None  # the frame whose forward pass is kept (held: no id reuse)
        self._raw = None
        self._lock = threading.Lock()

    def localize(self, frame, index: int, time: float, settings: LocalizeSettings):
        """The FrameResult of ``frame`` (BGR) under ``settings``."""
        if not isinstance(settings, LocalizeSettings):
            raise TypeError(f"settings must be a LocalizeSettings, got {type(settings).__name__}")
        with self._lock:
            return self._localize(frame, index, time, settings)

    def _localize(self, frame, index: int, time: float, settings: LocalizeSettings):
        from camvideo.runtime.localizer import FrameLocalizer  # torch: a model is loaded, so it is in
        # With smoothing on, the forward pass keeps the features and probabilities.
        keeping = replace(settings, smoothing=settings.smoothing or SmoothingSettings())
        if self._localizer is None:
            self._localizer = FrameLocalizer(self.model, keeping)
        localizer = self._localizer
        if self._raw is None or self._frame is not frame:
            localizer.settings = keeping
            self._raw, self._frame = localizer.forward([frame]), frame
            self.forwards += 1
        localizer.reset()  # a fresh smoother: the frame stands alone
        result = localizer.finish(replace(self._raw, settings=keeping), [index], [time])[0]
        if result.method != "cam":  # Grad-CAM: the maps of these classes came with the pass; others need a new one
            self._raw = self._frame = None
        return result
