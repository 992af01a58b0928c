"""Where the package's data files (the demo clip) are, installed or not.

They live in ``camvideo/resources/`` inside the package, declared as package data
in pyproject.toml: a wheel (``pip install .``) carries them and an editable install
(``pip install -e .``) finds them in the checkout, at the same place relative to
this module. One copy in the repository, no search.
"""

from __future__ import annotations

from pathlib import Path

from camvideo.errors import InputError

RESOURCES = Path(__file__).resolve().parent.parent / "resources"  # camvideo/resources/


def resource_path(name: str) -> Path:
    """The file ``name`` in ``camvideo/resources/``; InputError saying how to rebuild it when absent."""
    path = RESOURCES / name
    if not path.is_file():
        raise InputError(f"resource {name} not found in {RESOURCES}; reinstall camvideo, or in a checkout "
                         "run `python scripts/make_demo_clip.py` to build the demo clip")
    return path


def demo_clip_path() -> Path:
    return resource_path("demo.mp4")
