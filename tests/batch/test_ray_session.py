"""camvideo.batch.ray_session's own logic, without a Ray instance."""

from __future__ import annotations

import shutil
from collections import namedtuple

from camvideo.batch import ray_session

Usage = namedtuple("Usage", "total used free")


def test_a_disk_over_ray_s_limit_is_named_in_the_start_error(tmp_path, monkeypatch):
    """Ray creates no objects on a disk over 95% full (its object store's
    documented limit, ``local_fs_capacity_threshold``), and its start may not end: the
    120 s timeout's error names the disk."""
    monkeypatch.setattr(shutil, "disk_usage", lambda _folder: Usage(100, 99, 1))
    note = ray_session._full_disk_note(str(tmp_path))
    assert note == f" (the disk of {tmp_path} is 99% full: Ray does not work above 95%; free some space)"
    monkeypatch.setattr(shutil, "disk_usage", lambda _folder: Usage(100, 60, 40))
    assert ray_session._full_disk_note(str(tmp_path)) == ""


def test_the_disk_looked_at_is_ray_s_temporary_folder(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: seen.append(folder) or Usage(100, 10, 90))
    assert ray_session._full_disk_note() == "" and seen == [str(tmp_path)]
    monkeypatch.setattr(shutil, "disk_usage", lambda _folder: (_ for _ in ()).throw(OSError("gone")))
    assert ray_session._full_disk_note() == ""
