"""The panel's small widgets: the seek bar, a spin box that clamps, buttons and sliders."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QValidator
from PyQt6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QStyle,
    QStyleOptionSlider,
    QWidget,
)


class JumpSlider(QSlider):
    """A horizontal slider where a click on the groove jumps to the spot clicked
    (a plain QSlider moves one page towards it), and the handle can be dragged on
    from there. The panel's sliders (threshold, opacity) and the seek bar are these:
    a click means the same on all of them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)

    def _rects(self):
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        style = self.style()
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self)
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self)
        return handle, groove

    def value_at(self, x: float) -> int:
        """The slider value under widget x coordinate ``x``."""
        handle, groove = self._rects()
        span = max(1, groove.width() - handle.width())
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                              int(round(x - groove.x() - handle.width() / 2)), span)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.isEnabled():
            handle, _ = self._rects()
            if not handle.contains(event.position().toPoint()):
                # Move the handle under the mouse; the press below then grabs it,
                # so the release acts (once) and a drag goes on from here.
                self.setSliderPosition(self.value_at(event.position().x()))
        super().mousePressEvent(event)


class SeekSlider(JumpSlider):
    """The seek bar of a file (0..1000 of its duration): a ``JumpSlider``.

    ``seek_requested`` (a fraction of the duration) is emitted when the mouse is
    released and for each page key (the arrows are the window's: ``keys.ArrowKeys``).
    """

    seek_requested = pyqtSignal(float)

    STEPS = 1000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, self.STEPS)
        self.setPageStep(50)
        self.setSingleStep(10)
        self.sliderReleased.connect(lambda: self.seek_requested.emit(self.value() / self.STEPS))
        self.actionTriggered.connect(self._on_action)

    def _on_action(self, action: int) -> None:
        keys = (QAbstractSlider.SliderAction.SliderSingleStepAdd, QAbstractSlider.SliderAction.SliderSingleStepSub,
                QAbstractSlider.SliderAction.SliderPageStepAdd, QAbstractSlider.SliderAction.SliderPageStepSub,
                QAbstractSlider.SliderAction.SliderToMinimum, QAbstractSlider.SliderAction.SliderToMaximum)
        if not self.isSliderDown() and QAbstractSlider.SliderAction(action) in keys:
            self.seek_requested.emit(self.sliderPosition() / self.STEPS)


class ClampedSpinBox(QSpinBox):
    """A spin box where a number typed beyond the range becomes the nearest end on
    Enter (``clamped(typed)`` says so), instead of the keystroke being refused
    (typing 20 into 1..10 used to leave a silent 2). The value changes on Enter or
    on leaving the field, not at each keystroke."""

    clamped = pyqtSignal(int)  # the number typed, out of range

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.setKeyboardTracking(False)

    def validate(self, text: str, pos: int):
        state, text_out, pos_out = super().validate(text, pos)
        if state == QValidator.State.Invalid and text.strip().isdigit():
            return QValidator.State.Intermediate, text, pos  # out of range: fixed up on Enter
        return state, text_out, pos_out

    def fixup(self, text: str) -> str:
        if not text.strip().isdigit():
            return super().fixup(text)
        typed = int(text)
        value = min(max(typed, self.minimum()), self.maximum())
        if value != typed:
            self.clamped.emit(typed)
        return str(value)


def slider(value: int) -> JumpSlider:
    """A 0..100 panel slider at ``value``: a click jumps there, the arrows move it by 1."""
    s = JumpSlider()
    s.setRange(0, 100)
    s.setValue(value)
    return s


def button(text: str, tip: str, checkable: bool = False) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click leaves the keys to the window
    return b
