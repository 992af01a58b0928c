"""The side panel's group boxes, one widget each: Source, Playback, Model, Localize,
Overlay and Record.

Each box makes its widgets and lays them out; it holds no state of the app and
wires nothing outside itself: the panel (``panel``) turns the widgets' values into
the core's settings and the window's parts connect their signals. ``NAMES`` lists
the widgets a box offers (the panel makes them its attributes: ``panel.topk``).

The boxes are laid out tight (``tight``: smaller margins and row gaps than the
style's) and Localize shows only the rows its mode uses (``LocalizeBox.show_mode``),
so that at the window's first size (1280x800) every box shows without scrolling
(tests/qt/test_panel.py).
"""

from __future__ import annotations

from PyQt6.QtCore import QStringListModel, Qt
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camvideo import presets, settings  # the Quality presets; RUNTIMES, GATE
from camvideo.annotate import COLORMAPS  # numpy + cv2 (~0.08 s), no torch
from camvideo.qt.modelbox import ModelBox
from camvideo.qt.widgets import ClampedSpinBox, SeekSlider, button, slider

MODES = ("Top-1", "Top-k", "One class")
QUIET = "QLabel { color: palette(placeholder-text); }"
MARGINS = (8, 4, 8, 6)  # left, top (under the title), right, bottom of a box's rows (Fusion's: 9 each)
ROW_GAP = 4  # between a box's rows (Fusion's: 6)


def tight(layout):
    """``layout`` (a box's) with the panel's margins and row gaps; returns it."""
    layout.setContentsMargins(*MARGINS)
    if isinstance(layout, QFormLayout):
        layout.setVerticalSpacing(ROW_GAP)
    else:
        layout.setSpacing(ROW_GAP)
    return layout


def _row(*widgets, stretch: QWidget | None = None) -> QHBoxLayout:
    """The widgets side by side (``stretch`` takes the room left)."""
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w, 1 if w is stretch else 0)
    return row


