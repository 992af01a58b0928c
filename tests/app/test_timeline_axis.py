"""camvideo.app.timeline_axis: the timeline's time axis, score scale and damaged
stretches, without a window (issue 23: "the timeline has no time axis or score
scale and a damaged stretch looks like 'not analysed'")."""

from __future__ import annotations

import logging

import pytest
from clips import make_damaged_clip

from camvideo.app.timeline_axis import (
    SCORE_LEVELS,
    STEPS,
    DamagedSpan,
    damaged_spans,
    span_at,
    tick_step,
    time_ticks,
)
from camvideo.video.decoding import Damage
from camvideo.video.sources import open_source


def test_the_step_is_the_smallest_round_one_that_keeps_labels_apart():
    assert tick_step(10, 1000, 60) == 1  # 100 px a second: 0.5 s would be 50 px
    assert tick_step(10, 300, 60) == 2  # 30 px a second
    assert tick_step(600, 1000, 60) == 60  # ten minutes: a tick a minute
    assert tick_step(2, 1000, 60) == 0.2
    assert tick_step(10 ** 7, 100, 60) == STEPS[-1]  # no step fits: the largest
    for duration in (1, 7.3, 45, 300, 5400):
        for width in (200, 640, 1400):
            step = tick_step(duration, width, 60)
            assert step * width / duration >= 60 or step == STEPS[-1]
            smaller = [s for s in STEPS if s < step]
            assert not smaller or smaller[-1] * width / duration < 60  # none smaller would do


def test_ticks_run_from_zero_to_the_end_labelled_as_a_clock():
    ticks = time_ticks(10.0, 1000, 60)
    assert [t.seconds for t in ticks] == list(range(11)) and ticks[3].label == "0:03"
    assert [t.label for t in time_ticks(130, 400, 60)] == ["0:00", "0:30", "1:00", "1:30", "2:00"]
    assert [t.label for t in time_ticks(7200, 240, 60)] == ["0:00", "30:00", "1:00:00", "1:30:00", "2:00:00"]
    short = time_ticks(2.0, 1000, 60)
    assert [t.label for t in short][:3] == ["0:00.0", "0:00.2", "0:00.4"] and short[-1].seconds == 2.0
    assert time_ticks(7.0, 1000, 60)[-1].seconds == 7.0  # no tick past the end
    assert time_ticks(0, 1000) == [] and time_ticks(float("nan"), 1000) == [] and time_ticks(10, 0) == []
    # a label each min_px at least, whatever the width
    for width in (120, 500, 1900):
        ticks = time_ticks(37.0, width, 60)
        assert all((b.seconds - a.seconds) * width / 37.0 >= 60 for a, b in zip(ticks, ticks[1:]))


def test_the_score_scale_has_its_top_and_middle():
    levels = dict(SCORE_LEVELS)
    assert levels[1.0] == "1.0" and levels[0.5] == "0.5"


def test_damage_becomes_spans_in_time_order_that_say_what_they_are():
    late, early = Damage(60, 61, 2.0, 2.1), Damage(34, 59, 34 / 30, 2.0)
    image = Damage(1, 1, 0.0, 0.1, file="/tmp/slides/1-image.png")
    spans = damaged_spans([late, image, early])
    assert [s.start for s in spans] == [34 / 30, 2.0]  # an image of a slideshow has no time
    assert spans[0] == DamagedSpan(34 / 30, 2.0, "frames 34-59 (1.1-2.0 s) could not be decoded")
    assert spans[1].text == "frames 60-61 (2.0-2.1 s) could not be decoded"
    assert span_at(spans, 1.5) is spans[0] and span_at(spans, 0.5) is None
    assert span_at(spans, 1.1, slack=0.05) is spans[0]


def test_a_real_damaged_file_gives_the_span_of_its_lost_frames(tmp_path, caplog):
    bad = make_damaged_clip(tmp_path, frames=90)
    with caplog.at_level(logging.ERROR), open_source(bad) as source:
        shown = [frame.index for frame in source]
    (span,) = damaged_spans(source.damage)
    (damage,) = source.damage
    assert 0 < damage.first and damage.last < 89  # lost in the middle: frames after it decode
    assert damage.first - 1 in shown and damage.last + 1 in shown and damage.first not in shown
    assert span.start == pytest.approx(damage.first / 30, abs=2e-3)
    assert span.end == pytest.approx((damage.last + 1) / 30, abs=2e-3)
    assert span.text == f"frames {damage.first}-{damage.last} ({span.start:.1f}-{span.end:.1f} s) could not be decoded"
