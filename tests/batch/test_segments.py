"""One long file in segments: where it is cut, a segment's frames (warm-up dropped), the
join (one recording, one JSONL, the file's own numbers and times), the agreement with a
whole-file run, and the command line: one summary line, resume per segment."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import av
import pytest
from batch_helpers import camvideo, decoded_frames, summary
from clips import decode_times, make_cat_clip, make_clip
from test_job import options

from camvideo.batch.job import JobOptions, JobRunner, worker_name
from camvideo.batch.plan import make_plan, prepare_output_dir
from camvideo.batch.segments import (
    Probe,
    Units,
    cut,
    folder_of,
    probe,
    read_marker,
    segment_job,
    should_split,
    write_marker,
)
from camvideo.batch.stitch import agreement, join_file

FRAMES = 150  # 5 s of the panning cat at 30 fps


@pytest.fixture(scope="module")
def runner() -> JobRunner:
    runner = JobRunner(options())
    runner.load()
    return runner


@pytest.fixture(scope="module")
def cat(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "cat.mp4"
    make_cat_clip(path, frames=FRAMES)
    return path


def command_config() -> str:
    """The settings key ``camvideo process`` computes with its defaults."""
    from camvideo.cli.parser import build_parser

    args = build_parser().parse_args(["process", "x"])
    base = options()
    return JobOptions(model=base.model, settings=base.settings, overlay=base.overlay, batch_size=args.batch_size,
                      hud=args.hud, max_frames=args.max_frames, codec=args.codec, preset=args.preset,
                      audio=not args.no_audio).config_id()


def job_of(tmp_path: Path, source: Path, name: str = "out"):
    plan = make_plan([str(source)], tmp_path / name)
    prepare_output_dir(plan)
    return plan.jobs[0]


def test_the_cuts_cover_every_frame_once_with_a_warm_up_before_each():
    job = make_plan(["/nowhere/a.mp4"], "/tmp/o").jobs[0]
    segments = cut(job, Probe(frames=1000, rate=25.0, start=0.0), 10.0, warm_up=60)
    assert [(s.first, s.end) for s in segments] == [(0, 250), (250, 500), (500, 750), (750, None)]
    assert [s.warm_from for s in segments] == [0, 190, 440, 690]
    assert segments[0].seek_s == 0.0 and segments[1].seek_s == pytest.approx(189.5 / 25)
    # a stub shorter than half a segment goes into the last one
    assert [(s.first, s.end) for s in cut(job, Probe(1100, 25.0, 0.0), 10.0)][-1] == (750, None)
    assert len(cut(job, Probe(100, 25.0, 0.0), 10.0)) == 1


def test_a_file_is_split_only_where_workers_would_otherwise_idle():
    long, short = Probe(60 * 30, 30.0, 0.0), Probe(10 * 30, 30.0, 0.0)
    assert should_split({0: long}, 2, 20.0) == {0}
    assert should_split({0: long}, 1, 20.0) == set()  # one worker: nothing to gain
    assert should_split({0: long}, 2, 0.0) == set()  # --segment-seconds 0: never
    assert should_split({0: long}, 2, 40.0) == set()  # shorter than two segments
    assert should_split({0: long, 1: short, 2: short}, 2, 20.0) == {0}  # longer than its share (40 s)
    assert should_split({i: long for i in range(4)}, 2, 20.0) == set()  # like files: one a worker


def test_segments_joined_equal_a_whole_run_but_near_their_seams(tmp_path, runner, cat):
    """The figures docs/batch.md gives: with the warm-up, every frame's top class is the
    whole run's; without it, the smoothing starts afresh at each cut."""
    whole = job_of(tmp_path, cat, "whole")
    assert runner.run(whole).status == "done"
    figures = {}
    for warm_up in (60, 0):
        job = job_of(tmp_path, cat, f"segments{warm_up}")
        folder_of(job).mkdir()
        parts = [segment_job(job, s, 100 + s.number) for s in cut(job, probe(job.source), 1.0, warm_up=warm_up)]
        assert len(parts) == 5 and parts[-1].segment.end is None
        results = [runner.run(part) for part in parts]
        assert [r.frames for r in results] == [30] * 5 and all(r.status == "done" for r in results)
        # a segment's outputs hold its own frames only, with the file's numbers and times
        lines = [json.loads(line) for line in Path(parts[2].export).read_text().splitlines()]
        assert [line["frame"] for line in lines] == list(range(60, 90))
        assert decode_times(Path(parts[2].recording))[0] == pytest.approx(60 / 30, abs=1e-3)
        joined = join_file(job, parts, 0.0, tuple({"frames": r.frames, "seconds": r.seconds} for r in results))
        assert joined.status == "done" and joined.frames == FRAMES and joined.outputs == job.outputs
        figures[warm_up] = agreement(whole.export, job.export)
        assert figures[warm_up]["frames"] == (FRAMES, FRAMES) and figures[warm_up]["same_frames"]
        assert decode_times(Path(job.recording)) == pytest.approx(decode_times(Path(whole.recording)), abs=1e-3)
        assert not any(p.name.startswith(("cat.partial", "cat_cam.partial")) for p in Path(job.export).parent.iterdir())
    print("segments vs whole run:", {k: {n: v for n, v in f.items() if n != "differing"} for k, f in figures.items()})
    warm, cold = figures[60], figures[0]
    assert warm["top1"] >= 0.98 and warm["iou"] >= 0.95
    assert warm["identical"] >= cold["identical"] and warm["identical"] >= 0.9
    assert cold["differing"] and min(cold["differing"]) >= 30  # the first segment is the whole run's own


