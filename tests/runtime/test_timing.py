"""The stage timer (nesting, exceptions, per-frame shares) and results whose timings
are set once, when they are made."""

from __future__ import annotations

import time
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest
from clips import make_clip

from camvideo.annotate import FrameAnnotator
from camvideo.results import FrameResult
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.runtime.pipeline import Pipeline
from camvideo.settings import LocalizeSettings, SmoothingSettings
from camvideo.timing import StageTimer
from camvideo.video.sources import open_source


def test_a_stage_records_its_time_and_adds_up_when_used_again():
    timer = StageTimer()
    with timer("read"):
        time.sleep(0.02)
    with timer("read"):
        time.sleep(0.01)
    assert set(timer.ms) == {"read"}
    assert 25.0 <= timer.ms["read"] < 1000.0


def test_nested_stages_each_record_their_own_span():
    timer = StageTimer()
    with timer("outer"):
        time.sleep(0.01)
        with timer("inner"):
            time.sleep(0.02)
    assert timer.ms["inner"] >= 15.0
    assert timer.ms["outer"] >= timer.ms["inner"] + 5.0  # the outer span holds the inner one


def test_a_stage_that_raises_still_records_and_the_error_goes_on():
    timer = StageTimer()
    with pytest.raises(RuntimeError, match="out of memory"):
        with timer("forward"):
            time.sleep(0.01)
            raise RuntimeError("out of memory")
    assert timer.ms["forward"] >= 5.0
    with timer("boxes"):  # the timer goes on working after an error
        pass
    assert set(timer.ms) == {"forward", "boxes"}


def test_per_frame_divides_adds_a_base_and_is_read_only():
    timer = StageTimer()
    timer.add("forward", 30.0)
    timer.add("boxes", 6.0)
    base = {"preprocess": 1.0, "forward": 5.0}
    shares = timer.per_frame(3, base=base)
    assert dict(shares) == {"preprocess": 1.0, "forward": 15.0, "boxes": 2.0}
    assert base == {"preprocess": 1.0, "forward": 5.0}  # the base is left alone
    with pytest.raises(TypeError):
        shares["forward"] = 0.0  # type: ignore[index]
    with pytest.raises(ValueError, match="count"):
        timer.per_frame(0)


def test_a_result_copies_given_timings_and_never_changes_them():
    given = {"forward": 12.0}
    result = FrameResult(0, 0.0, 64, 48, (), timings=given)
    given["forward"] = 99.0
    assert result.timings["forward"] == 12.0
    with pytest.raises(TypeError):
        result.timings["annotate"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.timings.update({"annotate": 1.0})  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        result.timings = {}  # type: ignore[misc]
    assert dict(FrameResult(0, 0.0, 1, 1, ()).timings) == {}
    # A new result with other timings is a new object (dataclasses.replace); the old one stays.
    later = replace(result, timings={**result.timings, "annotate": 2.0})
    assert dict(later.timings) == {"forward": 12.0, "annotate": 2.0} and dict(result.timings) == {"forward": 12.0}


@pytest.mark.parametrize("smoothing", [None, SmoothingSettings()])
def test_the_localizer_sets_every_stage_when_it_makes_a_result(lite0, photo, smoothing):
    localizer = FrameLocalizer(lite0, LocalizeSettings(topk=2, smoothing=smoothing))
    results = localizer([photo("chelsea"), photo("coffee")])
    for result in results:
        assert set(result.timings) == {"preprocess", "forward", "boxes"}
        assert all(v >= 0.0 for v in result.timings.values()) and result.timings["forward"] > 0.0
        with pytest.raises(TypeError):
            result.timings["boxes"] = 0.0  # type: ignore[index]
    assert dict(results[0].timings) == dict(results[1].timings)  # one batch: one share each


def test_the_pipeline_times_every_stage_without_touching_the_results(tmp_path, lite0):
    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(96, 72), times=[i / 25 for i in range(6)])
    seen = []

    class Keep:
        def write(self, item):
            seen.append(dict(item.result.timings))

        def close(self):
            pass

    with open_source(clip) as src:
        with Pipeline(src, FrameLocalizer(lite0), [FrameAnnotator()], [Keep()], batch_size=2) as pipe:
            pipe.start()
            assert pipe.wait(60) and pipe.error is None
            stages = pipe.stats.stage_ms
    assert len(seen) == 6
    assert all(set(t) == {"preprocess", "forward", "boxes"} for t in seen)  # as the localizer made them
    assert {"read", "preprocess", "forward", "boxes", "annotate", "write"} <= set(stages)
    assert all(np.isfinite(v) and v >= 0.0 for v in stages.values())
