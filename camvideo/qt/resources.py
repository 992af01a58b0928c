"""Where the files in ``resources/`` (the demo clip) are, installed or not.

``pip install -e .`` leaves the package in the checkout: the repository's
``resources/`` is then next to the ``camvideo`` package. A regular install
carries them as package data in ``camvideo/resources`` when it ships them.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

PACKAGE = Path(__file__).resolve().parent.parent  # camvideo/
CANDIDATES = (PACKAGE / "resources", PACKAGE.parent / "resources")


def resource_path(name: str) -> Path:
    for folder in CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"resource {name} not found in {' or '.join(str(c) for c in CANDIDATES)}; "
                     "run `python scripts/make_demo_clip.py` in the repository to build the demo clip")


def demo_clip_path() -> Path:
    return resource_path("demo.mp4")
