"""camvideo.app.resources: the demo clip is package data, found where the package is."""

from __future__ import annotations

from pathlib import Path

import pytest

import camvideo
from camvideo.app.resources import demo_clip_path, resource_path
from camvideo.errors import InputError


def test_the_demo_clip_is_an_existing_file_inside_the_package():
    path = demo_clip_path()
    assert path.is_file() and path.stat().st_size > 100_000
    # Inside the package, so a wheel carries it (package data `resources/*`).
    assert path.parent == Path(camvideo.__file__).resolve().parent / "resources"


def test_a_missing_resource_says_where_it_looked_and_what_to_do():
    with pytest.raises(InputError, match=r"nope\.mp4 not found in .*resources.*make_demo_clip"):
        resource_path("nope.mp4")
