"""What a source spec names: ``SourceSpec.parse`` is the one place a spec is read.

The usual convention: a number is a camera index, an ``rtsp://`` / ``http(s)://``
(...) URL a stream, a folder the images in it, a pattern with ``*?[`` that matches
no file the images it matches, an image file a one-frame sequence, anything else a
video file. ``open_source``, the window's opener and ``camvideo process`` all ask
this module; nothing else tells a camera from a path by looking at the text.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
GLOB_CHARS = "*?["
URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")  # two letters at least: C:// is a Windows drive

Kind = Literal["camera", "stream", "url", "folder", "glob", "image", "file", "path"]
LIVE_KINDS = ("camera", "stream")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source spec.

    ``kind`` is one of ``camera`` (``camera`` holds the index), ``stream`` (``url``;
    an http(s) URL whose container has a duration proves a file when opened),
    ``url`` (a scheme camvideo does not read, such as ``ftp://``), ``folder``,
    ``image`` and ``file`` (``path``, with ``~`` expanded; a ``file://`` URL is its
    path), ``glob`` (``pattern``, with ``~`` expanded), or ``path`` when parsed with
    ``probe=False``: a path not looked up yet (folder, glob, image or file).
    ``text`` is the spec as given (a camera index without blanks).
    """

    text: str
    kind: Kind
    camera: int | None = None
    url: str | None = None
    path: Path | None = None
    pattern: str | None = None

    @property
    def live(self) -> bool:
        """A camera or a stream: frames come at their own pace, newest first."""
        return self.kind in LIVE_KINDS

    @classmethod
    def parse(cls, spec: str | int | Path | SourceSpec, *, probe: bool = True) -> SourceSpec:
        """Read ``spec``. Cameras and URLs are told by the text alone; a path's kind
        needs the filesystem, which ``probe=False`` leaves alone (kind ``path``: for
        the GUI thread, where a stat on a hung network share would freeze the window).

        Raises TypeError for anything but an int, a str, a Path or a SourceSpec.
        """
        if isinstance(spec, SourceSpec):
            if spec.kind != "path" or not probe:
                return spec
            spec = spec.text
        if isinstance(spec, bool) or not isinstance(spec, (str, int, Path)):
            raise TypeError(f"spec must be a camera index, URL, path or glob, got {type(spec).__name__}")
        if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
            text = str(spec).strip()
            return cls(text, "camera", camera=int(text))
        text = str(spec)
        if text.lower().startswith(STREAM_PREFIXES):
            return cls(text, "stream", url=text)
        scheme = URL.match(text) if isinstance(spec, str) else None
        if scheme and scheme.group(1).lower() != "file":
            return cls(text, "url", url=text)
        expanded = urllib.parse.unquote(urllib.parse.urlsplit(text).path) if scheme else os.path.expanduser(text)
        path = Path(expanded)
        if not probe:
            return cls(text, "path", path=path)
        if path.is_dir():
            return cls(text, "folder", path=path)
        if not path.exists() and any(c in text for c in GLOB_CHARS):
            return cls(text, "glob", pattern=expanded)
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            return cls(text, "image", path=path)
        return cls(text, "file", path=path)
