"""The window's settings read back from its INI file, each checked as it is read.

The file is plain text that a user may edit: a value that is not of its kind
("threshold=abc", "geometry=x", "output_dir=a,b", which Qt reads as a list) is
not used; its default is, and the key is named in ``bad`` so the window can say
so on one line (``message``) instead of failing on its first bad value; the
same line says when the file cannot be written (nothing is kept after the run).
"""

from __future__ import annotations

from PyQt6.QtCore import QByteArray, QSettings

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class SavedSettings:
    """Checked reads of ``settings``; ``bad`` lists the keys whose values were dropped."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings
        self.bad: list[str] = []

    def _raw(self, key: str):
        return self.settings.value(key) if self.settings.contains(key) else None

    def _drop(self, key: str, default):
        if key not in self.bad:
            self.bad.append(key)
        return default

    def text(self, key: str, default: str = "", choices=None) -> str:
        """A string (one of ``choices`` when given), else ``default``."""
        raw = self._raw(key)
        if raw is None:
            return default
        if not isinstance(raw, str) or (choices is not None and raw not in choices):
            return self._drop(key, default)
        return raw

    def number(self, key: str, default, low, high):
        """A number of ``default``'s type within ``low``..``high``, else ``default``."""
        raw = self._raw(key)
        if raw is None:
            return default
        try:
            value = type(default)(raw)
        except (TypeError, ValueError):
            return self._drop(key, default)
        return value if low <= value <= high else self._drop(key, default)

    def flag(self, key: str, default: bool) -> bool:
        """true / false (also 1 / 0, yes / no, on / off), else ``default``."""
        raw = self._raw(key)
        if raw is None or isinstance(raw, bool):
            return default if raw is None else raw
        word = raw.strip().lower() if isinstance(raw, str) else ""
        return word in TRUE if word in TRUE + FALSE else self._drop(key, default)

    def blob(self, key: str) -> QByteArray | None:
        """Bytes Qt saved (the window's geometry), else None."""
        raw = self._raw(key)
        if raw is None or isinstance(raw, QByteArray):
            return raw
        return self._drop(key, None)

    def message(self) -> str:
        """One line naming the values not used and saying when the file cannot be
        written (the choices then last only this run), or "" when all is well."""
        name = self.settings.fileName()
        said = [f"settings file {name}: {', '.join(self.bad)} not understood; the defaults are used instead"] \
            if self.bad else []
        if not self.settings.isWritable():
            said.append(f"settings file {name} cannot be written: your choices will not be kept after this run")
        return "; ".join(said)