def _wrapping(text: str = "", quiet: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if quiet:
        label.setStyleSheet(QUIET)
    return label


class SourceBox(QGroupBox):
    """A camera, a file, a folder of images, a URL or the demo clip; what plays."""

    NAMES = ("camera", "camera_button", "file_button", "images_button", "url_button", "demo_button", "source_label")

    def __init__(self) -> None:
        super().__init__("Source")
        form = tight(QVBoxLayout(self))
        self.camera = QComboBox()
        self.camera_button = button("Camera", "open the chosen camera")
        form.addLayout(_row(self.camera, self.camera_button, stretch=self.camera))
        self.file_button = button("File…", "open a video file (Ctrl+O)")
        self.images_button = button("Images…", "open a folder of images, played as a clip in name order "
                                                "(Ctrl+Shift+O)")
        self.url_button = button("URL…", "open a network stream (rtsp://, http://)")
        self.demo_button = button("Demo", "play the demo clip that ships with camvideo")
        form.addLayout(_row(self.file_button, self.images_button, self.url_button, self.demo_button))
        self.source_label = _wrapping("no source")
        form.addWidget(self.source_label)


class PlaybackBox(QGroupBox):
    """Pause, step, the clock and the seek bar (files); a slideshow's time per image."""

    NAMES = ("play_button", "back_button", "step_button", "time_label", "seek", "slide_row", "slide_seconds",
             "image_label")

    def __init__(self) -> None:
        super().__init__("Playback")
        form = tight(QVBoxLayout(self))
        self.play_button = button("Pause", "pause / play (Space)")
        self.back_button = button("◀ Step", "one frame back (files; ←), the previous image (folders)")
        self.step_button = button("Step ▶", "one frame forward (files; →), the next image (folders)")
        self.time_label = QLabel("0:00")
        row = _row(self.play_button, self.back_button, self.step_button)
        row.addWidget(self.time_label, 1, Qt.AlignmentFlag.AlignRight)
        form.addLayout(row)
        self.seek = SeekSlider()
        self.seek.setToolTip("seek (files): click or drag")
        form.addWidget(self.seek)
        # A folder of images is a slideshow: each image this long while it plays.
        self.slide_seconds = QDoubleSpinBox()
        self.slide_seconds.setRange(0.5, 60.0)
        self.slide_seconds.setSingleStep(0.5)
        self.slide_seconds.setDecimals(1)
        self.slide_seconds.setValue(2.0)
        self.slide_seconds.setSuffix(" s")
        self.slide_seconds.setToolTip("how long each image of a folder shows while the slideshow plays")
        self.slide_row = QWidget()
        slide = _row(QLabel("Each image for"), self.slide_seconds)
        slide.addStretch(1)
        slide.setContentsMargins(0, 0, 0, 0)
        self.slide_row.setLayout(slide)
        form.addWidget(self.slide_row)
        self.slide_row.hide()
        self.image_label = _wrapping()  # the file name of the image on screen (slideshows)
        form.addWidget(self.image_label)
        self.image_label.hide()


class ModelGroup(QGroupBox):
    """The model list, "Weights file…", what the model is doing; the Runtime."""

    NAMES = ("model", "model_state", "weights_button", "runtime", "runtime_state")

    def __init__(self) -> None:
        super().__init__("Model")
        form = tight(QVBoxLayout(self))
        self.model = ModelBox()
        self.model.setToolTip("the classifier: lite0 is built in and works offline; ● marks the others ready "
                              "offline; the rest download their ImageNet weights once")
        self.model_state = _wrapping()
        self.weights_button = button("Weights file…", "load the chosen model's weights from a file "
                                      "(.pth, .pt, .safetensors): for a model whose weights cannot download here")
        form.addLayout(_row(self.model, self.weights_button, stretch=self.model))
        form.addWidget(self.model_state)
        self.runtime = QComboBox()  # camvideo.app.runtime_switch: torch until OpenVINO is ready
        self.runtime.addItems(settings.RUNTIMES)
        self.runtime_state = QLabel("")
        form.addLayout(_row(QLabel("Runtime"), self.runtime, self.runtime_state, stretch=self.runtime_state))


class LocalizeBox(QGroupBox):
    """Which classes, the box threshold, the confidence gate and the Quality preset."""

    NAMES = ("mode", "topk", "class_edit", "class_hint", "threshold", "threshold_label", "gate", "quality")

    def __init__(self) -> None:
        super().__init__("Localize")
        form = tight(QFormLayout(self))
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("localize the best class, the k best classes, or one class you choose")
        self.topk = ClampedSpinBox()  # typing 20 gives 10 (its most), and says so; not a silent 2
        self.topk.setRange(1, 10)
        self.topk.setValue(3)
        self.topk.setToolTip("how many of the best classes get a box and a label; click a label "
                             "(or press 1-9) to see that class's heat map")
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("type to search the 1000 classes")
        self.class_names = QStringListModel()  # "285 Egyptian cat" for each class id
        completer = QCompleter(self.class_names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.class_edit.setCompleter(completer)
        self.class_hint = _wrapping()
        self.form = form
        form.addRow("Classes", self.mode)
        form.addRow("Top k", self.topk)
        form.addRow("Class", self.class_edit)
        form.addRow(self.class_hint)
        self.threshold = slider(20)
        self.threshold.setToolTip("box threshold: fraction of the map's maximum (CAM paper: 20%)")
        self.threshold_label = QLabel()
        self.threshold_label.setToolTip(self.threshold.toolTip())
        form.addRow(self.threshold_label, self.threshold)
        self.gate = QSpinBox()  # the window's confidence gate, settings.GATE by default
        self.gate.setRange(0, 50)
        self.gate.setValue(round(settings.GATE * 100))
        self.gate.setSuffix("%")
        self.gate.setToolTip("confidence gate: a class below this probability is listed with its score but gets "
                             "no box and no heat map (0%: every class gets them); Save as JSONL writes what "
                             "camvideo process --gate (this / 100) --export writes")
        form.addRow("Gate", self.gate)
        self.quality = QComboBox()  # the named presets of camvideo.presets (docs/eval.md)
        self.quality.addItems(presets.QUALITY_PRESETS)
        self.quality.setCurrentText(presets.DEFAULT_QUALITY)
        self.quality.setToolTip("fast: plain CAM (frame squashed to 224x224); balanced: the frame's shape kept; "
                                "best: also a sharper second pass for the maps (slower)")
        form.addRow("Quality", self.quality)

    def show_mode(self, mode: str) -> None:
        """Only the rows ``mode`` uses: Top k for Top-k, Class and its hint for One class."""
        self.form.setRowVisible(self.topk, mode == "Top-k")
        self.form.setRowVisible(self.class_edit, mode == "One class")
        self.form.setRowVisible(self.class_hint, mode == "One class")


class OverlayBox(QGroupBox):
    """Heat map, boxes and labels on or off, opacity, colours, smoothing; whose heat map."""

    NAMES = ("alpha", "alpha_label", "colormap", "heatmap", "boxes", "labels_box", "smoothing", "map_hint")

    def __init__(self) -> None:
        super().__init__("Overlay")
        form = tight(QFormLayout(self))
        self.alpha = slider(45)
        self.alpha.setToolTip("heat-map opacity")
        self.alpha_label = QLabel()
        form.addRow(self.alpha_label, self.alpha)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setToolTip("colours of the heat map (low -> high)")
        form.addRow("Colours", self.colormap)
        self.heatmap, self.boxes, self.labels_box = QCheckBox("Heat map"), QCheckBox("Boxes"), QCheckBox("Labels")
        self.smoothing = QCheckBox("Smoothing")
        self.smoothing.setToolTip("steady maps, labels and boxes across frames (temporal smoothing)")
        for c in (self.heatmap, self.boxes, self.labels_box, self.smoothing):
            c.setChecked(True)
            c.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click leaves the keys to the window
        form.addRow(_row(self.heatmap, self.boxes, self.labels_box))
        # Whose heat map (Top-k): chosen in the view (click a label) or with keys 1-9.
        self.map_hint = _wrapping(quiet=True)
        form.addRow(self.map_hint)
        form.addRow(self.smoothing)


class RecordBox(QGroupBox):
    """Record, Snapshot and the folder they go to."""

    NAMES = ("record_button", "snapshot_button", "folder_button", "record_label", "folder_label")

    def __init__(self) -> None:
        super().__init__("Record")
        form = tight(QVBoxLayout(self))
        self.record_button = button("Record", "start / stop recording the annotated video (R)", checkable=True)
        self.snapshot_button = button("Snapshot", "save the frame on screen as PNG + JSON (S)")
        self.folder_button = button("Folder…", "where recordings and snapshots go")
        form.addLayout(_row(self.record_button, self.snapshot_button, self.folder_button))
        self.record_label = _wrapping("not recording")
        form.addWidget(self.record_label)
        self.folder_label = _wrapping(quiet=True)  # where they go, before anything is saved
        form.addWidget(self.folder_label)
