"""The progress bar of ``camvideo process``: frames done, fps and the time left (tqdm);
``Counting``, ``camvideo eval``'s count of photos and frames.

On stderr, and only when stderr is a terminal (``--progress`` asks for it
elsewhere, ``--no-progress`` turns it off). A container's frame count is a hint:
the bar never shows a total that the run then contradicts. A terminal that went
away (SIGHUP, ssh gone) makes writes fail: the bar goes quiet and the run goes on.
"""

from __future__ import annotations

import sys
import time

from camvideo.progress import QuietStream, columns, is_terminal


class Progress:
    """``update(frames)`` as the run goes, ``close(frames, finished)`` at its end; a
    context manager that closes the bar on the way out.

    ``total``: the source's frame count hint (None or 0: unknown), ``limit`` a
    ``--max-frames``; ``enabled`` None: on when ``stream`` is a terminal."""

    def __init__(self, total: int | None, limit: int | None = None, enabled: bool | None = None, stream=None) -> None:
        from tqdm import tqdm  # here: every command's parser imports this module

        stream = stream if stream is not None else sys.stderr
        total = total if total and total > 0 else None
        if limit is not None:
            total = min(total, limit) if total is not None else limit
        self.enabled = is_terminal(stream) if enabled is None else bool(enabled)
        self.bar = tqdm(total=total, unit=" frames", file=QuietStream(stream), disable=not self.enabled,
                        ncols=columns(stream), mininterval=0.25, leave=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()  # a no-op after close(); on an error, the bar ends where it was

    def update(self, frames: int) -> None:
        bar = self.bar
        if bar.disable or frames == bar.n:
            return
        if bar.total is not None and frames > bar.total:
            bar.total = None  # the hint was wrong: no total rather than 700/611
        bar.update(frames - bar.n)

    def close(self, frames: int, finished: bool) -> None:
        """The last count; ``finished``: the source ended, so what came is the total."""
        bar = self.bar
        if not bar.disable:
            if finished:
                bar.total = frames  # never "60/611" for a file of 60 frames
            self.update(frames)
            bar.refresh()
        bar.close()


class Counting:
    """A count of work done on stderr (``camvideo eval``'s photos and clip frames):
    a tqdm bar on a terminal; elsewhere (a log file, CI) a line every ``every_s``
    seconds, as a batch writes, and nothing else. ``update(done)`` as it goes; a
    context manager that closes the bar."""

    def __init__(self, what: str, total: int, unit: str, *, stream=None, tty: bool | None = None,
                 every_s: float = 30.0) -> None:
        from tqdm import tqdm  # here: every command's parser imports this module

        stream = stream if stream is not None else sys.stderr
        self.what, self.total, self.unit, self.every_s = what, total, unit, every_s
        self.tty = is_terminal(stream) if tty is None else tty
        self.stream = QuietStream(stream)
        self.start = self._last = time.monotonic()
        self.bar = tqdm(total=total, desc=what, unit=f" {unit}", file=self.stream, disable=not self.tty,
                        ncols=columns(stream), mininterval=0.25, leave=True) if self.tty else None

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.stream.write(f"camvideo: {self.what}: {done}/{self.total} {self.unit}, "
                              f"{now - self.start:.0f} s\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Counting:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
