"""Frames played as they are: the pipeline with no model and no overlay."""

from __future__ import annotations

import numpy as np
import pytest

from camvideo.runtime.pipeline import Pipeline
from camvideo.runtime.plain import NoAnnotator, NoLocalizer
from camvideo.video.reader import IterableSource

pytestmark = pytest.mark.timeout(60)


class Keep:
    def __init__(self):
        self.frames = []

    def write(self, item):
        self.frames.append((item.frame.image, item.annotated, item.result))

    def close(self):
        pass


def test_frames_go_through_unchanged_with_empty_results():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (12, 16, 3), dtype=np.uint8) for _ in range(5)]
    sink = Keep()
    with Pipeline(IterableSource(images, fps=10.0), NoLocalizer(), [NoAnnotator()], [sink]) as pipeline:
        pipeline.start()
        assert pipeline.wait(30) and pipeline.error is None
    assert len(sink.frames) == 5
    for i, (image, annotated, result) in enumerate(sink.frames):
        assert np.array_equal(annotated, images[i]) and annotated is not image  # a copy: sinks may draw
        assert result.detections == () and (result.width, result.height) == (16, 12) and result.frame == i
    with pytest.raises(ValueError, match="one entry per frame"):
        NoLocalizer()(images, [0], [0.0])
