"""Class names without a model (and without torch): ImageNet's, a labels file's, and
the one class a user's text picks (the window's Class field and ``--class NAME``)."""

from __future__ import annotations

import os
from pathlib import Path

from camvideo.errors import ModelLoadError, not_a_file


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, as torchvision ships them (copied into
    resources/imagenet_labels.txt: importing torchvision costs ~1.2 s)."""
    path = Path(__file__).parent / "resources" / "imagenet_labels.txt"
    return path.read_text(encoding="utf-8").splitlines()


def find_class(text: str, labels: list[str]) -> int | None:
    """The class id ``text`` picks: an id, ``"id name"`` or a name (exact, any case,
    or the only one containing it); None when it picks none or several."""
    text = text.strip()
    if not text:
        return None
    head = text.split(" ", 1)[0]
    if head.isdigit() and 0 <= int(head) < max(1000, len(labels)):
        return int(head)
    lowered = text.lower()
    exact = [i for i, name in enumerate(labels) if name.lower() == lowered]
    if exact:
        return exact[0]
    partial = [i for i, name in enumerate(labels) if lowered in name.lower()]
    return partial[0] if len(partial) == 1 else None


def read_labels(path: str | Path) -> list[str]:
    """One class name per line (blank lines ignored), from a regular file (a named
    pipe would block the read, a device never end: one clear error instead)."""
    path = Path(path)
    try:
        kind = not_a_file(os.stat(path).st_mode)
        if kind:
            raise ModelLoadError(f"labels file {path} is {kind}, not a text file (one class name per line)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelLoadError(f"cannot read labels file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelLoadError(f"labels file {path} is not UTF-8 text (one class name per line)") from None
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise ModelLoadError(f"labels file {path} has no class names (one per line)")
    return labels
