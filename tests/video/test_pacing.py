"""The Paced policy: files at their own speed, latest-frame, pause and step."""

from __future__ import annotations

import time

import pytest
from clips import make_cat_clip

from camvideo.video.pacing import Paced
from camvideo.video.sources import VideoFileSource, open_source


def test_plays_in_real_time_in_order(tmp_path):
    clip = make_cat_clip(tmp_path / "c.mp4", frames=15, size=(64, 48))
    with open_source(clip, realtime=True) as src:
        t0 = time.monotonic()
        frames = list(src)
        elapsed = time.monotonic() - t0
    assert [f.index for f in frames] == sorted(f.index for f in frames)
    assert frames[-1].index == 14
    assert elapsed >= 14 / 30 * 0.9  # not faster than the file (0.47 s)


def test_a_slow_consumer_gets_the_newest_frame_and_drops_are_counted(tmp_path):
    clip = make_cat_clip(tmp_path / "c.mp4", frames=30, size=(64, 48))
    with open_source(clip, realtime=True) as src:
        first = src.read(timeout=5)
        time.sleep(0.4)  # ~12 frames come due meanwhile
        later = src.read(timeout=5)
        assert later.index - first.index >= 8
        assert src.dropped >= 6
        assert time.monotonic() - later.captured < 0.2  # stamped when due, not when decoded


def test_pause_stops_the_clock_and_step_steps(tmp_path):
    clip = make_cat_clip(tmp_path / "c.mp4", frames=30, size=(64, 48))
    with open_source(clip, realtime=True) as src:
        src.read(timeout=5)
        src.pause()
        time.sleep(0.1)
        waiting = src.read(timeout=1)  # at most the frame already due
        with pytest.raises(TimeoutError):
            src.read(timeout=0.3)
        src.step()
        stepped = src.read(timeout=2)
        assert stepped.index == waiting.index + 1
        src.resume()
        assert src.read(timeout=2).index > stepped.index


def test_seek_and_live_sources(tmp_path):
    clip = make_cat_clip(tmp_path / "c.mp4", frames=30, size=(64, 48))
    with open_source(clip, realtime=True) as src:
        src.read(timeout=5)
        src.seek(0.5)
        assert src.read(timeout=5).time == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match="speed"):
        Paced(speed=0)


def test_seek_to_zero_rewinds_mid_file_and_after_the_end():
    from camvideo.app.resources import demo_clip_path

    # The newest frame waits for the reader (a late one is replaced by the next), so a
    # loaded machine may hand over the second frame first: "rewound" is the first few.
    src = VideoFileSource(demo_clip_path(), policy=Paced(speed=2.0))
    try:
        for _ in range(30):
            frame = src.read(timeout=5)
        assert frame.time > 0.5
        src.seek(0.0)
        assert src.read(timeout=5).time <= 0.1
        src.seek(9.5)
        while (frame := src.read(timeout=5)) is not None:
            pass
        src.seek(0.0)  # a replay from the start
        assert src.read(timeout=5).time <= 0.1
    finally:
        src.close()
