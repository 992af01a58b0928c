"""The desktop app: the only package of camvideo that imports PyQt6.

- ``convert``: BGR arrays -> QImage (built in the worker thread).
- ``view``: the video widget; paints the newest frame, never queues.
- ``session``: one running source -> pipeline -> view (+ recording), model loading
  in the background; talks to widgets only through signals.
- ``opener``: opens sources in background threads (the newest request wins; late
  results are closed unseen), so a stream that does not answer never freezes the window.
- ``panel``: the side panel (source, model, what to localize, overlay, record).
- ``window``: the main window: shortcuts, settings, drag and drop, status bar.
- ``app``: ``run(...)`` builds the QApplication and shows the window.
"""

ORGANIZATION = "camvideo"
APPLICATION = "camvideo"


def app_settings():
    """The app's QSettings: an INI file per user (``QSettings.setPath`` moves it, as tests do)."""
    from PyQt6.QtCore import QSettings

    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