def test_a_marker_counts_only_for_the_same_source_settings_and_bytes(tmp_path, runner, cat):
    job = job_of(tmp_path, cat)
    folder_of(job).mkdir()
    part = segment_job(job, cut(job, probe(job.source), 1.0)[1], 7)
    write_marker(part, runner.run(part), "cfg")
    assert read_marker(part, "cfg")["frames"] == 30
    assert read_marker(part, "other settings") is None
    with open(part.export, "a", encoding="utf-8") as file:
        file.write("\n")  # an output that is not the bytes the marker recorded
    assert read_marker(part, "cfg") is None


def test_a_damaged_segment_s_loss_is_in_its_marker_and_named_in_the_joined_file(tmp_path, runner, cat):
    from camvideo.batch.segments import _figures

    job = job_of(tmp_path, cat)
    folder_of(job).mkdir()
    parts = [segment_job(job, s, 10 + s.number) for s in cut(job, probe(job.source), 1.0)]
    results = [runner.run(part) for part in parts]
    lost = dataclasses.replace(results[-1], damage="frames 140-149 (4.7-5.0 s) could not be decoded")
    assert write_marker(parts[-1], lost, "cfg")["damaged"] == lost.damage
    figures = tuple(_figures(read_marker(part, "cfg") or write_marker(part, result, "cfg"))
                    for part, result in zip(parts, results))
    joined = join_file(job, parts, 0.0, figures)
    assert joined.status == "done" and joined.damage == f"segment 5 of 5: {lost.damage}"
    assert joined.to_record("cfg")["damaged"] == joined.damage


def test_a_join_keeps_a_stopped_whole_file_run_s_partial_outputs(tmp_path, runner, cat):
    """A file stopped whole, then redone in segments (more workers this time): the join
    writes its own .partial files, so the stopped run's are kept as NAME.partial-1.EXT
    first, byte for byte, as a whole-file job keeps them."""
    job = job_of(tmp_path, cat)
    folder_of(job).mkdir()
    left = {Path(o).with_name(f"{Path(o).stem}.partial{Path(o).suffix}"): os.urandom(64) for o in job.outputs}
    for path, data in left.items():
        path.write_bytes(data)
    parts = [segment_job(job, s, 20 + s.number) for s in cut(job, probe(job.source), 2.5, warm_up=0)]
    results = [runner.run(part) for part in parts]
    joined = join_file(job, parts, 0.0, tuple({"frames": r.frames, "seconds": r.seconds} for r in results))
    assert joined.status == "done" and joined.frames == FRAMES
    for path, data in left.items():
        assert not path.exists() and path.with_name(f"{path.stem}-1{path.suffix}").read_bytes() == data


def test_units_skip_the_done_segments_and_redo_the_rest(tmp_path, runner, cat):
    job = job_of(tmp_path, cat)
    units = Units([job], 2, 1.0, "cfg")
    assert len(units.parts[job.index]) == 5 and len(units.jobs) == 5
    for part in units.jobs[:3]:
        write_marker(part, runner.run(part), "cfg")
    again = Units([job], 2, 1.0, "cfg")
    assert [p.segment.number for p in again.jobs] == [3, 4] and sorted(again.done[job.index]) == [0, 1, 2]
    # an earlier split is resumed even when this run would not split (one worker)
    assert [p.segment.number for p in Units([job], 1, 1.0, "cfg").jobs] == [3, 4]
    # --segment-seconds 0: the file whole, the segments removed
    whole = Units([job], 2, 0.0, "cfg")
    assert whole.jobs == [job] and not folder_of(job).exists()


