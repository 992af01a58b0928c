"""The score store and the whole-file scan behind the window's timeline."""

from __future__ import annotations

import json
import threading

import pytest
from clips import make_cat_clip, make_damaged_clip

from camvideo.results import Detection, FrameResult
from camvideo.runtime.scan import SCAN_TOPK, FileScan, ScoreTrack, scan_settings
from camvideo.settings import LocalizeSettings, SmoothingSettings

pytestmark = pytest.mark.timeout(180)


def result(frame: int, *scores: tuple[int, float], fps: float = 10.0) -> FrameResult:
    """Frame ``frame`` whose classes (id, score) are given in rank order."""
    dets = tuple(Detection(rank, cid, f"class {cid}", score, (0, 0, 4, 4) if rank == 1 else None)
                 for rank, (cid, score) in enumerate(scores, start=1))
    return FrameResult(frame=frame, time=frame / fps, width=8, height=8, detections=dets)


def test_the_track_gives_scores_top_classes_and_top_1_stretches():
    track = ScoreTrack("clip")
    # class 7 on top in frames 0-2 and 6-7, class 3 in 3-5; frame 4 comes late (any order)
    for f in (0, 1, 2, 3, 5, 6, 7):
        track.add(result(f, (7, 0.6), (3, 0.3)) if f not in (3, 5) else result(f, (3, 0.8), (7, 0.1)))
    track.add(result(4, (3, 0.7)))  # 7 is not among frame 4's classes: 0 there
    assert len(track) == 8 and [r.frame for r in track.results()] == list(range(8))
    times, scores = track.series(7)
    assert times.tolist() == pytest.approx([f / 10 for f in range(8)])
    assert scores.tolist() == pytest.approx([0.6, 0.6, 0.6, 0.1, 0.0, 0.1, 0.6, 0.6])
    assert track.stretches(7) == [(0.0, 0.2), (0.6, 0.7)]
    assert track.stretches(3) == [(0.3, 0.5)]
    assert track.stretches(99) == []
    # summed scores: class 3 has 3.8, class 7 has 3.2
    assert track.top_classes(1) == [(3, "class 3")] and track.top_classes(5) == [(3, "class 3"), (7, "class 7")]
    version = track.version
    track.add(result(8, (7, 0.5)))
    assert track.version > version
    assert track.results()[0].heatmaps.shape[0] == 0  # no maps kept


def test_a_gap_in_the_frames_kept_breaks_a_stretch():
    track = ScoreTrack()
    for f in (0, 1, 2, 10, 11):  # frames 3-9 not analysed (yet): not a stretch of 7
        track.add(result(f, (7, 0.9)))
    assert track.stretches(7) == [(0.0, 0.2), (1.0, 1.1)]


def test_fixed_class_scores_fill_in_the_series_but_never_the_top_stretches():
    track = ScoreTrack()
    for f in (0, 1, 2, 3):
        track.add_fixed(result(f, (285, 0.4 + f / 10)))  # One class: rank 1 is the only class, not the top one
    track.add(result(2, (7, 0.6), (285, 0.3)))  # a ranked result of frame 2 wins there
    times, scores = track.series(285)
    assert times.tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert scores.tolist() == pytest.approx([0.4, 0.5, 0.3, 0.7])
    assert track.stretches(285) == [] and len(track) == 1
    track.clear()
    assert track.series(285)[0].size == 0


