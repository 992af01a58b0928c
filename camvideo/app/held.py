"""The frame on screen, localized again: Localize changes reach a paused frame.

While a file is paused (or has ended) no frame comes, so a new class, a new k or
a new box threshold would show only on Step or Play. ``HeldFrame`` runs the
forward pass once on the frame on screen and keeps its ``Evidence``; each later
change of the Localize settings on the same frame then costs only the class maps
and the boxes (``FrameLocalizer.finish``), not a forward pass. Evidence that cannot
make the maps asked for (Grad-CAM keeps the gradients of the classes chosen at its
pass only) and a new Quality (``LocalizeSettings.maps``: other model inputs) run
the forward pass again.

The frame stands alone: it is finished against a fresh state each time, so the
scores are the frame's own, not the running average playback showed. It runs in a
background task (the window's ``Tasks``), on its own localizer (the pipeline's
keeps its state for when playback goes on).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from camvideo.settings import LocalizeSettings

log = logging.getLogger(__name__)


class HeldFrame:
    """Localizes one frame again and again with new settings. Calls are serialized:
    a superseded call still running finishes first, and the next reuses its pass."""

    def __init__(self, model) -> None:
        self.model = model
        self.forwards = 0  # forward passes run (a change on the same frame reuses the last)
        self._localizer = None
        self._frame = None  # the frame whose forward pass is kept (held: no id reuse)
        self._evidence = None  # the kept pass's Evidence
        self._lock = threading.Lock()

    def localize(self, frame, index: int, time: float, settings: LocalizeSettings):
        """The FrameResult of ``frame`` (BGR) under ``settings``."""
        if not isinstance(settings, LocalizeSettings):
            raise TypeError(f"settings must be a LocalizeSettings, got {type(settings).__name__}")
        with self._lock:
            return self._localize(frame, index, time, settings)

    def _localize(self, frame, index: int, time: float, settings: LocalizeSettings):
        from camvideo.cam.evidence import check_request, choose_classes  # torch: a model is loaded, so it is in
        from camvideo.runtime.localizer import FrameLocalizer

        check_request(settings, self.model.num_classes)
        if self._localizer is None:
            self._localizer = FrameLocalizer(self.model, settings)
        localizer = self._localizer
        kept = self._evidence
        if kept is None or self._frame is not frame or kept.settings.maps != settings.maps \
                or not kept.covers(choose_classes(kept.probs, settings).class_ids):
            localizer.settings = settings
            self._evidence, self._frame = localizer.forward([frame])[0], frame
            self.forwards += 1
        evidence = replace(self._evidence, settings=settings)
        return localizer.finish([evidence], [index], [time], state=localizer.fresh_state(settings))[0]
