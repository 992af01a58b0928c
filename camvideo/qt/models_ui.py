"""The Model box's behaviour: load, the list, a weights file, and what went wrong.

``ModelControls`` turns the model list and "Weights file…" into session loads
and says in the box what happens ("loading resnet50…", "lite0 ready on cpu",
"resnet18 could not load; still lite0 on cpu"). A model that cannot load while
another runs leaves the list on the one in use; one that cannot load while
nothing runs yet (a remembered model, offline) gives way to the built-in model,
and the banner says why, in the window's words (the loader's message: ``camvideo.app.wording``).
While the first model loads, the video plays without it (``Session.preview``): a
bar over the video says so until the model is ready (or could not load).
"""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker, QTimer

from camvideo import DEFAULT_MODEL  # without importing torch
from camvideo.app.models import ModelState, chosen_file, is_exported, labels_for, listed, short_name
from camvideo.app.runtime_switch import RUNTIME_TIP, RuntimeSwitch
from camvideo.qt import dialogs
from camvideo.qt.status import short


class ModelControls:
    """Models for ``window`` (its session, panel, view and banner); the state is
    ``self.state`` (``camvideo.app.models.ModelState``), the widgets show it."""

    def __init__(self, window) -> None:
        self.window = window
        # (model, load_model options) for that model: the command line's (--weights, --checkpoint,
        # --input-size...), or "Weights file…"'s
        self.options: tuple[str, dict] | None = None
        self.state = ModelState(DEFAULT_MODEL)
        self.first_loading: str | None = None  # the model that loads while none runs (the video plays plain)
        # the Runtime box: torch first, OpenVINO when converted (the panel is made after this)
        self.runtime = RuntimeSwitch(window.session, lambda: window.panel.runtime.currentText(),
                                     self._say_runtime, QTimer.singleShot)

    def _say_runtime(self, text: str) -> None:
        """The Runtime box's state line and tooltip."""
        panel = self.window.panel
        panel.runtime.setToolTip(f"{RUNTIME_TIP}\n\nnow: {text}")
        panel.runtime_state.setText(text)

    def on_listed(self, names: list, ready: list) -> None:
        """The whole model list, those ready offline marked. A remembered name that
        no longer exists gives way to the built-in model, and the Model box and the
        banner say so."""
        w = self.window
        wanted = w.panel.model.currentText()
        names = listed(names, wanted)  # timm models (thousands) and exported graphs are not listed, but they exist
        w.panel.set_models(names, ready)
        if wanted not in names and self.state.in_use is None and wanted != DEFAULT_MODEL:
            # remembered from an earlier run (the settings file): the box and the banner say so
            self.on_failed(wanted, f"{wanted}: no such model here (remembered from an earlier run; "
                                   f"`camvideo models` lists the names); {DEFAULT_MODEL} instead")
        elif wanted not in names:
            self.load(w.panel.model.currentText())

    def load(self, name: str) -> None:
        """Load ``name`` in the background (with the options given for it: the
        command line's, or "Weights file…")."""
        w = self.window
        options = self.options[1] if self.options and self.options[0] == name else {}
        w.session.load_model(name, **options)

    def ask_weights_file(self) -> None:
        """ "Weights file…": the model a load just failed for (its weights are not
        here), else the chosen one, with weights from a file; or an exported graph
        (.onnx, .xml), a model of its own, with the labels file picked next."""
        w = self.window
        name = self.state.weights_for
        path = dialogs.ask_weights(w, w.settings, name)
        if path:
            choice = chosen_file(path, name, self.options[1] if self.options and self.options[0] == name else {})
            if is_exported(choice.name):
                choice = labels_for(choice, dialogs.ask_labels(w, w.settings, short_name(choice.name)))
            self.options = (choice.name, choice.options)
            self.load(choice.name)

    def _show(self) -> None:
        """The Model box as the state says: the list's choice, the line, the weights button's tip."""
        p, state = self.window.panel, self.state
        if p.model.currentText() != state.shown:
            with QSignalBlocker(p.model):
                if is_exported(state.shown) and p.model.findText(state.shown) < 0:
                    p.model.addItem(state.shown)  # an exported graph's file: in no list
                p.model.setCurrentText(state.shown)
        p.model_state.setText(state.line)
        p.weights_button.setToolTip(f"load {short_name(state.weights_for)}'s weights from a file (.pth, .pt, "
                                    ".safetensors), or your exported model (.onnx, OpenVINO .xml) and its labels")

    def on_loading(self, name: str) -> None:
        w = self.window
        self.state.asked(name)
        self._show()
        if w.session.model is None:
            self.first_loading = name
        if w.view.current is None:
            w.view.set_message(f"Loading model {name}…")
        elif self.first_loading is not None:
            self.on_frame()

    def on_frame(self) -> None:
        """A frame on screen while the first model loads: the loading bar says why
        it has no heat map (a camvideo recording, played as it is, needs none)."""
        w = self.window
        if self.first_loading is not None and not w.session.plain and not w.loading_bar.isVisibleTo(w):
            w.top_bars.show_loading(f"Loading model {self.first_loading}… the video plays without its heat map "
                                    "until the model is ready")

    def _loaded_first(self) -> None:
        """The first model is ready, or could not load: the loading bar goes."""
        self.first_loading = None
        self.window.loading_bar.hide()

    def on_ready(self, name: str, device: str) -> None:
        w = self.window
        self._loaded_first()
        self.state.ready(name, device)
        self._show()
        stale = self.state.stale_message()
        if stale is not None and w.error_label.text() == stale:
            w.banner.hide()  # the failure it told of is over: this model runs
        w.status_line.set_device(device)
        w.panel.reset_heatmap_rank()  # a new model's classes: the top class's map again
        w.panel.runtime.setToolTip(RUNTIME_TIP)
        self.runtime.start()  # the stream runs on torch until OpenVINO is ready
        if w.session.model is not None and w.panel.labels != list(w.session.model.labels):
            w.panel.set_class_names(w.session.model.labels)
            w.push_localize()  # a class typed by name resolves now
        if w.session.source is not None:
            w.view.set_message("")
        elif w.session.opening_spec is not None:
            w.view.set_message(f"Opening {short(w.session.opening_spec)}…")
        else:
            w.view.set_message("No source: open a camera, a file or a URL")

    def on_failed(self, name: str, message: str) -> None:
        w = self.window
        instead = self.state.failed(name, message)
        self._show()
        if instead is not None:
            # Nothing runs yet (a remembered model that cannot load offline, say):
            # the built-in model instead, and the message says why.
            self.load(instead)
        else:
            self._loaded_first()
        if w.view.current is None and self.state.in_use is None and instead is None:
            w.view.set_message(f"Model {name} could not load")
        w.show_error(message)
