"""The checks of a command's inputs that need no torch: a SOURCE path that names
nothing, a folder with nothing to process."""

from __future__ import annotations

import os

from camvideo.errors import InputError
from camvideo.video.spec import IMAGE_SUFFIXES, SourceSpec


def check_source(text: str, *, videos: bool = False) -> None:
    """A SOURCE path that does not exist, or a folder with no images, is an
    ``InputError`` (``videos``: the line says that a folder of videos is taken too, as
    ``process`` does, a batch); a camera, a URL, a glob or a file is left to open."""
    spec = SourceSpec.parse(text)
    if spec.kind == "file" and not spec.path.exists():
        raise InputError(f"{text}: no such file or folder")
    if spec.kind != "folder":
        return
    try:
        names = [e.name for e in os.scandir(spec.path) if e.is_file()]
    except OSError:
        return  # unreadable: opening it says why
    if any(os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES for n in names):
        return
    if not videos:
        raise InputError(f"{text}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
    from camvideo.batch.plan import VIDEO_SUFFIXES

    raise InputError(f"{text}: folder has no images ({', '.join(IMAGE_SUFFIXES)}) and no videos "
                     f"({', '.join(VIDEO_SUFFIXES)}; a folder of videos, its subfolders too, is a batch)")
