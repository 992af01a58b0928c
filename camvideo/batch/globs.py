"""Glob patterns for the batch's plan: what ``glob.glob(pattern, recursive=True)``
matches, but ending over links that loop (``matching``)."""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
from collections.abc import Sequence
from pathlib import Path

from camvideo.video.spec import GLOB_CHARS


def has_magic(text: str) -> bool:
    return any(c in text for c in GLOB_CHARS)


def matching(pattern: str) -> list[str]:
    """What ``glob.glob(pattern, recursive=True)`` matches, also over links that loop
    (``a/loop -> a``): a ``**`` pattern reads each folder once (by device and inode),
    so it ends, and a video is found once. Names that start with a dot match only a
    part that does too, as in ``glob``."""
    if "**" not in pattern:
        return globlib.glob(pattern)
    root = glob_root(pattern)
    rest = Path(pattern).parts[len(Path(root).parts):]
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    folders = [(root, ())]
    while folders:
        folder, parts = folders.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            path_parts = (*parts, entry.name)
            if _matches(rest, path_parts):
                found.append(entry.path)
            if not entry.name.startswith(".") and _is_dir(entry):
                folders.append((entry.path, path_parts))
    return found


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    """Does a relative path (``parts``) match the pattern's parts (``**``: any number of folders)?"""
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        if _matches(pattern[1:], parts):
            return True
        return bool(parts) and not parts[0].startswith(".") and _matches(pattern, parts[1:])
    if not parts:
        return False
    name = parts[0]
    if has_magic(head):
        ok = fnmatch.fnmatchcase(name, head) and (head.startswith(".") or not name.startswith("."))
    else:
        ok = name == head
    return ok and _matches(pattern[1:], parts[1:])


def glob_root(pattern: str) -> str:
    """The folder before the first wildcard: ``a/b/**/*.mp4`` -> ``a/b``."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else os.getcwd()
