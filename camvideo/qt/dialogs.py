"""Choosing a source: the file, folder and URL dialogs, the cameras, the demo clip.

Each dialog remembers where the user last looked (``last_dir``, ``last_url`` in
QSettings; a URL without its password: ``camvideo.app.sources``) and returns what
to open, or None when cancelled.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QWidget

from camvideo.app.sources import asks_password, url_to_keep
from camvideo.qt.saved import SavedSettings

WEIGHTS_FILTER = ("Weights or exported models (*.pth *.pt *.bin *.safetensors *.ckpt *.onnx *.xml);;"
                  "Exported models (*.onnx *.xml);;All files (*)")
LABELS_FILTER = "Labels, one class name a line (*.txt);;All files (*)"
VIDEO_FILTER = "Videos (*.mp4 *.mkv *.mov *.avi *.webm *.m4v *.mpg *.mpeg *.ts *.gif);;All files (*)"


def list_cameras() -> list[str]:
    """Camera indices to offer: /dev/videoN on Linux (none: an empty list), else
    0..3, which cannot be listed there (opening each to probe would make the
    window slow to appear)."""
    if sys.platform.startswith("linux"):
        found = sorted(int(p[len("/dev/video"):]) for p in glob.glob("/dev/video*") if p[len("/dev/video"):].isdigit())
        return [str(i) for i in found]
    return ["0", "1", "2", "3"]


def demo_clip() -> Path:
    from camvideo.app.resources import demo_clip_path

    return demo_clip_path()


def ask_file(parent: QWidget, settings: QSettings) -> str | None:
    last = SavedSettings(settings).text("last_dir", str(Path.home()))
    path, _ = QFileDialog.getOpenFileName(parent, "Open a video", last, VIDEO_FILTER)
    if not path:
        return None
    settings.setValue("last_dir", str(Path(path).parent))
    return path


def ask_folder(parent: QWidget, settings: QSettings) -> str | None:
    """A folder of images (shown in name order)."""
    last = SavedSettings(settings).text("last_dir", str(Path.home()))
    folder = QFileDialog.getExistingDirectory(parent, "Open a folder of images", last)
    if not folder:
        return None
    settings.setValue("last_dir", folder)
    return folder


def ask_weights(parent: QWidget, settings: QSettings, model: str) -> str | None:
    """A weights file for ``model`` (``last_weights_dir`` is remembered)."""
    last = SavedSettings(settings).text("last_weights_dir", str(Path.home()))
    path, _ = QFileDialog.getOpenFileName(parent, f"Weights file for {model}, or an exported model",
                                          last, WEIGHTS_FILTER)
    if not path:
        return None
    settings.setValue("last_weights_dir", str(Path(path).parent))
    return path


def ask_labels(parent: QWidget, settings: QSettings, model: str) -> str | None:
    """The labels file for the exported ``model`` (one class name a line), or None
    (cancelled: the graph's own labels, from its metadata, else class numbers)."""
    last = SavedSettings(settings).text("last_weights_dir", str(Path.home()))
    path, _ = QFileDialog.getOpenFileName(parent, f"Labels for {model} (Cancel: the model's own)", last,
                                          LABELS_FILTER)
    return path or None


def ask_url(parent: QWidget, settings: QSettings) -> str | None:
    """A stream URL; the last one is offered, as kept: without its password
    (``url_to_keep``; one stored in plain text by an older version is cleaned)."""
    stored = SavedSettings(settings).text("last_url", "rtsp://")
    last = url_to_keep(stored)
    if last != stored:
        settings.setValue("last_url", last)
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Open a stream")
    dialog.setLabelText("URL (rtsp://, http://…; type the password again where it says ***):"
                        if asks_password(last) else "URL (rtsp://, http://…):")
    dialog.setTextValue(last)
    dialog.resize(max(480, dialog.sizeHint().width()), dialog.sizeHint().height())  # room for a real URL
    url = dialog.textValue().strip() if dialog.exec() else ""
    if not url:
        return None
    settings.setValue("last_url", url_to_keep(url))
    return url


def dropped_path(mime, settings: QSettings) -> str | None:
    """The first local file or folder dropped (``last_dir`` follows it), or None."""
    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    if not files:
        return None
    first = Path(files[0])
    settings.setValue("last_dir", str(first if first.is_dir() else first.parent))
    return files[0]
