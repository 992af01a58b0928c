"""`camvideo process` on frames whose size changes: box smoothing starts afresh
and every box lies inside its frame (issue 17, item 7)."""

from __future__ import annotations

import json

import cv2
import pytest
from clips import DATA

from camvideo.cli import main

pytestmark = pytest.mark.timeout(300)


def test_images_of_several_sizes_give_boxes_inside_each_frame(tmp_path):
    """A box track made on a 600x400 image is not carried into the next, 451x300
    one (it gave boxes such as [46, 0, 521, 380] there)."""
    cat = cv2.imread(str(DATA / "chelsea.png"))
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = [(600, 400), (600, 400), (451, 300), (451, 300), (800, 200), (300, 451)]
    for i, size in enumerate(sizes):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.resize(cat, size))
    out = tmp_path / "out.jsonl"
    assert main(["process", str(folder), "--export", str(out)]) == 0
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(o["width"], o["height"]) for o in objects] == sizes
    for o in objects:
        for d in o["detections"]:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 < x2 <= o["width"] and 0 <= y1 < y2 <= o["height"], (o["width"], o["height"], d["box"])
