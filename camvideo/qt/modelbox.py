"""The model list: the built-in model first, then the others; made when it opens.

The whole list is made when the box is about to open (``opening``): listing the
models imports torchvision (~1.2 s on two cores), which lite0 does not need.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox


class ModelBox(QComboBox):
    """The model list; says when it is about to open (the whole list is made then)."""

    opening = pyqtSignal()

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        self.opening.emit()
        super().showPopup()

    def set_models(self, models: list[str]) -> None:
        """The model list (the first is the built-in default), keeping the choice
        when it is in the list (else the first is chosen), emitting nothing."""
        current = self.currentText()
        self.blockSignals(True)
        try:
            self.clear()
            self.addItems(models)
            for i in range(1, len(models)):  # the first is the built-in default
                self.setItemData(i, "downloads its ImageNet weights once (needs the network)",
                                 Qt.ItemDataRole.ToolTipRole)
            if current and self.findText(current) >= 0:
                self.setCurrentText(current)
        finally:
            self.blockSignals(False)
