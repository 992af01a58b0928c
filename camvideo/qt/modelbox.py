"""The model list: ready offline first, then the models that download their weights.

The whole list is made in the background from the window's start, and at once
when the box is about to open (``opening``) if it is not there yet: listing the
models imports torchvision (~1.2 s on two cores, in a child process: see
``loader``), which lite0 does not need. Until it comes the popup says so in a
line of its own, and when it comes while the popup is open, the popup is opened
again at its new size (it stayed one row high).

The built-in model comes first, then the models whose weights are on this
machine (a ● mark: they work offline), then, under a heading, those that would
download their ImageNet weights once. Item texts are the bare model names, so
``findText("resnet50")`` and the remembered choice keep working.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPainter, QPixmap
from PyQt6.QtWidgets import QComboBox

READY_TIP = "ready offline: its weights are on this machine"
DOWNLOAD_TIP = "downloads its ImageNet weights once (needs the network); or choose it and use “Weights file…”"
DOWNLOAD_HEADING = "download their weights once (network):"
LISTING = "listing the other models…"


def _dot(color: str, size: int = 10) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


class ModelBox(QComboBox):
    """The model list; says when it is about to open (the whole list is made then)."""

    opening = pyqtSignal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.listed = False  # the whole list is in
        self.ready: set[str] = set()
        self._ready_icon = _dot("#2e9d3a")
        self._none_icon = _dot("#00000000")

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        self.opening.emit()
        if not self.listed and self.findText(LISTING) < 0:
            self._add_note(LISTING, "the list of every model is being made (a few seconds, once)")
        super().showPopup()

    def set_models(self, models: list[str], ready: list[str] | None = None) -> None:
        """The model list (the first is the built-in default), keeping the choice
        when it is in the list (else the first is chosen), emitting nothing.
        ``ready``: the names that work offline; None: only what is known without
        torch (the first, built in)."""
        current = self.currentText()
        popup = self.view().isVisible()
        self.ready = set(ready or []) | set(models[:1])
        self.listed = ready is not None
        self.blockSignals(True)
        try:
            self.clear()
            first, rest = models[:1], models[1:]
            here = [m for m in rest if m in self.ready]
            away = [m for m in rest if m not in self.ready]
            for name in first + here:
                self.addItem(self._ready_icon, name)
                self.setItemData(self.count() - 1, READY_TIP if name not in first else
                                 "built in: works offline, the fastest to start", Qt.ItemDataRole.ToolTipRole)
            if away and self.listed:
                self.insertSeparator(self.count())
                self._add_note(DOWNLOAD_HEADING, DOWNLOAD_TIP)
            for name in away:
                self.addItem(self._none_icon, name)
                self.setItemData(self.count() - 1, DOWNLOAD_TIP if self.listed else "", Qt.ItemDataRole.ToolTipRole)
            if current and self.findText(current) >= 0:
                self.setCurrentText(current)
        finally:
            self.blockSignals(False)
        if popup and self.listed:  # the popup was one row high: open it again at its size
            self.hidePopup()
            super().showPopup()

    def _add_note(self, text: str, tip: str) -> None:
        """A line that cannot be chosen (a heading, "listing …")."""
        self.addItem(text)
        item = self.model().item(self.count() - 1)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setToolTip(tip)
        font = item.font()
        font.setItalic(True)
        item.setFont(font)
