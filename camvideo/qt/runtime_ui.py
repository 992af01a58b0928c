"""The Model box's Runtime choice: auto, torch or OpenVINO, never a wait.

A model loads and its stream starts on torch, as always. Then, when the choice
picks OpenVINO (``auto``: an exact-CAM model on the CPU), the conversion runs in
a background thread (``camvideo.runtime.runtimes.convert_in_background``; a few
seconds the first time, under a second from the cache), and the stream's
localizer switches to it between two batches (``FrameLocalizer.use_forward``:
one attribute, no gap). Input sizes other than the model's own (the quality
presets keep the frame's aspect) are converted in the background on their
first frames, which run on torch meanwhile. Choosing torch switches back at
once; OpenVINO again takes the forward made before for that model. The Future is polled on the GUI thread, so the switch and the text in the
box happen there; a newer model or choice makes an older conversion's result
go unused.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QTimer

log = logging.getLogger(__name__)

POLL_MS = 100
FIRST_FRAME_TRIES = 100  # up to 10 s for the first frame of a source before converting without it
RUNTIME_TIP = ("what runs the forward pass: auto (OpenVINO for exact-CAM models on the CPU, about twice as fast; "
               "torch on a GPU and for Grad-CAM), torch, or OpenVINO. The stream starts on torch and switches "
               "when OpenVINO is ready (the first time a model is converted: a few seconds, in the background)")


class RuntimeSwitch:
    """Puts ``window.session.localizer`` on the runtime the panel's Runtime box picks."""

    def __init__(self, window) -> None:
        self.window = window
        self.state = ""  # what the box says about the runtime ("on OpenVINO", ...)
        self._generation = 0
        self._timer: QTimer | None = None
        self._wired = False
        self._made = None  # (model, its OpenVINO forward): the last one made, used again for that model

    def start(self, waited: int = 0) -> None:
        """(Re)apply the choice to the session's current localizer (after a load,
        or when the choice changes)."""
        w = self.window
        if not self._wired:  # the panel exists by the first load
            w.panel.runtime.currentTextChanged.connect(lambda _text: self.start())
            self._wired = True
        self._generation += 1
        localizer = w.session.localizer
        if localizer is None:
            return
        from camvideo.errors import CamvideoError
        from camvideo.qt.wording import window_words
        from camvideo.runtime.runtimes import choose_runtime, convert_in_background
        from camvideo.runtime.workers import live_threads

        choice, model = w.panel.runtime.currentText(), localizer.model
        shown = w.session.last_shown
        if (choice != "torch" and shown is None and w.session.source is not None and waited < FIRST_FRAME_TRIES
                and not (self._made is not None and self._made[0] is model)):
            # The sizes to convert come from the first frame: wait for it (bounded). Before
            # anything else: choosing imports OpenVINO (0.1-0.3 s on this thread), which
            # would hold up the first frame's paint.
            QTimer.singleShot(POLL_MS, lambda generation=self._generation: (
                generation == self._generation and self.start(waited + 1)))
            return
        try:
            chosen = choose_runtime(model, choice)
        except CamvideoError as exc:  # OpenVINO asked for a Grad-CAM or GPU model
            self._say("torch: " + exc.render(window_words))
            chosen = "torch"
        if chosen == "torch":
            if localizer.runtime != "torch":
                localizer.use_forward(None)
            if not self.state.startswith("torch"):
                self._say("torch")
            return
        if self._made is not None and self._made[0] is model:  # made for this model already: at once
            localizer.use_forward(self._made[1])
            self._say("OpenVINO")
            return
        sizes = None  # no frame to go by: the model's own size, others when frames need them
        if shown is not None:
            from camvideo.cam.multiscale import input_sizes

            # only the sizes this source's frames need: a conversion costs the stream
            # frames (README, Runtimes and devices), the model's own 224x224 is not one of them on balanced
            sizes = input_sizes(shown.result.width, shown.result.height, tuple(model.preprocessing.size),
                                localizer.settings.maps)
        self._say("torch, converting for OpenVINO…")
        future = convert_in_background(model, choice, mode="latency", threads=live_threads(model), sizes=sizes,
                                       background=True)
        generation = self._generation

        def poll() -> None:
            if generation != self._generation:
                return  # a newer model or choice: this result goes unused
            if not future.done():
                QTimer.singleShot(POLL_MS, poll)
                return
            if w.session.localizer is not localizer:
                return
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

        QTimer.singleShot(POLL_MS, poll)

    def _say(self, text: str) -> None:
        self.state = text
        panel = self.window.panel
        panel.runtime.setToolTip(f"{RUNTIME_TIP}\n\nnow: {text}")
        panel.runtime_state.setText(text)

