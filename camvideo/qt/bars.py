"""The bars over the top of the video: the error banner, "Opening …" and "Loading model …".

Both lie over the video in one grid cell with it, instead of pushing it down (a
layout shift each time one appears); with both hidden the overlay has no height
and catches no click. The banner wraps a long message and has a close button;
the opening bar offers Cancel (the window also cancels on Esc); a stream that did
not open offers Retry (the same URL). The loading bar says that the video plays
without its heat map while the first model loads.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

ERROR_BACKGROUND = "rgba(139, 26, 26, 235)"
OPENING_BACKGROUND = "rgba(36, 65, 94, 235)"


def message_bar(background: str, margins: tuple[int, int, int, int]) -> tuple[QFrame, QLabel, QHBoxLayout]:
    """A coloured bar with a white, wrapping message."""
    bar = QFrame()
    bar.setStyleSheet(f"QFrame {{ background: {background}; }} "
                      "QLabel { color: white; padding: 4px; background: transparent; }")
    layout = QHBoxLayout(bar)
    layout.setContentsMargins(*margins)
    label = QLabel()
    label.setWordWrap(True)
    return bar, label, layout


class TopBars(QWidget):
    """The error banner above the opening and loading bars; each hidden until needed.
    ``covering(height)``: the bars now cover that much of the view's top (0: none)."""

    covering = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner, self.error_label, banner_layout = message_bar(ERROR_BACKGROUND, (4, 0, 4, 0))
        close = QToolButton()
        close.setText("×")
        close.setToolTip("hide the message")
        close.clicked.connect(self.banner.hide)
        self.retry_button = QPushButton("Retry")  # a stream that did not open: again, the same URL
        self.retry_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.retry_button.clicked.connect(self._on_retry)
        self.retry_button.hide()
        self._retry = None
        banner_layout.addWidget(self.error_label, 1)
        banner_layout.addWidget(self.retry_button)
        banner_layout.addWidget(close)
        self.banner.hide()
        # While a source opens: what, and a way out (the old source plays on below).
        self.opening_bar, self.opening_label, opening_layout = message_bar(OPENING_BACKGROUND, (4, 2, 4, 2))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop opening it (Esc); what plays goes on")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        opening_layout.addWidget(self.opening_label, 1)
        opening_layout.addWidget(self.cancel_button)
        self.opening_bar.hide()
        self.loading_bar, self.loading_label, loading_layout = message_bar(OPENING_BACKGROUND, (4, 2, 4, 2))
        loading_layout.addWidget(self.loading_label, 1)
        self.loading_bar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.opening_bar)
        layout.addWidget(self.loading_bar)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        shown = any(bar.isVisibleTo(self) for bar in (self.banner, self.opening_bar, self.loading_bar))
        self.covering.emit(self.height() if shown else 0)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.retry_button.hide()  # a new message: Retry is offered with it when it fits (offer_retry)
        self._retry = None
        self.banner.show()

    def offer_retry(self, what: str, retry) -> None:
        """Retry on the banner's message: ``retry()`` when clicked (``what``: its tooltip)."""
        self._retry = retry
        self.retry_button.setToolTip(what)
        self.retry_button.show()
        self.banner.show()

    def _on_retry(self) -> None:
        retry, self._retry = self._retry, None
        self.retry_button.hide()
        self.banner.hide()
        if retry is not None:
            retry()

    def show_opening(self, text: str, tip: str) -> None:
        self.opening_label.setText(text)
        self.opening_label.setToolTip(tip)
        self.opening_bar.show()
        self.banner.hide()  # an error about an earlier attempt is old news: this one will say


    def show_loading(self, text: str) -> None:
        """The loading bar says ``text`` (the model that loads while the video plays without it)."""
        self.loading_label.setText(text)
        self.loading_bar.show()


def over(view: QWidget, bars: QWidget) -> QWidget:
    """A widget holding ``view`` with ``bars`` lying over its top edge."""
    holder = QWidget()
    layout = QGridLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(view, 0, 0)
    layout.addWidget(bars, 0, 0, Qt.AlignmentFlag.AlignTop)
    bars.raise_()
    return holder
