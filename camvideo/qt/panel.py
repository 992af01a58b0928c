"""The side panel: source, model, what to localize, overlay, recording, playback.

It only builds widgets and turns their state into the core's frozen settings
(``LocalizeSettings``, ``OverlaySettings``); the window wires the signals to the
session. ``save``/``restore`` keep the choices in QSettings between runs.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings, QStringListModel, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..annotate import OverlaySettings
from ..inference import LocalizeSettings
from ..localize import BoxRule
from ..smoothing import SmoothingSettings

MODES = ("Top-1", "Top-k", "One class")


def _slider(value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(value)
    return s


def _button(text: str, tip: str, checkable: bool = False) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space and letters stay window shortcuts
    return b


class ControlPanel(QWidget):
    open_spec = pyqtSignal(str)  # a camera index, a URL, a file path
    open_file_clicked = pyqtSignal()
    open_url_clicked = pyqtSignal()
    open_demo_clicked = pyqtSignal()
    model_changed = pyqtSignal(str)
    localize_changed = pyqtSignal()
    overlay_changed = pyqtSignal()

    def __init__(self, models: list[str], cameras: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(260)
        layout = QVBoxLayout(self)
        self.labels: list[str] = []

        # -- source
        box = QGroupBox("Source")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.camera = QComboBox()
        self.camera.addItems(cameras or ["0"])
        self.camera.setToolTip("camera index (Linux: /dev/videoN)")
        self.camera_button = _button("Camera", "open the chosen camera")
        self.camera_button.clicked.connect(lambda: self.open_spec.emit(self.camera.currentText()))
        row.addWidget(self.camera, 1)
        row.addWidget(self.camera_button)
        form.addLayout(row)
        row = QHBoxLayout()
        self.file_button = _button("File…", "open a video file, a folder of images (Ctrl+O)")
        self.url_button = _button("URL…", "open a network stream (rtsp://, http://)")
        self.demo_button = _button("Demo", "play the demo clip that ships with camvideo")
        self.file_button.clicked.connect(self.open_file_clicked)
        self.url_button.clicked.connect(self.open_url_clicked)
        self.demo_button.clicked.connect(self.open_demo_clicked)
        for b in (self.file_button, self.url_button, self.demo_button):
            row.addWidget(b)
        form.addLayout(row)
        self.source_label = QLabel("no source")
        self.source_label.setWordWrap(True)
        form.addWidget(self.source_label)
        layout.addWidget(box)

        # -- playback (files)
        box = QGroupBox("Playback")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.play_button = _button("Pause", "pause / play (Space)")
        self.step_button = _button("Step", "one frame forward (files)")
        self.time_label = QLabel("0:00")
        row.addWidget(self.play_button)
        row.addWidget(self.step_button)
        row.addWidget(self.time_label, 1, Qt.AlignmentFlag.AlignRight)
        form.addLayout(row)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setToolTip("seek (files)")
        self.seek.setRange(0, 1000)
        form.addWidget(self.seek)
        layout.addWidget(box)

        # -- model
        box = QGroupBox("Model")
        form = QVBoxLayout(box)
        self.model = QComboBox()
        self.model.addItems(models)
        self.model.currentTextChanged.connect(self.model_changed)
        self.model_state = QLabel("")
        self.model_state.setWordWrap(True)
        form.addWidget(self.model)
        form.addWidget(self.model_state)
        layout.addWidget(box)

        # -- what to localize
        box = QGroupBox("Localize")
        form = QFormLayout(box)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.topk = QSpinBox()
        self.topk.setRange(1, 10)
        self.topk.setValue(3)
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("type to search the 1000 classes")
        self._class_model = QStringListModel()
        completer = QCompleter(self._class_model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.class_edit.setCompleter(completer)
        completer.activated.connect(lambda _text: self._on_localize())
        self.class_edit.editingFinished.connect(self._on_localize)
        self.mode.currentIndexChanged.connect(self._on_localize)
        self.topk.valueChanged.connect(self._on_localize)
        form.addRow("What", self.mode)
        form.addRow("k", self.topk)
        form.addRow("Class", self.class_edit)
        self.threshold = _slider(20)
        self.threshold.setToolTip("box threshold: fraction of the map's maximum (CAM paper: 20%)")
        self.threshold_label = QLabel()
        self.threshold.valueChanged.connect(self._on_localize)
        form.addRow(self.threshold_label, self.threshold)
        layout.addWidget(box)

        # -- overlay
        box = QGroupBox("Overlay")
        form = QFormLayout(box)
        self.alpha = _slider(45)
        self.alpha.setToolTip("heat-map opacity")
        self.alpha_label = QLabel()
        form.addRow(self.alpha_label, self.alpha)
        self.heatmap = QCheckBox("Heat map")
        self.boxes = QCheckBox("Boxes")
        self.labels_box = QCheckBox("Labels")
        self.smoothing = QCheckBox("Smoothing")
        self.smoothing.setChecked(True)
        self.smoothing.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.smoothing.setToolTip("steady maps, labels and boxes across frames (temporal smoothing)")
        self.smoothing.toggled.connect(self._on_localize)
        for c in (self.heatmap, self.boxes, self.labels_box):
            c.setChecked(True)
            c.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            c.toggled.connect(self._on_overlay)
        self.alpha.valueChanged.connect(self._on_overlay)
        toggles = QHBoxLayout()
        for c in (self.heatmap, self.boxes, self.labels_box):
            toggles.addWidget(c)
        form.addRow(toggles)
        form.addRow(self.smoothing)
        layout.addWidget(box)

        # -- record
        box = QGroupBox("Record")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.record_button = _button("Record", "start / stop recording the annotated video (R)", checkable=True)
        self.snapshot_button = _button("Snapshot", "save the frame on screen as PNG + JSON (S)")
        self.folder_button = _button("Folder…", "where recordings and snapshots go")
        row.addWidget(self.record_button)
        row.addWidget(self.snapshot_button)
        row.addWidget(self.folder_button)
        form.addLayout(row)
        self.record_label = QLabel("not recording")
        self.record_label.setWordWrap(True)
        form.addWidget(self.record_label)
        layout.addWidget(box)
        layout.addStretch(1)
        self._update_labels()

    # -- state -> settings ------------------------------------------------------------------
    def set_class_names(self, labels: list[str]) -> None:
        """The searchable list: ``"285 Egyptian cat"`` for each class id."""
        self.labels = list(labels)
        self._class_model.setStringList([f"{i} {name}" for i, name in enumerate(self.labels)])

    def chosen_class(self) -> int | None:
        """The class id typed or picked (an id, ``"id name"`` or a unique name)."""
        text = self.class_edit.text().strip()
        if not text:
            return None
        head = text.split(" ", 1)[0]
        if head.isdigit() and 0 <= int(head) < max(1000, len(self.labels)):
            return int(head)
        lowered = text.lower()
        exact = [i for i, name in enumerate(self.labels) if name.lower() == lowered]
        if exact:
            return exact[0]
        partial = [i for i, name in enumerate(self.labels) if lowered in name.lower()]
        return partial[0] if len(partial) == 1 else None

    def localize_settings(self) -> LocalizeSettings:
        rule = BoxRule(threshold=self.threshold.value() / 100.0)
        smoothing = SmoothingSettings() if self.smoothing.isChecked() else None
        mode = self.mode.currentText()
        if mode == "One class" and self.chosen_class() is not None:
            return LocalizeSettings(topk=1, class_ids=(self.chosen_class(),), box_rule=rule, smoothing=smoothing)
        topk = self.topk.value() if mode == "Top-k" else 1
        return LocalizeSettings(topk=topk, box_rule=rule, smoothing=smoothing)

    def overlay_settings(self) -> OverlaySettings:
        return OverlaySettings(heatmap=self.heatmap.isChecked(), boxes=self.boxes.isChecked(),
                               labels=self.labels_box.isChecked(), alpha=self.alpha.value() / 100.0)

    def _on_localize(self, *_args) -> None:
        mode = self.mode.currentText()
        self.topk.setEnabled(mode == "Top-k")
        self.class_edit.setEnabled(mode == "One class")
        self._update_labels()
        self.localize_changed.emit()

    def _on_overlay(self, *_args) -> None:
        self._update_labels()
        self.overlay_changed.emit()

    def _update_labels(self) -> None:
        self.threshold_label.setText(f"Box ≥ {self.threshold.value()}%")
        self.alpha_label.setText(f"Opacity {self.alpha.value()}%")
        mode = self.mode.currentText()
        self.topk.setEnabled(mode == "Top-k")
        self.class_edit.setEnabled(mode == "One class")

    # -- QSettings ----------------------------------------------------------------------------
    def save(self, s: QSettings) -> None:
        s.setValue("model", self.model.currentText())
        s.setValue("mode", self.mode.currentText())
        s.setValue("topk", self.topk.value())
        s.setValue("class", self.class_edit.text())
        s.setValue("threshold", self.threshold.value())
        s.setValue("alpha", self.alpha.value())
        s.setValue("heatmap", self.heatmap.isChecked())
        s.setValue("boxes", self.boxes.isChecked())
        s.setValue("labels", self.labels_box.isChecked())
        s.setValue("smoothing", self.smoothing.isChecked())

    def restore(self, s: QSettings) -> None:
        """Set the widgets from ``s`` without emitting change signals."""
        widgets = (self.model, self.mode, self.topk, self.class_edit, self.threshold, self.alpha,
                   self.heatmap, self.boxes, self.labels_box, self.smoothing)
        for w in widgets:
            w.blockSignals(True)
        try:
            model = s.value("model", "", str)
            if model and self.model.findText(model) >= 0:
                self.model.setCurrentText(model)
            mode = s.value("mode", "", str)
            if mode in MODES:
                self.mode.setCurrentText(mode)
            self.topk.setValue(s.value("topk", self.topk.value(), int))
            self.class_edit.setText(s.value("class", "", str))
            self.threshold.setValue(s.value("threshold", self.threshold.value(), int))
            self.alpha.setValue(s.value("alpha", self.alpha.value(), int))
            self.heatmap.setChecked(s.value("heatmap", True, bool))
            self.boxes.setChecked(s.value("boxes", True, bool))
            self.labels_box.setChecked(s.value("labels", True, bool))
            self.smoothing.setChecked(s.value("smoothing", True, bool))
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._update_labels()