def test_the_command_splits_a_long_file_and_writes_one_line_for_it(tmp_path, cat):
    source = tmp_path / "in"
    source.mkdir()
    make_clip(source / "talk.mp4", frames=120, size=(96, 64), fps=30, audio=True, gop=30)
    out = tmp_path / "out"
    done = camvideo(source, "--output-dir", out, "--jobs", "2", "--segment-seconds", "1")
    assert done.returncode == 0, done.stderr
    assert "1 long file in 4 segments" in done.stderr
    (line,) = summary(out)
    assert line["status"] == "done" and line["frames"] == 120 and len(line["segments"]) == 4
    assert [s["frames"] for s in line["segments"]] == [30] * 4
    assert len({s["worker"] for s in line["segments"]}) == 2  # both workers took segments
    lines = (out / "talk.jsonl").read_text().splitlines()
    assert [json.loads(x)["frame"] for x in lines] == list(range(120))
    assert decoded_frames(out / "talk_cam.mkv") == 120
    assert decode_times(out / "talk_cam.mkv") == pytest.approx(decode_times(source / "talk.mp4"), abs=1e-3)
    with av.open(str(out / "talk_cam.mkv")) as container:
        assert container.streams.audio  # the source's sound copied along
    assert sorted(os.listdir(out)) == ["camvideo-run.jsonl", "talk.jsonl", "talk_cam.mkv"]  # the lock file gone
    again = camvideo(source, "--output-dir", out, "--jobs", "2", "--segment-seconds", "1")
    assert again.returncode == 0 and summary(out)[-1]["status"] == "skipped"


def test_a_rerun_after_a_kill_redoes_only_the_missing_segments(tmp_path, runner):
    source = tmp_path / "in"
    source.mkdir()
    make_clip(source / "long.mp4", frames=120, size=(96, 64), fps=30, gop=30)
    out = tmp_path / "out"
    plan = make_plan([str(source)], out)
    prepare_output_dir(plan)
    config = command_config()
    units = Units(list(plan.jobs), 2, 1.0, config)
    for part in units.jobs[:2]:  # what a killed run left: two segments done, their markers written
        write_marker(part, runner.run(part), config)
    rerun = camvideo(source, "--output-dir", out, "--jobs", "2", "--segment-seconds", "1")
    assert rerun.returncode == 0, rerun.stderr
    (line,) = summary(out)
    me = worker_name()
    assert [s["worker"] == me for s in line["segments"]] == [True, True, False, False]
    assert [json.loads(x)["frame"] for x in (out / "long.jsonl").read_text().splitlines()] == list(range(120))
    assert decoded_frames(out / "long_cam.mkv") == 120
    assert not folder_of(plan.jobs[0]).exists()


def test_the_option_is_in_the_help_and_checked(tmp_path):
    shown = camvideo("--help")
    assert shown.returncode == 0 and "--segment-seconds S" in shown.stdout and "0 never cuts" in shown.stdout
    make_clip(tmp_path / "a.mp4", frames=5, size=(32, 32))
    bad = camvideo(tmp_path / "a.mp4", "--output-dir", tmp_path / "out", "--segment-seconds", "-1")
    assert bad.returncode == 2 and "--segment-seconds must be a number of seconds, 0 or more" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts a Ray instance: one Ray test at a time (tests/conftest.py)
def test_on_ray_a_long_file_runs_in_segments_on_two_actors(tmp_path, tmp_path_factory):
    from batch_helpers import env

    source = tmp_path / "in"
    source.mkdir()
    make_clip(source / "long.mp4", frames=120, size=(96, 64), fps=30, gop=30)
    out = tmp_path / "out"
    temp = tmp_path_factory.mktemp("r")
    done = camvideo(source, "--output-dir", out, "--ray", "local", "--cpus-per-job", "1", "--jobs", "2",
                    "--segment-seconds", "1", env=env(RAY_TMPDIR=str(temp), RAY_AUTH_MODE="disabled"), timeout=300)
    assert done.returncode == 0, done.stderr
    (line,) = summary(out)
    assert line["status"] == "done" and [s["frames"] for s in line["segments"]] == [30] * 4
    assert [json.loads(x)["frame"] for x in (out / "long.jsonl").read_text().splitlines()] == list(range(120))
    assert decoded_frames(out / "long_cam.mkv") == 120
