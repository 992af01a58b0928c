"""The checks of a command's inputs that need no torch: a SOURCE path that names
nothing, a folder with nothing to process, a ``--model`` name that is no model.
They run before the command imports torch (seconds on a busy machine), so a typo
is one line at once.

The model names come from the list the window keeps (``camvideo.app.catalogue``,
one per torchvision version, made the first time the window or ``camvideo gui``
lists the models); with no list kept, a name is left to the model load to check.
"""

from __future__ import annotations

import os

from camvideo.errors import InputError, unknown_model
from camvideo.video.spec import IMAGE_SUFFIXES, SourceSpec

EXPORTED = (".onnx", ".xml")


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


def kept_model_names() -> set[str] | None:
    """Every model name of the window's kept list (no torch), or None when none is kept."""
    import json

    from camvideo.app.catalogue import catalogue_path

    try:
        pairs = json.loads(catalogue_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(pairs, list) or not all(isinstance(p, list) and p for p in pairs):
        return None
    return {str(p[0]) for p in pairs}


def check_model_name(name: str, names: set[str] | None = None) -> None:
    """A ``--model`` NAME missing from ``names`` (default: ``kept_model_names``) is a
    ``ModelLoadError`` naming the models it may be a typo of, as the model load says
    it; an exported graph's file, a ``timm:NAME`` or no list kept pass unchecked."""
    if not name or name.lower().endswith(EXPORTED) or name.startswith("timm:"):
        return
    names = kept_model_names() if names is None else names
    bare = name.removeprefix("torchvision:")
    if not names or bare in names:
        return
    raise unknown_model(name, sorted(names), typed=bare)
