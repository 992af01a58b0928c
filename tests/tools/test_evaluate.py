"""Localization metrics: definitions on hand-made cases, the shared photos end to end
(checked against `camvideo image --json`), bad manifests, VOC XML, clip evaluation."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from camvideo import cli
from camvideo.cam.boxes import boxes_from_cam
from camvideo.errors import InputError
from camvideo.models import imagenet_labels
from camvideo.presets import DEFAULT_QUALITY, quality_maps
from camvideo.settings import BoxRule
from camvideo.tools.evaluate import (
    ImageScore,
    best_iou,
    default_thresholds,
    evaluate_clip,
    evaluate_images,
    load_annotations,
    max_box_acc,
    read_frames_jsonl,
    sweep_ious,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MANIFEST = DATA / "manifest.json"


@pytest.fixture(scope="module")
def labels():
    return imagenet_labels()


@pytest.fixture(scope="module")
def model():
    import torch

    from camvideo.models import load_model

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_model("lite0", device="cpu")


# --- definitions on hand-made cases ---------------------------------------------------


def test_iou_edge_cases_through_best_iou():
    gt = [(0, 0, 10, 10)]
    assert best_iou([(10, 0, 20, 10)], gt) == 0.0  # touching edge
    assert best_iou([(2, 2, 4, 4)], gt) == pytest.approx(4 / 100)  # contained
    assert best_iou([(0, 0, 20, 20)], gt) == pytest.approx(100 / 400)  # containing
    assert best_iou([(5, 5, 5, 5)], gt) == 0.0  # zero area
    assert best_iou([], gt) == 0.0  # no box at all
    # the best pair counts: a bad box beside a good one, a second ground-truth box
    assert best_iou([(50, 50, 60, 60), (0, 0, 10, 10)], gt) == 1.0
    assert best_iou([(30, 30, 40, 40)], gt + [(30, 30, 40, 40)]) == 1.0


def _score(pred_iou: float, gt_iou: float, pred_class: int = 285) -> ImageScore:
    return ImageScore(
        file="x.png", width=100, height=100, gt_classes=(281, 285),
        pred_class=pred_class, pred_label="", pred_score=0.9, pred_box=(0, 0, 1, 1), pred_iou=pred_iou,
        gt_class=285, gt_label="", gt_score=0.9, gt_box=(0, 0, 1, 1), gt_iou=gt_iou, sweep=np.zeros(1),
    )  # fmt: skip


def test_a_box_that_just_passes_and_one_that_just_fails_half_iou():
    gt = [(0, 0, 100, 100)]
    passes, fails = best_iou([(0, 0, 100, 50)], gt), best_iou([(0, 0, 100, 49)], gt)
    assert passes == 0.5 and fails == pytest.approx(0.49)
    assert _score(passes, passes).top1_loc and _score(passes, passes).gt_known_loc
    assert not _score(fails, fails).top1_loc and not _score(fails, fails).gt_known_loc
    # a right box with the wrong top-1 class: GT-known yes, top-1 localization no
    wrong = _score(passes, passes, pred_class=1)
    assert not wrong.class_correct and not wrong.top1_loc and wrong.gt_known_loc


def test_max_box_acc_takes_the_best_threshold_per_delta_and_averages():
    ious = np.array([[0.2, 0.6, 0.8], [0.4, 0.5, 0.1]])
    result = max_box_acc(ious, np.array([0.1, 0.2, 0.3]))
    assert result.best[0.3] == (1.0, 0.2)
    assert result.best[0.5] == (1.0, 0.2)  # IoU exactly 0.5 counts
    assert result.best[0.7] == (0.5, 0.3)
    assert result.value == pytest.approx((1 + 1 + 0.5) / 3)
    assert result.curves[0.5].tolist() == [0.0, 1.0, 0.5]
    d = result.to_dict()
    assert d["per_iou"]["0.7"] == {"accuracy": 0.5, "threshold": 0.3}


def pyramid(size: int = 101) -> np.ndarray:
    """1 at the centre falling linearly to 0 at the border: {map >= t} is the square
    of half-side 50 (1 - t) around the centre."""
    y, x = np.mgrid[0:size, 0:size]
    return (1.0 - np.maximum(abs(x - 50), abs(y - 50)) / 50.0).astype(np.float32)


def square(half: float) -> tuple[float, float, float, float]:
    return (50.5 - half, 50.5 - half, 50.5 + half, 50.5 + half)


def test_threshold_sweep_finds_the_best_point_on_a_hand_made_map():
    thresholds = default_thresholds()
    a = sweep_ious(pyramid(), 101, 101, [square(25)], thresholds, max_side=101)
    assert thresholds[int(np.argmax(a))] == pytest.approx(0.5, abs=0.015)
    assert a.max() > 0.95
    assert a[0] == pytest.approx((50 / 101) ** 2, abs=0.01)  # t = 0 keeps the whole image
    b = sweep_ious(pyramid(), 101, 101, [square(20)], thresholds, max_side=101)
    assert thresholds[int(np.argmax(b))] == pytest.approx(0.6, abs=0.015)
    # IoU >= 0.7 needs t in about [0.40, 0.58] for a and [0.52, 0.66] for b:
    # only the overlap localizes both, and the lowest such threshold is reported
    result = max_box_acc(np.stack([a, b]), thresholds)
    acc, best = result.best[0.7]
    assert acc == 1.0 and 0.51 <= best <= 0.55
    assert result.curves[0.7][thresholds < 0.5].max() == 0.5
    assert result.curves[0.7][thresholds > 0.6].max() == 0.5
    assert result.best[0.3][0] == result.best[0.5][0] == 1.0 and result.value == 1.0


def test_sweep_matches_the_box_finder_and_sees_every_component():
    cam = np.zeros((7, 7), np.float32)
    cam[1, 1], cam[5, 5] = 1.0, 0.8  # two separate blobs
    thresholds = default_thresholds()
    # the weaker blob is the ground truth: "largest component" misses it, the sweep does not
    gt = [boxes_from_cam(cam, 280, 280, BoxRule(threshold=0.5, components="all"))[1]]
    ious = sweep_ious(cam, 280, 280, gt, thresholds)
    k = int(np.searchsorted(thresholds, 0.5))
    assert ious[k] == pytest.approx(1.0, abs=0.03)
    assert best_iou(boxes_from_cam(cam, 280, 280, BoxRule(threshold=0.5)), gt) == 0.0
    assert ious[-1] == 0.0  # at 0.99 only the stronger blob's peak is left
    with pytest.raises(ValueError, match="ascending"):
        sweep_ious(cam, 280, 280, gt, thresholds[::-1])


# --- the shared photos -----------------------------------------------------------------


@pytest.mark.parametrize("quality", ["fast", DEFAULT_QUALITY])
def test_manifest_of_the_shared_photos(model, labels, quality):
    # Plain CAM ("fast") boxes the cat and the cup with IoU > 0.8; the default preset
    # keeps the frame's aspect ratio, which puts the cup's box 0.71 on the shared
    # photo (its map leans to the rim): both must localize them (IoU >= 0.5).
    annotations = load_annotations(MANIFEST, labels)
    scores, summary = evaluate_images(model, annotations, batch_size=2, maps=quality_maps(quality)[0])
    least = 0.8 if quality == "fast" else 0.7
    by_name = {Path(s.file).name: s for s in scores}
    for name in ("chelsea.png", "coffee.png"):
        s = by_name[name]
        assert s.class_correct and s.top1_loc and s.gt_known_loc, s
        assert s.pred_iou > least and s.gt_class == s.pred_class
    astronaut = by_name["astronaut.png"]
    assert not astronaut.class_correct and not astronaut.top1_loc
    assert astronaut.gt_class in (560, 518) and astronaut.gt_class != astronaut.pred_class
    assert summary.top1_loc == pytest.approx(2 / 3) and summary.top1_cls == pytest.approx(2 / 3)
    assert 0.0 <= summary.maxboxacc.value <= 1.0
    # any region's box of the top-1 class: the paper's box is one of them
    assert summary.region_loc >= summary.top1_loc
    assert all(s.region_iou >= s.pred_iou - 1e-9 for s in scores)
    # the sweep at the best threshold is at least as good as the fixed rule
    assert summary.maxboxacc.best[0.5][0] >= summary.gt_known_loc


def test_best_preset_photos_are_scored_on_the_maps_camvideo_image_draws(model, labels):
    # "best" averages the two passes' maps: the eval must box those, not the second
    # pass's alone (it did before issue 15's second round)
    from camvideo.presets import quality_settings
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.video.sources import read_image

    annotations = load_annotations(MANIFEST, labels)[:2]
    maps, rule = quality_maps("best")
    scores, _ = evaluate_images(model, annotations, rule, batch_size=2, maps=maps)
    localizer = FrameLocalizer(model, quality_settings("best"))
    for ann, score in zip(annotations, scores):
        top = localizer([read_image(ann.file)])[0].detections[0]
        assert score.pred_class == top.class_id and score.pred_box == top.box, (score, top)


def test_eval_command_matches_camvideo_image_json(tmp_path, capsys, monkeypatch, model):
    monkeypatch.setattr(cli.options, "load_model_from_args", lambda args: model)  # load it once per module
    out = tmp_path / "eval"
    assert cli.main(["eval", str(MANIFEST), "--out", str(out), "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    assert "top-1 localization" in table and "MaxBoxAccV2" in table
    summary = json.loads((out / "summary.json").read_text())
    # the default (balanced) scores its preset's one pass, no photos' analysis (that is --quality
    # best's): it misses the astronaut's space suit (test_manifest_of_the_shared_photos)
    assert summary["images"] == 3 and summary["top1_loc"] == pytest.approx(2 / 3)
    assert not summary["still_analysis"]
    assert set(summary["maxboxacc_v2"]["per_iou"]) == {"0.3", "0.5", "0.7"}
    rows = {Path(r["file"]).name: r for r in csv.DictReader((out / "images.csv").open())}
    import cv2

    plot = cv2.imread(str(out / "maxboxacc.png"))
    assert plot is not None and plot.shape[2] == 3 and plot.std() > 10

    names = ("chelsea.png", "coffee.png", "astronaut.png")
    jsonl = tmp_path / "image.jsonl"
    assert cli.main(["image", *[str(DATA / n) for n in names], "--json", str(jsonl), "-o", str(tmp_path),
                     "--device", "cpu"]) == 0
    for name, line in zip(names, jsonl.read_text().splitlines()):
        top = json.loads(line)["detections"][0]
        row = rows[name]
        # balanced's one pass misses the astronaut's class and its box (the box of best's analysis fits)
        assert (row["top1_loc"], row["gt_known_loc"]) == (("0", "0") if name == "astronaut.png" else ("1", "1"))
        assert int(row["pred_class"]) == top["class_id"]
        assert row["pred_box"] == " ".join(str(v) for v in top["box"])
        assert float(row["score"]) == pytest.approx(top["score"], abs=1e-3)


# --- bad input -------------------------------------------------------------------------


def _bad(tmp_path: Path, text: str) -> Path:
    shutil.copy(DATA / "chelsea.png", tmp_path / "chelsea.png")
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


GOOD = {"file": "chelsea.png", "boxes": [[0, 0, 400, 300]], "classes": [285]}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"file": "missing.png", "boxes": [[0, 0, 1, 1]], "classes": [1]}, r"images\[1\] \(missing.png\): image .* not found"),
        ({**GOOD, "boxes": [[0, 0, 400]]}, r"images\[1\] \(chelsea.png\): malformed box \[0, 0, 400\]"),
        ({**GOOD, "boxes": [[50, 0, 10, 300]]}, r"images\[1\] .*malformed box"),
        ({**GOOD, "boxes": [["a", 0, 10, 300]]}, r"images\[1\] .*malformed box"),
        ({**GOOD, "boxes": []}, r"images\[1\] .*non-empty list"),
        ({**GOOD, "classes": [1000]}, r"images\[1\] \(chelsea.png\): unknown class id 1000"),
        ({**GOOD, "classes": ["catt"]}, r"images\[1\] .*unknown class 'catt'"),
        ({**GOOD, "classes": [True]}, r"images\[1\] .*unknown class True"),
        ({"boxes": [[0, 0, 1, 1]], "classes": [1]}, r"images\[1\]: \"file\" must be"),
    ],
)
def test_bad_manifest_entry_is_named(tmp_path, labels, entry, message):
    path = _bad(tmp_path, json.dumps({"images": [GOOD, entry]}))
    with pytest.raises(InputError, match=message):
        load_annotations(path, labels)


def test_bad_manifest_exits_2_without_traceback(tmp_path, capsys):
    path = _bad(tmp_path, '{"images": [{"file": "chelsea.png", "boxes": [[0, 0, 400, 300]],}')
    assert cli.main(["eval", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("camvideo: error:") and "not valid JSON (line 1" in err and "Traceback" not in err
    for text, message in [
        ('{"pictures": []}', '"images"'),
        (json.dumps({"images": [{**GOOD, "classes": [1000]}]}), "images[0] (chelsea.png): unknown class id 1000"),
    ]:
        path.write_text(text)
        assert cli.main(["eval", str(path)]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "nope.json")]) == 2
    assert "no such manifest" in capsys.readouterr().err
    assert cli.main(["eval"]) == 2
    assert "or --devset (the development set)" in capsys.readouterr().err


@pytest.mark.parametrize("devset", [False, True])
def test_an_out_folder_that_cannot_be_made_is_said_before_the_model_loads(tmp_path, capsys, monkeypatch, devset):
    def loads(*args, **kwargs):
        raise AssertionError("the model loaded")

    monkeypatch.setattr(cli.options, "load_model_from_args", loads)
    (tmp_path / "plain").write_text("a file")
    out = tmp_path / "plain" / "results"
    manifest = Path(__file__).resolve().parents[1] / "data" / ("devset/manifest.json" if devset else "manifest.json")
    assert cli.main(["eval", *(["--devset"] if devset else []), str(manifest), "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"camvideo: error: cannot create {out}: {tmp_path / 'plain'} is a file, not a folder"


def test_box_outside_the_image_is_named(tmp_path, model, labels):
    path = _bad(tmp_path, json.dumps({"images": [{**GOOD, "boxes": [[0, 0, 300, 451]]}]}))  # axes swapped
    with pytest.raises(InputError, match=r"images\[0\] \(chelsea.png\): box .* outside the 451x300 image"):
        evaluate_images(model, load_annotations(path, labels))


# --- Pascal VOC ------------------------------------------------------------------------


def voc_xml(filename: str, objects: list[tuple[str, tuple[int, int, int, int]]]) -> str:
    objs = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for name, b in objects
    )
    return f"<annotation><filename>{filename}</filename><size><width>451</width><height>300</height></size>{objs}</annotation>"


def test_voc_folder_with_labels_ids_and_jpegimages_layout(tmp_path, labels, model):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    shutil.copy(DATA / "chelsea.png", tmp_path / "JPEGImages" / "chelsea.png")
    shutil.copy(DATA / "coffee.png", tmp_path / "Annotations" / "coffee.png")
    ann = tmp_path / "Annotations"
    (ann / "a.xml").write_text(voc_xml("chelsea.png", [("Egyptian cat", (1, 1, 400, 300)), ("tabby", (10, 20, 30, 40))]))
    (ann / "b.xml").write_text(voc_xml("coffee.png", [("967", (76, 16, 480, 390))]))
    a, b = load_annotations(ann, labels)
    assert a.file == tmp_path / "JPEGImages" / "chelsea.png" and b.file == ann / "coffee.png"
    assert a.boxes == ((0.0, 0.0, 400.0, 300.0), (9.0, 19.0, 30.0, 40.0))  # 1-based inclusive -> [x1, y1, x2, y2)
    assert a.classes == (285, 281) and b.classes == (967,)
    assert load_annotations(ann / "b.xml", labels) == [b]
    scores, summary = evaluate_images(model, [a, b])
    assert summary.top1_loc == 1.0 and summary.gt_known_loc == 1.0

    (ann / "c.xml").write_text(voc_xml("chelsea.png", [("space cat", (1, 1, 400, 300))]))
    with pytest.raises(InputError, match=r"c.xml \(chelsea.png\): unknown class 'space cat'"):
        load_annotations(ann, labels)
    (ann / "c.xml").write_text("<annotation><filename>chelsea.png")
    with pytest.raises(InputError, match="c.xml: not a readable VOC XML"):
        load_annotations(ann, labels)
    (ann / "c.xml").write_text(voc_xml("chelsea.png", [("285", (1, 1, "x", 300))]))
    with pytest.raises(InputError, match=r"c.xml \(chelsea.png\): object 0: <bndbox> needs numeric"):
        load_annotations(ann, labels)
    (ann / "c.xml").unlink()
    (ann / "a.xml").unlink()
    (ann / "b.xml").unlink()
    with pytest.raises(InputError, match="without VOC .xml files"):
        load_annotations(ann, labels)


# --- clips -------------------------------------------------------------------------------


def write_jsonl(path: Path, frames: list[dict]) -> Path:
    path.write_text("".join(json.dumps(f) + "\n" for f in frames))
    return path


def frame(index: int, box, class_id: int | None = None) -> dict:
    det = {"rank": 1, "box": box}
    if class_id is not None:
        det["class_id"] = class_id
    return {"frame": index, "time": index / 30, "width": 640, "height": 480, "detections": [det] if box or class_id else []}


def test_clip_metrics_on_hand_made_frames(tmp_path):
    # the true box moves 10 px right a frame; the prediction follows it, 2 px off to
    # alternating sides (4 px of jitter a frame once the true motion is removed)
    truth = [frame(i, [100 + 10 * i, 100, 200 + 10 * i, 200], 285) for i in range(6)]
    truth.append(frame(6, None))  # no object in frame 6: not scored
    pred = [frame(i, [100 + 10 * i + (2 if i % 2 else -2), 100, 200 + 10 * i + (2 if i % 2 else -2), 200],
                  285 if i != 2 else 281) for i in range(5)]  # fmt: skip
    result = evaluate_clip(
        read_frames_jsonl(write_jsonl(tmp_path / "p.jsonl", pred)),
        read_frames_jsonl(write_jsonl(tmp_path / "t.jsonl", truth)),
    )
    off = 98 / 102  # a 100x100 box shifted 2 px: 98x100 shared, 102x100 covered
    assert result.frames == 6 and result.missing == 1  # frame 5 has no prediction: IoU 0
    assert result.mean_iou == pytest.approx(5 * off / 6)
    assert result.iou50 == pytest.approx(5 / 6)
    assert result.jitter_px == pytest.approx(4.0)
    assert result.label_changes == 2  # 285 -> 281 -> 285
    assert result.class_accuracy == pytest.approx(4 / 6)


def test_jitter_within_shots_leaves_out_the_pair_across_a_cut():
    # two shots, each box 2 px off its truth, alternating sides (4 px a pair); at the
    # cut (the true class changes) the truth jumps 200 px and the box 296 px (it lands
    # 98 px off the new object): 96 px of residual that no smoothing can remove
    truth, pred = {}, {}
    for i in range(8):
        shift, cls = (0, 285) if i < 4 else (200, 504)
        truth[i] = frame(i, [100 + shift, 100, 200 + shift, 200], cls)
        off = (2 if i % 2 else -2) + (100 if i >= 4 else 0)
        pred[i] = frame(i, [100 + shift + off, 100, 200 + shift + off, 200], cls)
    result = evaluate_clip(pred, truth)
    assert result.true_changes == 1
    assert result.jitter_shot_px == pytest.approx(4.0)  # the 6 pairs within the shots
    assert result.jitter_px == pytest.approx((6 * 4.0 + 96.0) / 7)
    assert result.to_dict()["jitter_shot_px"] == pytest.approx(4.0)
    no_classes = evaluate_clip(pred, {i: frame(i, t["detections"][0]["box"]) for i, t in truth.items()})
    assert no_classes.jitter_shot_px == pytest.approx(no_classes.jitter_px)  # no classes: no cut is known


def test_clip_with_a_steady_offset_has_no_jitter_and_a_box_that_just_fails(tmp_path):
    truth = [frame(i, [5 * i, 0, 5 * i + 100, 100]) for i in range(4)]
    pred = [frame(i, [5 * i, 0, 5 * i + 100, 49]) for i in range(4)]
    result = evaluate_clip({f["frame"]: f for f in pred}, {f["frame"]: f for f in truth})
    assert result.jitter_px == 0.0 and result.label_changes == 0 and result.class_accuracy is None
    assert result.mean_iou == pytest.approx(0.49) and result.iou50 == 0.0


def test_clip_command_and_bad_jsonl(tmp_path, capsys):
    truth = write_jsonl(tmp_path / "t.jsonl", [frame(i, [0, 0, 100, 100], 285) for i in range(3)])
    pred = write_jsonl(tmp_path / "p.jsonl", [frame(i, [0, 0, 100, 50], 285) for i in range(3)])
    out = tmp_path / "o"
    assert cli.main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(out)]) == 0
    assert "mean IoU" in capsys.readouterr().out
    assert cli.main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(truth)]) == 2
    assert "--out " + str(truth) + " is a file, not a folder" in capsys.readouterr().err
    summary = json.loads((out / "clip_summary.json").read_text())
    assert summary["mean_iou"] == 0.5 and summary["iou50"] == 1.0 and summary["frames"] == 3
    assert len(list(csv.DictReader((out / "frames.csv").open()))) == 3

    pred.write_text(pred.read_text() + "{not json\n")
    assert cli.main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(out)]) == 2
    assert "p.jsonl:4: not valid JSON" in capsys.readouterr().err
    pred.write_text(json.dumps(frame(0, [0, 0, 100])) + "\n")
    assert cli.main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(out)]) == 2
    assert "p.jsonl:1: frame 0: malformed box" in capsys.readouterr().err
    assert cli.main(["eval", "--clip", str(pred)]) == 2
    assert "needs both --clip" in capsys.readouterr().err


def test_json_nested_deeper_than_python_parses_is_one_line(tmp_path, capsys):
    """Issue 27's lower list: 100 000 brackets on a line were a RecursionError traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    truth = write_jsonl(tmp_path / "t.jsonl", [frame(0, [0, 0, 100, 100], 285)])
    pred = tmp_path / "p.jsonl"
    pred.write_text(json.dumps(frame(0, [0, 0, 100, 50], 285)) + "\n" + '{"frame": 1, "detections": ' + deep + "}\n")
    assert cli.main(["eval", "--clip", str(pred), "--truth", str(truth), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"camvideo: error: {pred}:2: JSON nested too deeply; expected one per-frame object a line\n"
    manifest = tmp_path / "m.json"
    manifest.write_text('{"images": ' + deep + "}")
    assert cli.main(["eval", str(manifest), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"camvideo: error: {manifest}: JSON nested too deeply to be a manifest\n"


def test_photos_are_scored_with_the_photos_analysis_as_camvideo_image_runs_it(model, labels, tmp_path):
    # The four chickens: the default's one pass boxes the flock (top-1 localization
    # missed); with the photos' analysis (camvideo.cam.still, its finer pass alone
    # here) the box is one chicken's, as `camvideo image` draws it.
    from camvideo.cam.methods import cam_method
    from camvideo.cam.still import StillAnalysis
    from camvideo.presets import StillSettings, quality_settings
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.video.sources import read_image

    chicken = DATA / "devset" / "farm_chicken.jpg"
    boxes = [[11, 39, 70, 158], [116, 23, 178, 157], [163, 39, 222, 167], [220, 41, 312, 188]]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"images": [{"file": str(chicken), "boxes": boxes, "classes": [8, 7]}]}))
    maps, rule = quality_maps(DEFAULT_QUALITY)
    still = StillAnalysis(cam_method(model), StillSettings(class_models=(), mirror=False, level=None))
    (before,), plain = evaluate_images(model, load_annotations(path, labels), rule, maps=maps)
    (after,), summary = evaluate_images(model, load_annotations(path, labels), rule, maps=maps, still=still)
    assert before.class_correct and not before.top1_loc and after.top1_loc and after.gt_known_loc
    assert summary.to_dict()["still_analysis"] is True and plain.to_dict()["still_analysis"] is False
    localizer = FrameLocalizer(model, quality_settings(DEFAULT_QUALITY))
    assert tuple(after.pred_box) == tuple(still(localizer, read_image(chicken)).detections[0].box)
    assert summary.maxboxacc.value == plain.maxboxacc.value  # the sweep is the coarse map's (no mirror here)
    mirrored = StillAnalysis(cam_method(model), StillSettings(class_models=()))  # the coarse map mirrored, at 25%
    (full,), _ = evaluate_images(model, load_annotations(path, labels), rule, maps=maps, still=mirrored)
    assert tuple(full.pred_box) == tuple(mirrored(localizer, read_image(chicken)).detections[0].box)
    assert tuple(full.gt_box) == tuple(mirrored(localizer, read_image(chicken)).detections[0].box)


def test_photos_are_scored_with_the_zoomed_pass_as_camvideo_image_runs_it(model, labels, tmp_path):
    # The coffee's coarse box is zoomed (and the crop joins the classes): the scored
    # box and class are the ones `camvideo image` gives.
    from camvideo.cam.methods import cam_method
    from camvideo.cam.still import StillAnalysis
    from camvideo.presets import StillSettings, quality_settings
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.video.sources import read_image

    coffee = DATA / "coffee.png"
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"images": [{"file": str(coffee), "boxes": [[75, 15, 480, 390]], "classes": [967]}]}))
    maps, rule = quality_maps(DEFAULT_QUALITY)
    zoom = StillAnalysis(cam_method(model), StillSettings(split_side=None, mirror=False, zoom_below=1.0))
    still = StillAnalysis(cam_method(model), StillSettings(class_models=(), split_side=None, mirror=False,
                                                           zoom_below=None))
    (after,), _ = evaluate_images(model, load_annotations(path, labels), rule, maps=maps, still=zoom)
    (before,), _ = evaluate_images(model, load_annotations(path, labels), rule, maps=maps, still=still)
    shown = zoom(FrameLocalizer(model, quality_settings(DEFAULT_QUALITY)), read_image(coffee)).detections[0]
    assert (after.pred_class, tuple(after.pred_box)) == (shown.class_id, tuple(shown.box))
    assert after.pred_score == pytest.approx(shown.score, abs=1e-5)
    assert tuple(after.pred_box) != tuple(before.pred_box) and after.pred_iou >= 0.5
