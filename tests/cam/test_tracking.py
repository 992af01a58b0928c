"""BoxTracker with a BoxFilter of one's own (camvideo.cam.tracking)."""

from __future__ import annotations

import numpy as np

from camvideo.cam.tracking import BoxTracker, Track
from camvideo.settings import SmoothingSettings


class Averaging:
    """A custom BoxFilter that does array arithmetic on the track it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[type, type]] = []

    def start(self, box: np.ndarray) -> Track:
        return Track(box, np.zeros(4))

    def update(self, track: Track, box: np.ndarray) -> Track:
        self.seen.append((type(track.corners), type(track.velocity)))
        corners = (track.corners + box) / 2 + 0 * track.velocity  # arrays, as the Protocol says
        return Track(corners, track.velocity)


def test_a_filter_swapped_in_mid_stream_gets_its_tracks_as_arrays():
    tracker = BoxTracker(SmoothingSettings(motion=False))
    assert tracker.update({3: [(10, 10, 50, 50)]}, (100, 100)) == {3: [(10, 10, 50, 50)]}  # SmoothingFilter's tracks
    custom = Averaging()
    tracker.box_filter = custom
    assert tracker.update({3: [(20, 10, 60, 50)]}, (100, 100)) == {3: [(15, 10, 55, 50)]}
    assert custom.seen == [(np.ndarray, np.ndarray)]


def test_the_default_filter_takes_a_custom_filter_s_array_tracks_back():
    tracker = BoxTracker(SmoothingSettings(motion=False), box_filter=Averaging())
    tracker.update({3: [(10, 10, 50, 50)]}, (100, 100))
    tracker.box_filter = None  # SmoothingFilter again: its plain floats take arrays too
    (box,) = tracker.update({3: [(10, 10, 50, 50)]}, (100, 100))[3]
    assert box == (10, 10, 50, 50)
