"""The side panel: source, model, what to localize, overlay, recording, playback.

It only builds widgets and turns their state into the core's frozen settings
(``LocalizeSettings``, ``OverlaySettings``); the window wires the signals to the
session. ``save``/``restore`` keep the choices in QSettings between runs.

The panel imports no torch (``camvideo.settings`` is torch-free), so its settings
can be made and pushed before the model has loaded. Until the core is in, the
model list holds the names known without torch; ``set_models`` fills in the rest.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QVBoxLayout, QWidget

from camvideo import presets  # the Quality presets
from camvideo.annotate import COLORMAPS  # numpy + cv2 (~0.08 s), no torch
from camvideo.app.classes import class_hint
from camvideo.classnames import find_class
from camvideo.qt.boxes import MODES, LocalizeBox, ModelGroup, OverlayBox, PlaybackBox, RecordBox, SourceBox
from camvideo.qt.saved import SavedSettings
from camvideo.settings import (
    RUNTIMES,
    IntensitySettings,
    LocalizeSettings,
    OverlaySettings,
    SmoothingSettings,
)

NO_CAMERA = "no camera found"

# The window's confidence gate (the Gate box; settings.GATE, 5%, by default): a class
# under it gets no box and no map (the legend says why). Save as JSONL writes what
# `camvideo process --gate G --export` writes; the command line's default gate is 0.
APP_FAINT = 0.0


class ControlPanel(QWidget):
    """The side panel: one group box each (``boxes``), their widgets as its attributes."""

    open_spec = pyqtSignal(str)  # a camera index, a URL, a file path
    open_file_clicked = pyqtSignal()
    open_folder_clicked = pyqtSignal()
    open_url_clicked = pyqtSignal()
    open_demo_clicked = pyqtSignal()
    model_changed = pyqtSignal(str)
    weights_file_clicked = pyqtSignal()
    localize_changed = pyqtSignal()
    overlay_changed = pyqtSignal()

    def __init__(self, models: list[str], cameras: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)  # tight, as the boxes (boxes.tight): all of them show at 1280x800
        self.labels: list[str] = []
        # Whose heat map (Top-k): chosen in the view (click a label) or with keys 1-9.
        self.heatmap_rank = 1
        self.map_class = ""  # the class whose map is shown (the window tells, from the frame on screen)
        localize = LocalizeBox()
        self.groups = (SourceBox(), PlaybackBox(), ModelGroup(), localize, OverlayBox(), RecordBox())
        for box in self.groups:
            for name in box.NAMES:
                setattr(self, name, getattr(box, name))
            layout.addWidget(box)
        layout.addStretch(1)
        self._class_model = localize.class_names
        self._localize = localize
        self.set_cameras(cameras)
        self.set_models(models)
        self._connect()
        self._update_labels()

    def _connect(self) -> None:
        """The boxes' signals to the panel's (what the window listens to)."""
        self.camera_button.clicked.connect(lambda: self.open_spec.emit(self.camera.currentText()))
        self.file_button.clicked.connect(self.open_file_clicked)
        self.images_button.clicked.connect(self.open_folder_clicked)
        self.url_button.clicked.connect(self.open_url_clicked)
        self.demo_button.clicked.connect(self.open_demo_clicked)
        self.model.currentTextChanged.connect(self.model_changed)
        self.weights_button.clicked.connect(self.weights_file_clicked)
        self.class_edit.completer().activated.connect(lambda _text: self._on_localize())
        self.class_edit.editingFinished.connect(self._on_localize)
        self.class_edit.textChanged.connect(self._update_labels)
        for signal in (self.mode.currentIndexChanged, self.topk.valueChanged, self.threshold.valueChanged,
                       self.gate.valueChanged, self.quality.currentIndexChanged, self.smoothing.toggled):
            signal.connect(self._on_localize)
        for signal in (self.colormap.currentIndexChanged, self.heatmap.toggled, self.boxes.toggled,
                       self.labels_box.toggled, self.alpha.valueChanged):
            signal.connect(self._on_overlay)

    def set_cameras(self, cameras: list[str]) -> None:
        """The camera indices to offer, keeping the choice when it is still there.
        None (Linux, no /dev/video*): the list says so and Camera is greyed."""
        current = self.camera.currentText()
        self.camera.clear()
        found = bool(cameras)
        self.camera.addItems(cameras if found else [NO_CAMERA])
        if current in cameras:
            self.camera.setCurrentText(current)
        for w in (self.camera, self.camera_button):
            w.setEnabled(found)
        self.camera.setToolTip("camera index (Linux: /dev/videoN)" if found else
                               "no camera found (no /dev/video* device); the list is read again "
                               "when the window is activated")

    def set_models(self, models: list[str], ready: list[str] | None = None) -> None:
        """The model list (the first is the built-in default; ``ready``: those that
        work offline), keeping the choice when it is in the list, emitting nothing."""
        self.model.set_models(models, ready)

    def set_recording(self, running: bool) -> None:
        """The Record button says what a click does next: start, or stop."""
        self.record_button.setChecked(running)
        self.record_button.setText("Stop" if running else "Record")
        self.record_button.setStyleSheet("QPushButton { color: #c00000; font-weight: bold; }" if running else "")

    # -- state -> settings ------------------------------------------------------------------
    def set_class_names(self, labels: list[str]) -> None:
        """The searchable list: ``"285 Egyptian cat"`` for each class id."""
        self.labels = list(labels)
        self._class_model.setStringList([f"{i} {name}" for i, name in enumerate(self.labels)])
        self._update_labels()  # the hint was worded without the names: say it again with them

    def chosen_class(self) -> int | None:
        """The class id typed or picked (an id, ``"id name"`` or a unique name)."""
        return find_class(self.class_edit.text(), self.labels)

    def localize_settings(self) -> LocalizeSettings:
        """The ``LocalizeSettings`` the widgets say."""
        quality = self.quality.currentText()
        maps = presets.quality_maps(quality)[0]
        rule = presets.quality_rule(quality, threshold=self.threshold.value() / 100.0)  # the slider's threshold
        smoothing = SmoothingSettings() if self.smoothing.isChecked() else None
        # Below the gate (the Gate box: settings.GATE by default) a class gets no box
        # and no map (the legend says why).
        intensity = IntensitySettings(gate=self.gate.value() / 100.0, faint=APP_FAINT)
        mode = self.mode.currentText()
        if mode == "One class" and self.chosen_class() is not None:
            return LocalizeSettings(topk=1, class_ids=(self.chosen_class(),), box_rule=rule, smoothing=smoothing,
                                    intensity=intensity, maps=maps)
        topk = self.topk.value() if mode == "Top-k" else 1
        return LocalizeSettings(topk=topk, box_rule=rule, smoothing=smoothing, intensity=intensity, maps=maps)

    def overlay_settings(self) -> OverlaySettings:
        return OverlaySettings(heatmap=self.heatmap.isChecked(), boxes=self.boxes.isChecked(),
                               labels=self.labels_box.isChecked(), alpha=self.alpha.value() / 100.0,
                               colormap=self.colormap.currentText(), heatmap_rank=self.heatmap_rank)

    def set_map_class(self, name: str) -> None:
        """The class whose heat map the frame on screen shows (named in the hint)."""
        if name != self.map_class:
            self.map_class = name
            self._update_labels()

    def map_count(self) -> int:
        """How many classes the settings localize (one heat map each)."""
        return self.topk.value() if self.mode.currentText() == "Top-k" else 1

    def set_heatmap_rank(self, rank: int) -> bool:
        """Show the heat map of ``rank`` (1 = the top class); False (nothing
        changes) when the settings localize fewer classes than that."""
        if not 1 <= rank <= self.map_count():
            return False
        if rank != self.heatmap_rank:
            self.heatmap_rank = rank
            self._on_overlay()
        return True

    def reset_heatmap_rank(self) -> None:
        """The top class's heat map again, and no class named for another rank (a new
        source or model: the rank chosen with keys 1-9 was for the old one's classes)."""
        self.map_class = ""
        if self.heatmap_rank != 1:
            self.heatmap_rank = 1
            self._on_overlay()
        else:
            self._update_labels()

    def _on_localize(self, *_args) -> None:
        mode = self.mode.currentText()
        self.topk.setEnabled(mode == "Top-k")
        self.class_edit.setEnabled(mode == "One class")
        self._update_labels()
        self.localize_changed.emit()
        if self.heatmap_rank > self.map_count():  # Top-1, One class, a smaller k: the top class's map again
            self.heatmap_rank = 1
            self._on_overlay()

    def _on_overlay(self, *_args) -> None:
        self._update_labels()
        self.overlay_changed.emit()

    def _update_labels(self) -> None:
        self.threshold_label.setText(f"Box ≥ {self.threshold.value()}%")
        self.alpha_label.setText(f"Opacity {self.alpha.value()}%")
        mode = self.mode.currentText()
        self.topk.setEnabled(mode == "Top-k")
        self.class_edit.setEnabled(mode == "One class")
        for w in (self.alpha, self.alpha_label, self.colormap):  # nothing to change without a heat map
            w.setEnabled(self.heatmap.isChecked())
        self.class_hint.setText(self.class_hint_text())
        self._localize.show_mode(mode)  # the rows the mode uses
        k = self.map_count()
        self.map_hint.setVisible(k > 1 and self.heatmap.isChecked())
        if self.heatmap_rank == 1:
            self.map_hint.setText(f"Heat map of the top class: click a label (or press 1–{min(k, 9)}) "
                                  "to see another class's")
        else:
            of = f": {self.map_class}" if self.map_class else ""
            self.map_hint.setText(f"Heat map of rank {self.heatmap_rank}{of} (its label is outlined): "
                                  "click it again (or press 1) for the top class's")

    def class_hint_text(self) -> str:
        """What "One class" localizes, or why the text typed picks no class."""
        return class_hint(self.class_edit.text(), self.labels)

    # -- QSettings ----------------------------------------------------------------------------
    def save(self, s: QSettings) -> None:
        s.setValue("model", self.model.currentText())
        s.setValue("runtime", self.runtime.currentText())
        s.setValue("mode", self.mode.currentText())
        s.setValue("topk", self.topk.value())
        s.setValue("class", self.class_edit.text())
        s.setValue("threshold", self.threshold.value())
        s.setValue("gate", self.gate.value())
        s.setValue("alpha", self.alpha.value())
        s.setValue("colormap", self.colormap.currentText())
        s.setValue("heatmap", self.heatmap.isChecked())
        s.setValue("boxes", self.boxes.isChecked())
        s.setValue("labels", self.labels_box.isChecked())
        s.setValue("smoothing", self.smoothing.isChecked())
        s.setValue("slide_seconds", self.slide_seconds.value())
        s.setValue("quality", self.quality.currentText())

    def restore(self, s: QSettings | SavedSettings) -> list[str]:
        """Set the widgets from ``s`` without emitting change signals; a value that is
        not of its kind (the file edited by hand) leaves its widget as it is. Returns
        the keys of those values (``SavedSettings.bad``)."""
        saved = s if isinstance(s, SavedSettings) else SavedSettings(s)
        widgets = (self.model, self.runtime, self.mode, self.topk, self.class_edit, self.threshold, self.gate,
                   self.alpha,
                   self.colormap, self.heatmap, self.boxes, self.labels_box, self.smoothing, self.slide_seconds,
                   self.quality)
        for w in widgets:
            w.blockSignals(True)
        try:
            self._restore_choices(saved)
            for key, spin in (("topk", self.topk), ("threshold", self.threshold), ("gate", self.gate),
                              ("alpha", self.alpha), ("slide_seconds", self.slide_seconds)):
                spin.setValue(saved.number(key, spin.value(), spin.minimum(), spin.maximum()))
            self.class_edit.setText(saved.text("class"))
            for key, box in (("heatmap", self.heatmap), ("boxes", self.boxes), ("labels", self.labels_box),
                             ("smoothing", self.smoothing)):
                box.setChecked(saved.flag(key, True))
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._update_labels()
        return saved.bad

    def _restore_choices(self, saved: SavedSettings) -> None:
        """The combo boxes' remembered choices, each one of the box's own."""
        model = saved.text("model")
        if model and self.model.findText(model) >= 0:
            self.model.setCurrentText(model)
        for key, combo, choices in (("runtime", self.runtime, RUNTIMES), ("mode", self.mode, MODES),
                                    ("colormap", self.colormap, COLORMAPS),
                                    ("quality", self.quality, presets.QUALITY_PRESETS)):
            text = saved.text(key, combo.currentText(), choices)
            combo.setCurrentText(text)
