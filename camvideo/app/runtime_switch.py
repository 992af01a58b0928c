"""The Model box's Runtime choice: auto, torch or OpenVINO, never a wait.

A model loads and its stream starts on torch, as always. Then, when the choice
picks OpenVINO (``auto``: an exact-CAM model on the CPU), the conversion runs in
a background thread (``camvideo.runtime.runtimes.convert_in_background``; a few
seconds the first time, under a second from the cache), and the stream's
localizer switches to it between two batches (``FrameLocalizer.use_forward``:
one attribute, no gap). Input sizes other than the model's own (the quality
presets keep the frame's aspect) are converted in the background on their
first frames, which run on torch meanwhile. Choosing torch switches back at
once; OpenVINO again takes the forward made before for that model.

No Qt here: the Future is polled through ``later(ms, fn)`` (the window's:
``QTimer.singleShot``, so the switch and the words happen on the GUI thread), the
choice is read through ``choice()`` and the state told through ``say(text)``. A
newer model or choice makes an older conversion's result go unused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

POLL_MS = 100
FIRST_FRAME_TRIES = 100  # up to 10 s for the first frame of a source before converting without it
RUNTIME_TIP = ("what runs the forward pass: auto (OpenVINO for exact-CAM models on the CPU, about twice as fast; "
               "torch on a GPU and for Grad-CAM), torch, or OpenVINO. The stream starts on torch and switches "
               "when OpenVINO is ready (the first time a model is converted: a few seconds, in the background)")


class RuntimeSwitch:
    """Puts ``session.localizer`` on the runtime ``choice()`` picks (``session``:
    its ``localizer``, ``source`` and ``last_shown``)."""

    def __init__(self, session, choice: Callable[[], str], say: Callable[[str], None],
                 later: Callable[[int, Callable[[], None]], None]) -> None:
        self.session = session
        self.choice = choice
        self.say = say
        self.later = later
        self.state = ""  # what the box says about the runtime ("on OpenVINO", ...)
        self._generation = 0
        self._made = None  # (model, its OpenVINO forward): the last one made, used again for that model

    def _say(self, text: str) -> None:
        self.state = text
        self.say(text)

    def start(self, waited: int = 0) -> None:
        """(Re)apply the choice to the session's current localizer (after a load,
        or when the choice changes)."""
        self._generation += 1
        localizer = self.session.localizer
        if localizer is None:
            return
        choice, model = self.choice(), localizer.model
        if choice != "torch" and self._first_frame_due(model, waited):
            # The sizes to convert come from the first frame: wait for it (bounded). Before
            # anything else: choosing imports OpenVINO (0.1-0.3 s on this thread), which
            # would hold up the first frame's paint.
            self.later(POLL_MS, lambda generation=self._generation: (
                generation == self._generation and self.start(waited + 1)))
            return
        if self._chosen(model, choice) == "torch":
            if localizer.runtime != "torch":
                localizer.use_forward(None)
            if not self.state.startswith("torch"):
                self._say("torch")
        elif self._made is not None and self._made[0] is model:  # made for this model already: at once
            localizer.use_forward(self._made[1])
            self._say("OpenVINO")
        else:
            self._convert(localizer, choice)

    def _first_frame_due(self, model, waited: int) -> bool:
        """A source is open, its first frame not yet shown, and nothing was made for ``model``."""
        s = self.session
        return (s.last_shown is None and s.source is not None and waited < FIRST_FRAME_TRIES
                and not (self._made is not None and self._made[0] is model))

    def _chosen(self, model, choice: str) -> str:
        """``choose_runtime``'s answer; torch (and why) when OpenVINO cannot run it."""
        from camvideo.app.wording import window_words
        from camvideo.errors import CamvideoError
        from camvideo.runtime.runtimes import choose_runtime

        try:
            return choose_runtime(model, choice)
        except CamvideoError as exc:  # OpenVINO asked for a Grad-CAM or GPU model
            self._say("torch: " + exc.render(window_words))
            return "torch"

    def _convert(self, localizer, choice: str) -> None:
        """Convert in the background; poll; switch when ready (if nothing newer came)."""
        from camvideo.runtime.runtimes import convert_in_background
        from camvideo.runtime.workers import live_openvino_threads

        model, shown = localizer.model, self.session.last_shown
        sizes = None  # no frame to go by: the model's own size, others when frames need them
        if shown is not None:
            from camvideo.cam.multiscale import input_sizes

            # only the sizes this source's frames need: a conversion costs the stream
            # frames (docs), the model's own 224x224 is not one of them on balanced
            sizes = input_sizes(shown.result.width, shown.result.height, tuple(model.preprocessing.size),
                                localizer.settings.maps)
        self._say("torch, converting for OpenVINO…")
        future = convert_in_background(model, choice, mode="latency", threads=live_openvino_threads(), sizes=sizes,
                                       background=True)
        generation = self._generation

        def poll() -> None:
            if generation != self._generation or self.session.localizer is not localizer:
                return  # a newer model or choice: this result goes unused
            if not future.done():
                self.later(POLL_MS, poll)
                return
            self._converted(localizer, model, future)

        self.later(POLL_MS, poll)

    def _converted(self, localizer, model, future) -> None:
        """The conversion ended: OpenVINO from now, or torch and why."""
        try:
            forward = future.result()
        except Exception as exc:  # noqa: BLE001 - the stream stays on torch
            from camvideo.errors import reason

            forward, why = None, reason(exc)
        else:
            why = "it could not convert the model"
        if forward is None:
            self._say(f"torch (OpenVINO: {why})")
            return
        self._made = (model, forward)
        localizer.use_forward(forward)
        self._say("OpenVINO")
