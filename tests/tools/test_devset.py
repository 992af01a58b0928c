"""The development set: its manifest and splits, the clips made from it (deterministic,
true box on every frame, classes changing only at cuts), clip scoring with accepted
classes, and `camvideo eval --devset` end to end with the real model."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from camvideo import cli
from camvideo.errors import InputError
from camvideo.models import imagenet_labels
from camvideo.tools.annotations import fit_boxes
from camvideo.tools.clipeval import evaluate_clip
from camvideo.tools.devset import OBJECT_WIDTHS, clip_specs, devset_clips, load_devset, render_clip, window
from camvideo.video.sources import read_image

MANIFEST = Path(__file__).resolve().parents[1] / "data" / "devset" / "manifest.json"


@pytest.fixture(scope="module")
def labels():
    return imagenet_labels()


def test_the_manifest_loads_with_two_disjoint_splits_and_boxes_inside_their_photos(labels):
    tune, holdout = load_devset(MANIFEST, labels, "tune"), load_devset(MANIFEST, labels, "holdout")
    everything = load_devset(MANIFEST, labels, "all")
    assert len(tune) == 45 and len(holdout) == 30 and len(everything) == 75
    assert not {a.file for a in tune} & {a.file for a in holdout}
    for ann in everything:
        image = read_image(ann.file)
        height, width = image.shape[:2]
        assert max(width, height) <= 600  # coffee.png is the largest
        for box in fit_boxes(ann, width, height):  # raises for a box outside its photo
            assert (box[2] - box[0]) * (box[3] - box[1]) >= 100
    with pytest.raises(ValueError, match="split"):
        load_devset(MANIFEST, labels, "test")


def test_the_window_maps_photo_pixels_to_frame_pixels():
    m = window((400, 300), (640, 480), 0.5, 0.5, 0.5)  # the middle half of the photo, scaled x3.2
    assert m[0, 0] == pytest.approx(3.2) and m[1, 1] == pytest.approx(3.2)
    assert m @ np.array([100, 75, 1.0]) == pytest.approx([0, 0])
    assert m @ np.array([300, 225, 1.0]) == pytest.approx([640, 480])


def test_clips_are_deterministic_with_a_true_box_that_follows_the_photo(labels):
    holdout = load_devset(MANIFEST, labels, "holdout")
    first = devset_clips(holdout, "holdout", shots=3, frames=6)
    again = devset_clips(holdout, "holdout", shots=3, frames=6)
    assert [spec.name for spec, _, _ in first] == ["holdout_640x480", "holdout_640x360"]
    for (spec, frames, truth), (spec2, frames2, truth2) in zip(first, again):
        assert spec == spec2 and truth == truth2
        assert all(np.array_equal(a, b) for a, b in zip(frames, frames2))
        assert len(frames) == 18 and all(f.shape == (spec.height, spec.width, 3) for f in frames)
        boxes = [t["detections"][0]["box"] for t in truth.values()]
        assert sum(b is not None for b in boxes) >= 12
        for b in filter(None, boxes):
            assert 0 <= b[0] < b[2] <= spec.width and 0 <= b[1] < b[3] <= spec.height
        # the classes change only between shots
        classes = [tuple(t["detections"][0]["class_ids"]) for t in truth.values()]
        assert all(classes[i] == classes[i - 1] for i in range(1, 18) if i % 6)


def test_the_true_box_is_the_photo_box_moved_by_the_window():
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[20:60, 50:90] = 255  # a white square where the box says
    specs = clip_specs([("sq", (200, 100), (50, 20, 90, 60))], "t", shots=1, frames=5)
    frames, truth = render_clip(specs[0], [photo], [(50, 20, 90, 60)], [(1,)], noise=0.0)
    shot = specs[0].shots[0]
    for k, frame in enumerate(frames):
        box = truth[k]["detections"][0]["box"]
        ys, xs = np.nonzero(frame[..., 0] > 128)
        if box is not None and xs.size:
            # within half a photo pixel (bilinear edges), in frame pixels, plus one
            w = shot.start[2] + (shot.end[2] - shot.start[2]) * (k / 4) ** 2 * (3 - 2 * k / 4)
            tol = 0.5 * 640 / (w * 200) + 1
            assert abs(xs.min() - box[0]) <= tol and abs(xs.max() + 1 - box[2]) <= tol
            assert abs(ys.min() - box[1]) <= tol and abs(ys.max() + 1 - box[3]) <= tol


def test_clip_scoring_takes_accepted_class_lists_and_counts_true_changes():
    truth = {i: {"frame": i, "detections": [{"box": [0, 0, 10, 10], "class_ids": [1, 2] if i < 3 else [5]}]}
             for i in range(6)}
    pred = {i: {"frame": i, "detections": [{"rank": 1, "class_id": c, "box": [0, 0, 10, 10]}]}
            for i, c in enumerate([1, 2, 2, 7, 5, 5])}
    s = evaluate_clip(pred, truth)
    assert s.class_accuracy == pytest.approx(5 / 6) and s.true_changes == 1 and s.label_changes == 3
    with pytest.raises(InputError, match="class ids"):
        evaluate_clip(pred, {0: {"frame": 0, "detections": [{"box": [0, 0, 1, 1], "class_ids": ["cat"]}]}})


def test_eval_devset_runs_photos_and_clips_with_the_real_model(tmp_path, capsys):
    # the first 14 holdout photos (those before session 14's: the whole split's photo analysis takes over the
    # test's 5 minutes on 2 busy cores, and these clips are the ones the figures below were checked on)
    entries = [e for e in json.loads(MANIFEST.read_text())["images"] if e["split"] == "holdout"][:14]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"images": [{**e, "file": str(MANIFEST.parent / e["file"])} for e in entries]}))
    dest = tmp_path / "out"
    code = cli.main(["eval", "--devset", str(manifest), "--split", "holdout", "--shots", "2",
                     "--shot-frames", "12", "--out", str(dest), "--device", "cpu"])
    assert code == 0
    data = json.loads((dest / "devset_summary.json").read_text())
    assert data["photos"]["images"] == 14 and data["photos"]["top1_cls"] >= 0.5
    assert set(data["photo_mean_iou"]) == {"holdout"} and 0.3 < data["photo_mean_iou"]["holdout"] <= 1.0
    assert set(data["clips"]) == {"holdout_640x480", "holdout_640x360", "holdout_moving_640x480",
                                  "holdout_moving_pan_640x360"}
    for clip in data["clips"].values():
        assert clip["frames"] >= 16 and clip["true_changes"] <= 1
        assert clip["mean_iou"] > 0.0 and clip["ms_per_frame"] > 0
    assert data["clips"]["holdout_640x480"]["mean_iou"] > 0.3 and data["clips"]["holdout_640x360"]["mean_iou"] > 0.3
    captured = capsys.readouterr()
    out = captured.out
    assert "holdout_640x360" in out and "mean IoU of the top-1 box: holdout 0." in out
    # the table's columns stay aligned whatever the names' lengths (holdout_moving_pan_640x360 broke them)
    header, *rows = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(rows) == 4
    for row in rows:  # each row's frame count ends under the header's "frames"
        assert re.match(r"  \S+ +\d+", row).end() == header.index("frames") + len("frames"), (header, row)
    # --out holds what --help says: the summary, the photos' CSV and plot, a row per clip frame
    assert sorted(p.name for p in dest.iterdir()) == ["devset_summary.json", "frames.csv", "images.csv",
                                                      "maxboxacc.png"]
    images = list(csv.DictReader((dest / "images.csv").open()))
    frames = list(csv.DictReader((dest / "frames.csv").open()))
    assert len(images) == 14 and {r["clip"] for r in frames} == set(data["clips"])
    assert len(frames) == sum(c["frames"] + c["missing"] for c in data["clips"].values())
    # not a terminal: no bar, only a count every 30 s (none in a short run)
    assert "\r" not in captured.err and all(re.fullmatch(r"camvideo: (photos|clips): \d+/\d+ (images|frames), \d+ s",
                                                         line) for line in captured.err.splitlines())


def test_the_default_devset_is_the_checkouts_from_any_folder(tmp_path, capsys, monkeypatch):
    # it was relative to the working folder: `eval --devset` worked only from the repository's root
    from camvideo.tools import devset

    monkeypatch.chdir(tmp_path)
    assert devset.devset_manifest() == MANIFEST and devset.devset_manifest("x.json") == Path("x.json")
    code = cli.main(["eval", "--devset", "--shots", "0"])  # past the manifest: the --shots check speaks
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["camvideo: error: --shots must be at least 1 and --shot-frames at least 2, got 0 and 40"]
    monkeypatch.setattr(devset, "MANIFEST", tmp_path / "site-packages" / "tests" / "data" / "devset" / "manifest.json")
    code = cli.main(["eval", "--devset"])  # an installed wheel: no tests/ beside the package
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the development set lives in a camvideo checkout" in err[0]
    assert "camvideo eval --devset PATH/tests/data/devset/manifest.json" in err[0] and not list(tmp_path.iterdir())


@pytest.mark.parametrize(("option", "says"), [(["--step", "0"], "--step must be in (0, 0.5], got 0.0"),
                                              (["--batch-size", "0"], "--batch-size must be between 1 and")])
def test_eval_devset_checks_its_photo_options_before_any_work(option, says, tmp_path, capsys):
    # --step went unchecked here (a traceback after the model and the clips); now as for MANIFEST
    code = cli.main(["eval", "--devset", str(MANIFEST), "--out", str(tmp_path), *option])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and says in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "devset_summary.json").exists()


def test_moving_object_clips_are_deterministic_with_the_objects_box_on_every_frame(labels):
    holdout = load_devset(MANIFEST, labels, "holdout")
    first = devset_clips(holdout, "holdout", moving=True, shots=2, frames=10)
    again = devset_clips(holdout, "holdout", moving=True, shots=2, frames=10)
    assert [spec.name for spec, _, _ in first] == ["holdout_640x480", "holdout_640x360", "holdout_moving_640x480",
                                                   "holdout_moving_pan_640x360"]
    for (spec, frames, truth), (_, frames2, truth2) in zip(first[2:], again[2:]):
        assert truth == truth2 and all(np.array_equal(a, b) for a, b in zip(frames, frames2))
        assert len(frames) == 20 and all(f.shape == (spec.height, spec.width, 3) for f in frames)
        boxes = [t["detections"][0]["box"] for t in truth.values()]
        assert all(0 <= b[0] < b[2] <= spec.width and 0 <= b[1] < b[3] <= spec.height for b in boxes)
        for shot, share in ((boxes[:10], OBJECT_WIDTHS[0]), (boxes[10:], OBJECT_WIDTHS[1])):  # large, then small
            w = max(b[2] - b[0] for b in shot) / spec.width
            h = max(b[3] - b[1] for b in shot) / spec.height
            assert w <= share + 0.02 and h <= 0.82  # its share of the width, at most 0.8 of the height
            assert w >= share - 0.02 or h >= 0.78  # filled by width, or by height for a tall object
        assert boxes[0] == boxes[1] and boxes[4] != boxes[5]  # still at first, then moving
