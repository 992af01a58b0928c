"""How a pipeline takes frames from its source: ``FrameBatches``.

Batches of up to ``batch_size`` frames of a file (one frame of a live source, and
one while paused), ``max_frames`` in all; a seek asked for (``seek``, from any
thread) is done before the next frame is taken, never inside a batch, and told
to ``on_seek`` (the pipeline resets its temporal state there, in frame order).
A pause waits in the source's policy, a stop (the pipeline's event) ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from camvideo.video.sources import Frame, Source

_POLL_S = 0.1  # a wait for a frame re-checks the stop event and a seek this often


class FrameBatches:
    """``next()`` from one thread at a time (the worker, or the forward thread
    whose turn it is); ``seek(seconds)`` from any."""

    def __init__(self, source: Source, batch_size: int, max_frames: int | None, stop: threading.Event,
                 on_seek: Callable[[], None]) -> None:
        self.source = source
        self.batch_size = batch_size
        self.max_frames = max_frames
        self.taken = 0  # frames taken so far (all launches)
        self._stop = stop
        self._on_seek = on_seek
        self._lock = threading.Lock()
        self._seek_to: float | None = None

    def seek(self, seconds: float) -> None:
        """Continue from ``seconds`` before the next frame."""
        with self._lock:
            self._seek_to = float(seconds)

    def next(self) -> list[Frame] | None:
        """The next batch; None at the end (the source's, or ``max_frames``) or when stopping."""
        first = self._next_frame()
        if not first:  # None: the end; False: stopping
            return None
        batch = [first]
        if not self.source.live and not self.source.paused:
            while len(batch) < self.batch_size:
                more = self._next_frame(more=True)
                if not more:
                    break
                batch.append(more)
        return batch

    def _next_frame(self, more: bool = False) -> Frame | None | bool:
        """A frame, None at the end, False when stopping. Waits while the source is
        paused, doing seeks meanwhile; the next frame of a batch (``more``) is False
        instead when a seek or a pause comes first (the batch goes as it is)."""
        if self.max_frames is not None and self.taken >= self.max_frames:
            return None
        while not self._stop.is_set():
            if self._seek_to is not None or (more and self.source.paused):
                if more:
                    return False
                self._seek()
                continue
            try:
                frame = self.source.read(timeout=_POLL_S)
            except TimeoutError:
                continue
            if frame is not None:
                self.taken += 1
            return frame
        return False

    def _seek(self) -> None:
        with self._lock:
            target, self._seek_to = self._seek_to, None
        if target is not None:
            self.source.seek(target)
            self._on_seek()