def cli_export(clip, out, *flags) -> list[dict]:
    from camvideo import cli

    # the window runs f32 (docs/app.md); the command line's default, auto, may run bf16
    assert cli.main(["process", str(clip), "--export", str(out), "--no-progress", "--precision", "f32", *flags]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("flags", [(), ("--topk", "5", "--no-smooth"), ("--class", "285")])
def test_an_export_scan_writes_the_lines_of_process_export(tmp_path, lite0, flags):
    """The window's Save as JSONL (FileScan with export) against the command line,
    same file and settings: the same lines (held labels, gated boxes and all)."""
    from camvideo import cli

    clip = make_cat_clip(tmp_path / "cat.mp4", frames=20, size=(96, 64))
    args = cli.build_parser().parse_args(["process", str(clip), *flags])
    settings = cli.localize_settings_from_args(args)
    out = tmp_path / "window.jsonl"
    scan = FileScan(clip, lite0, settings, None, export=out).start()
    assert scan.wait(120) and scan.message == ""
    window = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(window) == 20 and window == cli_export(clip, tmp_path / "cli.jsonl", *flags)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.mp4", "cli.jsonl", "window.jsonl"]


def test_an_export_that_does_not_finish_leaves_the_older_file_as_it_was(tmp_path, lite0):
    clip = make_cat_clip(tmp_path / "cat.mp4", frames=300, size=(96, 64))
    out = tmp_path / "x.jsonl"
    out.write_text("older\n")
    scan = FileScan(clip, lite0, LocalizeSettings(), None, export=out).start()
    while scan.frames < 4 and scan.running:
        threading.Event().wait(0.02)
    scan.cancel()
    assert scan.wait(60) and scan.message == "cancelled"
    assert out.read_text() == "older\n" and sorted(p.name for p in tmp_path.iterdir()) == ["cat.mp4", "x.jsonl"]
    bad = FileScan(clip, lite0, LocalizeSettings(), None, export=tmp_path / "x.txt").start()
    assert bad.wait(30) and ".jsonl or .csv" in bad.message


def test_scan_settings_rank_the_classes():
    one = LocalizeSettings(topk=1, class_ids=(967,), smoothing=SmoothingSettings())
    scan = scan_settings(one)
    assert scan.class_ids is None and scan.topk == SCAN_TOPK and scan.smoothing == one.smoothing
    assert scan_settings(LocalizeSettings(topk=8)).topk == 8
    with pytest.raises(TypeError, match="settings"):
        scan_settings(None)


def test_a_scan_fills_the_track_with_every_frame_of_the_file(tmp_path, lite0):
    clip = make_cat_clip(tmp_path / "cat.mp4", frames=24, size=(96, 64))
    track = ScoreTrack()
    done = []
    scan = FileScan(clip, lite0, LocalizeSettings(class_ids=(281,)), track, on_done=done.append).start()
    assert scan.wait(120) and done == [""] and scan.message == ""
    assert scan.frames == 24 == len(track) and scan.total == 24
    results = track.results()
    assert [r.frame for r in results] == list(range(24))
    assert all(len({d.class_id for d in r.detections}) == SCAN_TOPK for r in results)
    top = track.top_classes(1)[0][0]
    assert 281 <= top <= 285  # a cat
    assert track.stretches(top) and track.series(top)[1].max() > 0.1


def test_the_track_keeps_each_damaged_stretch_once_in_frame_order():
    from camvideo.video.decoding import Damage

    track = ScoreTrack("clip")
    late, early = Damage(60, 61, 2.0, 2.1), Damage(34, 59, 1.13, 2.0)
    track.add_damage([late])
    version = track.version
    track.add_damage([early, late])  # a looping file finds late again
    assert track.damage == (early, late) and track.version == version + 1
    track.add_damage([late])
    assert track.version == version + 1  # nothing new: nothing to draw again
    with pytest.raises(TypeError, match="Damage"):
        track.add_damage(["frames 1-2"])
    track.clear()
    assert track.damage == ()


def test_a_scan_of_a_damaged_file_keeps_its_lost_stretch_in_the_track(tmp_path, lite0):
    from camvideo.app.timeline_axis import damaged_spans
    from camvideo.video.sources import open_source

    bad = make_damaged_clip(tmp_path, frames=90)
    with open_source(bad) as source:
        decoded = sum(1 for _ in source)
    track = ScoreTrack()
    scan = FileScan(bad, lite0, LocalizeSettings(), track).start()
    assert scan.wait(120) and scan.message == ""
    assert track.damage == source.damage and len(track.damage) == 1  # what the reader found, held
    (damage,) = track.damage
    assert 0 < damage.first and damage.last < 89  # in the middle of the file
    frames = [r.frame for r in track.results()]
    assert len(frames) == decoded and not set(range(damage.first, damage.last + 1)) & set(frames)
    assert max(frames) > damage.last  # the frames after the damage were analysed
    (span,) = damaged_spans(track.damage)
    assert span.text == f"{damage} could not be decoded" and span.text.startswith(f"frames {damage.first}-")


def test_a_scan_cancelled_stops_and_leaves_no_thread(tmp_path, lite0):
    clip = make_cat_clip(tmp_path / "cat.mp4", frames=300, size=(96, 64))
    track = ScoreTrack()
    done = threading.Event()
    scan = FileScan(clip, lite0, LocalizeSettings(), track, on_done=lambda _m: done.set()).start()
    while scan.frames < 4 and scan.running:
        threading.Event().wait(0.02)
    scan.cancel()
    assert done.wait(60) and scan.message == "cancelled"
    assert 4 <= len(track) < 300
    names = [t.name for t in threading.enumerate() if t.name.startswith("camvideo")]
    assert scan.wait(5) and not names, names


def test_a_file_that_does_not_open_ends_the_scan_with_a_message(tmp_path, lite0):
    done = []
    scan = FileScan(tmp_path / "missing.mp4", lite0, LocalizeSettings(), ScoreTrack(), on_done=done.append).start()
    assert scan.wait(30) and "no such file" in done[0]


def test_an_export_scan_of_an_exported_model_writes_the_lines_of_process_export(tmp_path):
    """Save as JSONL with your exported model loaded in the window (the loader the
    window's "Weights file…" and ``gui --model FILE.onnx`` use) writes what
    ``camvideo process --model FILE.onnx --export`` writes."""
    pytest.importorskip("openvino")
    pytest.importorskip("onnx")
    import exported_graphs as graphs
    import torch

    from camvideo import cli
    from camvideo.runtime.loading import load_model_from
    from camvideo.settings import ModelOptions

    with torch.random.fork_rng():
        torch.manual_seed(5)
        net = graphs.GapNet().eval()
    graph = graphs.export_onnx(net, tmp_path / "gap.onnx", (64, 64))
    (tmp_path / "names.txt").write_text("ant\nbee\ncat\ndog\neel\n")
    clip = make_cat_clip(tmp_path / "cat.mp4", frames=12, size=(96, 64))
    flags = ("--model", str(graph), "--labels", str(tmp_path / "names.txt"), "--topk", "2", "--gate", "0.05")
    args = cli.build_parser().parse_args(["process", str(clip), *flags])
    model = load_model_from(ModelOptions(model=str(graph), labels=str(tmp_path / "names.txt")))
    out = tmp_path / "window.jsonl"
    scan = FileScan(clip, model, cli.localize_settings_from_args(args), None, export=out).start()
    assert scan.wait(120) and scan.message == ""
    window = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(window) == 12 and window == cli_export(clip, tmp_path / "cli.jsonl", *flags)
    assert {d["label"] for line in window for d in line["detections"]} <= {"ant", "bee", "cat", "dog", "eel"}
