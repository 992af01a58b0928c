"""FrameBatches: batches of a file, one frame of a live source, max_frames, seeks between batches, a stop."""

from __future__ import annotations

import threading

import numpy as np

from camvideo.runtime.batches import FrameBatches
from camvideo.video.sources import IterableSource


def _source(count: int = 10, live: bool = False) -> IterableSource:
    return IterableSource([np.full((8, 8, 3), i, np.uint8) for i in range(count)], live=live, fps=10.0)


def _indices(batches: FrameBatches) -> list[list[int]]:
    out = []
    while (batch := batches.next()) is not None:
        out.append([f.index for f in batch])
    return out


def test_a_file_comes_in_batches_up_to_max_frames():
    with _source() as source:
        batches = FrameBatches(source, 3, None, threading.Event(), lambda: None)
        assert _indices(batches) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and batches.taken == 10
    with _source() as source:
        assert _indices(FrameBatches(source, 4, 6, threading.Event(), lambda: None)) == [[0, 1, 2, 3], [4, 5]]


def test_a_seek_is_done_before_the_next_batch_and_told():
    seeks = []
    with _source() as source:
        batches = FrameBatches(source, 2, None, threading.Event(), lambda: seeks.append(source.name))
        assert [f.index for f in batches.next()] == [0, 1]
        batches.seek(0.7)  # frame 7 at 10 fps
        assert [f.index for f in batches.next()] == [7, 8] and len(seeks) == 1


def test_a_stop_ends_the_batches():
    stop = threading.Event()
    stop.set()
    with _source() as source:
        assert FrameBatches(source, 2, None, stop, lambda: None).next() is None
