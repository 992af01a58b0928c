"""No output may be an input, or another output: ``check_outputs`` compares the
files themselves (device and inode, through links), whatever their names. Every
front end that writes files asks it before anything is written. ``CheckedFile`` is
the file a recording writes through: it remembers the first write error."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from camvideo.errors import OutputError


def _identity(path: Path) -> tuple[int, int] | None:
    """The file ``path`` names (device, inode), through links; None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _where(path: Path) -> str:
    """Where a file that does not exist yet would go (links in its folders resolved)."""
    return os.path.normcase(os.path.realpath(path))


def check_outputs(inputs: Iterable[str | Path], outputs: Sequence[tuple[str, str | Path]]) -> None:
    """Raise ``OutputError`` when a file a command would write is a file it reads,
    or one that another of its outputs writes: whatever the paths are called (the
    same name, a hard link, a symbolic link), the real files are compared.

    ``outputs``: (what the user asked for, path) pairs, e.g. ``("-o in.mkv", "in.mkv")``;
    each path a file the command writes, also under a temporary name.
    """
    written = [(what, Path(path), _identity(Path(path))) for what, path in outputs]
    for i, (what, path, ident) in enumerate(written):
        for other_what, other, other_ident in written[:i]:
            same = ident == other_ident if ident is not None and other_ident is not None else _where(path) == _where(other)
            if same:
                raise OutputError(f"{other_what} and {what} are the same file: each output needs a name of its own")
    existing = {ident: what for what, _, ident in written if ident is not None}
    if not existing:
        return  # no output exists yet: none can be an input
    for source in inputs:
        what = existing.get(_identity(Path(source)))
        if what is not None:
            raise OutputError(f"{what} is the input {source} itself (the same file, whatever it is called): "
                              "camvideo never writes over its input; choose another output name")


def partial_path(path: Path) -> Path:
    """``out.mkv`` -> ``out.partial.mkv``: where an output lives until it is complete."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def set_aside(partial: Path, source: str | Path | None = None) -> Path | None:
    """Keep an earlier run's ``partial`` file from being written over: rename it to
    the first free ``NAME.partial-N.EXT`` and return that name; None when there is
    none (or it is ``source`` itself, which the output check refuses)."""
    ident = _identity(partial)
    if ident is None or not partial.is_file() or (source is not None and ident == _identity(Path(source))):
        return None
    base = partial.with_suffix("")
    for n in range(1, 10_000):
        aside = partial.with_name(f"{base.name}-{n}{partial.suffix}")
        if not os.path.lexists(aside):
            try:
                os.rename(partial, aside)
            except OSError as exc:
                raise OutputError(f"cannot keep the earlier {partial.name} as {aside.name}: {exc.strerror}; "
                                  "move it away and run again") from None
            return aside
    raise OutputError(f"cannot keep the earlier {partial.name}: {partial.parent} holds 9999 kept ones; move them away")


def kept_note(partial: Path, path: Path) -> str:
    """What a failed output leaves: the words an error ends with."""
    if not partial.exists():
        return f"{path.name} left as it was"
    return f"what was written is kept in {partial.name}, {path.name} left as it was"


class CheckedFile:
    """An unbuffered file for PyAV that remembers the first write error: FFmpeg's
    muxers do not always pass one on, and a full disk must stop the recording."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "wb", buffering=0)
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._raw.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def sync(self) -> None:
        """Everything written reaches the disk (a full disk may only say so here)."""
        if self.error is None:
            try:
                os.fsync(self._raw.fileno())
            except OSError as exc:
                self.error = exc
                raise

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self._raw.close()

