"""What the window keeps of a source: on disk, and in what it saves.

``url_to_keep`` is a stream URL as the window remembers it between runs (QSettings'
INI file is plain text): its password taken out, ``rtsp://admin:***@cam/1``, so
Open URL… offers the address and the user name, and asks for the password again.
``made_from`` is what a snapshot's JSON says made it: the source (its password
out, too) and the model.
"""

from __future__ import annotations

from camvideo.errors import redact

HIDDEN_PASSWORD = ":***@"


def url_to_keep(url: str) -> str:
    """``url`` without its password (``user:***@``), to store on disk."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    return redact(url.strip())


def asks_password(url: str) -> bool:
    """Whether a kept ``url`` had a password taken out (it must be typed again)."""
    return HIDDEN_PASSWORD in url


def made_from(source: str | None, model: str | None) -> dict[str, str | None]:
    """``{"source": ..., "model": ...}`` for a saved frame (no password in it)."""
    return {"source": redact(source) if source else None, "model": model or None}
