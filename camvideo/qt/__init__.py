"""The desktop app: the only package of camvideo that imports PyQt6; every module
here imports it (tests/test_layers.py). What needs no Qt is in ``camvideo.app``.

- ``tasks``: the one way to run work off the GUI thread (the newest request wins,
  failures become messages, closing waits, bounded) and to call back onto it.
- ``session``: one running source -> pipeline -> view (+ recording); the window's
  only door to the core, built from ``loader`` (models load in the background; the
  list, from ``app.catalogue``, is made by a child process once and kept), ``opener``
  (sources open in the background, a camera never twice) and, from ``camvideo.app``,
  ``sink`` (the pipeline's frames to the view and the recording, newest first),
  ``held`` (the paused frame localized again when a Localize setting changes),
  ``source_events`` (what the source on screen reports: a damaged file) and the
  playback and recording parts (``session_playback``, ``session_recording``).
- ``convert``: BGR arrays -> QImage (built in the writer thread).
- ``view``, ``labels`` and ``legend``: the video widget; paints the newest frame,
  its labels and the heat map's legend at screen resolution, never queues.
- ``window``: the main window; ``layout`` makes its widgets: ``panel`` (the side
  panel, one widget per group box in ``boxes``, with ``modelbox`` and ``widgets``;
  ``saved`` reads its settings back, each checked),
  ``bars`` (error and "Opening …" over the video), ``status`` (the status bar's
  fields); its parts: ``sources_ui`` (the Source box), ``models_ui`` (the Model box;
  the Runtime switch is ``app.runtime_switch``), ``recording`` (the Record box),
  ``playback`` (files and slideshows), ``keys`` (shortcuts and the arrows),
  ``timeline_ui`` and ``dialogs`` (choosing a source or a weights file).
- ``app``: ``run(...)`` builds the QApplication and shows the window.
"""

ORGANIZATION = "camvideo"
APPLICATION = "camvideo"


def app_settings():
    """The app's QSettings: an INI file per user (``QSettings.setPath`` moves it, as tests do)."""
    from PyQt6.QtCore import QSettings

    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
