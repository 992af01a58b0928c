"""The URL dialog keeps the last URL without its password (QSettings is a plain
text file), and cleans one an older version stored with it."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QInputDialog

from camvideo.qt import dialogs
from camvideo.qt.status import short


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "camvideo.ini"), QSettings.Format.IniFormat)


def answer(monkeypatch, text: str | None, seen: list) -> None:
    """The dialog answers ``text`` (None: cancelled); ``seen`` gets (offered, label)."""
    def exec_(self):
        seen.append((self.textValue(), self.labelText()))
        if text is not None:
            self.setTextValue(text)
        return int(text is not None)

    monkeypatch.setattr(QInputDialog, "exec", exec_)


def test_the_url_is_kept_without_its_password(qtbot, monkeypatch, settings, tmp_path):
    seen = []
    answer(monkeypatch, "rtsp://admin:S3cret@cam.local/1", seen)
    assert dialogs.ask_url(None, settings) == "rtsp://admin:S3cret@cam.local/1"  # opened as typed
    settings.sync()
    assert settings.value("last_url") == "rtsp://admin:***@cam.local/1"
    assert "S3cret" not in (tmp_path / "camvideo.ini").read_text()
    answer(monkeypatch, None, seen)
    assert dialogs.ask_url(None, settings) is None
    assert seen[-1][0] == "rtsp://admin:***@cam.local/1" and "password again" in seen[-1][1]


def test_a_password_stored_by_an_older_version_is_cleaned(qtbot, monkeypatch, settings, tmp_path):
    settings.setValue("last_url", "http://u:pw@host/x.mjpg")
    seen = []
    answer(monkeypatch, None, seen)
    assert dialogs.ask_url(None, settings) is None
    settings.sync()
    assert seen == [("http://u:***@host/x.mjpg", seen[0][1])]
    assert "pw@" not in (tmp_path / "camvideo.ini").read_text()


def test_a_url_on_screen_has_no_password_either():
    assert short("rtsp://admin:S3cret@cam.local/1") == "rtsp://admin:***@cam.local/1"  # banner, title, Retry
