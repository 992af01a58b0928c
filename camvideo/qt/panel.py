"""The side panel: source, model, what to localize, overlay, recording, playback.

It only builds widgets and turns their state into the core's frozen settings
(``LocalizeSettings``, ``OverlaySettings``); the window wires the signals to the
session. ``save``/``restore`` keep the choices in QSettings between runs.

The panel imports no torch (``camvideo.settings`` is torch-free), so its settings
can be made and pushed before the model has loaded. Until the core is in, the
model list holds the names known without torch; ``set_models`` fills in the rest.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings, QStringListModel, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from camvideo import settings as presets  # the Quality presets
from camvideo.annotate import COLORMAPS  # numpy + cv2 (~0.08 s), no torch
from camvideo.app.classes import chosen_class, class_hint
from camvideo.qt.modelbox import ModelBox
from camvideo.qt.widgets import ClampedSpinBox, SeekSlider, button, slider
from camvideo.settings import (
    GATE,
    RUNTIMES,
    IntensitySettings,
    LocalizeSettings,
    OverlaySettings,
    SmoothingSettings,
)

MODES = ("Top-1", "Top-k", "One class")
NO_CAMERA = "no camera found"

# The window's confidence gate (settings.GATE, 5%): a class under it gets no box and
# no map (the legend says why). Save as JSONL writes what `camvideo process --gate 0.05
# --export` writes; the command line's default gate is 0 (every box kept).
APP_FAINT = 0.0


class ControlPanel(QWidget):
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
        self.labels: list[str] = []

        # -- source
        box = QGroupBox("Source")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.camera = QComboBox()
        self.camera_button = button("Camera", "open the chosen camera")
        self.camera_button.clicked.connect(lambda: self.open_spec.emit(self.camera.currentText()))
        self.set_cameras(cameras)
        row.addWidget(self.camera, 1)
        row.addWidget(self.camera_button)
        form.addLayout(row)
        row = QHBoxLayout()
        self.file_button = button("File…", "open a video file (Ctrl+O)")
        self.images_button = button("Images…", "open a folder of images, played as a clip in name order "
                                                "(Ctrl+Shift+O)")
        self.url_button = button("URL…", "open a network stream (rtsp://, http://)")
        self.demo_button = button("Demo", "play the demo clip that ships with camvideo")
        self.file_button.clicked.connect(self.open_file_clicked)
        self.images_button.clicked.connect(self.open_folder_clicked)
        self.url_button.clicked.connect(self.open_url_clicked)
        self.demo_button.clicked.connect(self.open_demo_clicked)
        for b in (self.file_button, self.images_button, self.url_button, self.demo_button):
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
        self.play_button = button("Pause", "pause / play (Space)")
        self.back_button = button("◀", "one frame back (files; ←), the previous image (folders)")
        self.step_button = button("Step", "one frame forward (files; →), the next image (folders)")
        self.time_label = QLabel("0:00")
        row.addWidget(self.play_button)
        row.addWidget(self.back_button)
        row.addWidget(self.step_button)
        row.addWidget(self.time_label, 1, Qt.AlignmentFlag.AlignRight)
        form.addLayout(row)
        self.seek = SeekSlider()
        self.seek.setToolTip("seek (files): click or drag")
        form.addWidget(self.seek)
        # A folder of images is a slideshow: each image this long while it plays.
        self.slide_row = QWidget()
        slide = QHBoxLayout(self.slide_row)
        slide.setContentsMargins(0, 0, 0, 0)
        self.slide_seconds = QDoubleSpinBox()
        self.slide_seconds.setRange(0.5, 60.0)
        self.slide_seconds.setSingleStep(0.5)
        self.slide_seconds.setDecimals(1)
        self.slide_seconds.setValue(2.0)
        self.slide_seconds.setSuffix(" s")
        self.slide_seconds.setToolTip("how long each image of a folder shows while the slideshow plays")
        slide.addWidget(QLabel("Each image for"))
        slide.addWidget(self.slide_seconds)
        slide.addStretch(1)
        form.addWidget(self.slide_row)
        self.slide_row.hide()
        self.image_label = QLabel()  # the file name of the image on screen (slideshows)
        self.image_label.setWordWrap(True)
        form.addWidget(self.image_label)
        self.image_label.hide()
        layout.addWidget(box)

        # -- model
        box = QGroupBox("Model")
        form = QVBoxLayout(box)
        self.model = ModelBox()
        self.model.setToolTip("the classifier: lite0 is built in and works offline; ● marks the others ready "
                              "offline; the rest download their ImageNet weights once")
        self.set_models(models)
        self.model.currentTextChanged.connect(self.model_changed)
        self.model_state = QLabel("")
        self.model_state.setWordWrap(True)
        self.weights_button = button("Weights file…", "load the chosen model's weights from a file "
                                      "(.pth, .pt, .safetensors): for a model whose weights cannot download here")
        self.weights_button.clicked.connect(self.weights_file_clicked)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(self.weights_button)
        form.addLayout(row)
        form.addWidget(self.model_state)
        row = QHBoxLayout()  # the runtime (camvideo.app.runtime_switch): torch until OpenVINO is ready
        self.runtime = QComboBox()
        self.runtime.addItems(RUNTIMES)
        self.runtime_state = QLabel("")
        row.addWidget(QLabel("Runtime"))
        row.addWidget(self.runtime)
        row.addWidget(self.runtime_state, 1)
        form.addLayout(row)
        layout.addWidget(box)

        # -- what to localize
        box = QGroupBox("Localize")
        form = QFormLayout(box)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.topk = ClampedSpinBox()  # typing 20 gives 10 (its most), and says so; not a silent 2
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
        self.mode.setToolTip("localize the best class, the k best classes, or one class you choose")
        self.topk.setToolTip("how many of the best classes get a box and a label; click a label "
                             "(or press 1-9) to see that class's heat map")
        self.class_hint = QLabel()
        self.class_hint.setWordWrap(True)
        self.class_edit.textChanged.connect(self._update_labels)
        form.addRow("Classes", self.mode)
        form.addRow("Top k", self.topk)
        form.addRow("Class", self.class_edit)
        form.addRow(self.class_hint)
        self.threshold = slider(20)
        self.threshold.setToolTip("box threshold: fraction of the map's maximum (CAM paper: 20%)")
        self.threshold_label = QLabel()
        self.threshold_label.setToolTip(self.threshold.toolTip())
        self.threshold.valueChanged.connect(self._on_localize)
        form.addRow(self.threshold_label, self.threshold)
        self.quality = QComboBox()  # the named presets of camvideo.settings (docs/eval.md)
        self.quality.addItems(presets.QUALITY_PRESETS)
        self.quality.setCurrentText(presets.DEFAULT_QUALITY)
        self.quality.setToolTip("fast: plain CAM (frame squashed to 224x224); balanced: the frame's shape kept; "
                                "best: also a sharper second pass for the maps (slower)")
        self.quality.currentIndexChanged.connect(self._on_localize)
        form.addRow("Quality", self.quality)
        layout.addWidget(box)

        # -- overlay
        box = QGroupBox("Overlay")
        form = QFormLayout(box)
        self.alpha = slider(45)
        self.alpha.setToolTip("heat-map opacity")
        self.alpha_label = QLabel()
        form.addRow(self.alpha_label, self.alpha)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setToolTip("colours of the heat map (low -> high)")
        self.colormap.currentIndexChanged.connect(self._on_overlay)
        form.addRow("Colours", self.colormap)
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
        # Whose heat map (Top-k): chosen in the view (click a label) or with keys 1-9.
        self.heatmap_rank = 1
        self.map_class = ""  # the class whose map is shown (the window tells, from the frame on screen)
        self.map_hint = QLabel()
        self.map_hint.setWordWrap(True)
        self.map_hint.setStyleSheet("QLabel { color: palette(placeholder-text); }")
        form.addRow(self.map_hint)
        form.addRow(self.smoothing)
        layout.addWidget(box)

        # -- record
        box = QGroupBox("Record")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.record_button = button("Record", "start / stop recording the annotated video (R)", checkable=True)
        self.snapshot_button = button("Snapshot", "save the frame on screen as PNG + JSON (S)")
        self.folder_button = button("Folder…", "where recordings and snapshots go")
        row.addWidget(self.record_button)
        row.addWidget(self.snapshot_button)
        row.addWidget(self.folder_button)
        form.addLayout(row)
        self.record_label = QLabel("not recording")
        self.record_label.setWordWrap(True)
        form.addWidget(self.record_label)
        self.folder_label = QLabel()  # where they go, before anything is saved
        self.folder_label.setWordWrap(True)
        self.folder_label.setStyleSheet("QLabel { color: palette(placeholder-text); }")
        form.addWidget(self.folder_label)
        layout.addWidget(box)
        layout.addStretch(1)
        self._update_labels()

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
        return chosen_class(self.class_edit.text(), self.labels)

    def localize_settings(self) -> LocalizeSettings:
        """The ``LocalizeSettings`` the widgets say."""
        quality = self.quality.currentText()
        maps = presets.quality_maps(quality)[0]
        rule = presets.quality_rule(quality, threshold=self.threshold.value() / 100.0)  # the slider's threshold
        smoothing = SmoothingSettings() if self.smoothing.isChecked() else None
        # Below the gate (settings.GATE, the command line's too) a class gets no box
        # and no map (the legend says why).
        intensity = IntensitySettings(gate=GATE, faint=APP_FAINT)
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
        self.class_hint.setVisible(mode == "One class")
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
        s.setValue("alpha", self.alpha.value())
        s.setValue("colormap", self.colormap.currentText())
        s.setValue("heatmap", self.heatmap.isChecked())
        s.setValue("boxes", self.boxes.isChecked())
        s.setValue("labels", self.labels_box.isChecked())
        s.setValue("smoothing", self.smoothing.isChecked())
        s.setValue("slide_seconds", self.slide_seconds.value())
        s.setValue("quality", self.quality.currentText())

    def restore(self, s: QSettings) -> None:
        """Set the widgets from ``s`` without emitting change signals."""
        widgets = (self.model, self.runtime, self.mode, self.topk, self.class_edit, self.threshold, self.alpha,
                   self.colormap, self.heatmap, self.boxes, self.labels_box, self.smoothing, self.slide_seconds,
                   self.quality)
        for w in widgets:
            w.blockSignals(True)
        try:
            model = s.value("model", "", str)
            if model and self.model.findText(model) >= 0:
                self.model.setCurrentText(model)
            if s.value("runtime", "", str) in RUNTIMES:
                self.runtime.setCurrentText(s.value("runtime", "", str))
            mode = s.value("mode", "", str)
            if mode in MODES:
                self.mode.setCurrentText(mode)
            self.topk.setValue(s.value("topk", self.topk.value(), int))
            self.class_edit.setText(s.value("class", "", str))
            self.threshold.setValue(s.value("threshold", self.threshold.value(), int))
            self.alpha.setValue(s.value("alpha", self.alpha.value(), int))
            colormap = s.value("colormap", "", str)
            if colormap in COLORMAPS:
                self.colormap.setCurrentText(colormap)
            self.heatmap.setChecked(s.value("heatmap", True, bool))
            self.boxes.setChecked(s.value("boxes", True, bool))
            self.labels_box.setChecked(s.value("labels", True, bool))
            self.smoothing.setChecked(s.value("smoothing", True, bool))
            self.slide_seconds.setValue(s.value("slide_seconds", self.slide_seconds.value(), float))
            quality = s.value("quality", "", str)
            if quality in presets.QUALITY_PRESETS:
                self.quality.setCurrentText(quality)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._update_labels()
