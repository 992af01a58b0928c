"""One job in this process (what a worker runs): the real model, real clips; a
damaged file, a stop request, an earlier attempt's outputs, a model that cannot load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import check_complete
from clips import make_clip, make_truncated_clip

from camvideo.batch.job import JobOptions, JobRunner
from camvideo.batch.plan import make_plan, prepare_output_dir
from camvideo.cli.parser import build_parser
from camvideo.errors import CamvideoError


def options(*argv) -> JobOptions:
    from camvideo.cli.options import localize_settings_from_args, model_options_from_args, overlay_settings_from_args

    args = build_parser().parse_args(["process", "x", *argv])
    return JobOptions(model=model_options_from_args(args), settings=localize_settings_from_args(args),
                      overlay=overlay_settings_from_args(args), threads=1, workers=1)


@pytest.fixture(scope="module")
def runner() -> JobRunner:
    runner = JobRunner(options())
    runner.load()
    return runner


def plan_of(tmp_path: Path, *files: Path):
    plan = make_plan([str(f) for f in files], tmp_path / "out")
    prepare_output_dir(plan)
    return plan


def test_a_file_runs_through_the_pipeline_and_reports_its_progress(tmp_path, runner):
    clip = tmp_path / "in" / "a.mp4"
    clip.parent.mkdir()
    make_clip(clip, frames=30, size=(64, 48))
    job = plan_of(tmp_path, clip).jobs[0]
    seen = []
    result = runner.run(job, on_progress=lambda frames, total: seen.append((frames, total)))
    assert result.status == "done" and result.frames == 30 and result.reason is None
    assert result.outputs == job.outputs and result.worker.count(":") == 1
    assert seen[-1] == (30, 30)
    check_complete(clip, Path(job.recording), Path(job.export), 30)
    record = result.to_record("cfg")
    assert record["status"] == "done" and record["frames"] == 30 and record["config"] == "cfg"
    assert json.dumps(record)  # a summary line


def test_a_damaged_file_is_done_with_its_loss_named_and_keeps_every_frame_that_decoded(tmp_path, runner):
    cut = make_truncated_clip(tmp_path)
    job = plan_of(tmp_path, cut).jobs[0]
    result = runner.run(job)
    assert result.status == "done" and result.reason is None and result.damage.startswith("frames ")
    assert 0 < result.frames < 60 and result.outputs == job.outputs
    assert Path(job.recording).exists() and Path(job.export).read_text().count("\n") == result.frames
    assert result.to_record("cfg")["damaged"] == result.damage


def test_a_stop_request_keeps_the_outputs_partial_and_the_job_is_interrupted(tmp_path, runner):
    clip = tmp_path / "long.mkv"
    make_clip(clip, frames=600, size=(64, 48))
    job = plan_of(tmp_path, clip).jobs[0]
    progress = []
    result = runner.run(job, should_stop=lambda: len(progress) >= 2,
                        on_progress=lambda frames, total: progress.append(frames))
    assert result.status == "interrupted" and 0 < result.frames < 600
    assert result.outputs == ()  # a part of the file never takes the output's name
    assert not Path(job.recording).exists() and not Path(job.export).exists()
    kept = Path(job.export).with_name("long.partial.jsonl")  # playable, complete to the last frame written
    assert kept.read_text().count("\n") == result.frames
    recording = Path(job.recording).with_name("long_cam.partial.mkv")
    data = kept.read_bytes(), recording.read_bytes()
    assert runner.run(job).status == "done" and not kept.exists()  # the rerun redoes it whole
    # and keeps what the stopped run wrote, as a single `camvideo process` does
    aside = kept.with_name("long.partial-1.jsonl"), recording.with_name("long_cam.partial-1.mkv")
    assert (aside[0].read_bytes(), aside[1].read_bytes()) == data and not recording.exists()


def test_a_redone_file_that_fails_keeps_the_earlier_outputs_and_lists_none(tmp_path, runner):
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 4096)
    job = plan_of(tmp_path, tmp_path / "bad.mp4").jobs[0]
    stale = job.export.replace(".jsonl", ".partial.jsonl")
    for path in (job.recording, job.export, stale):
        Path(path).write_text("from an earlier run")
    result = runner.run(job)
    assert result.status == "failed" and result.reason.startswith("not a video that can be decoded")
    assert result.outputs == ()  # the summary never shows the earlier files as this run's
    assert Path(job.recording).read_text() == Path(job.export).read_text() == "from an earlier run"
    assert not Path(stale).exists() and Path(stale.replace(".partial.", ".partial-1.")).read_text() == "from an earlier run"


def test_an_output_a_single_file_run_is_writing_fails_the_job_and_keeps_its_partial(tmp_path, runner):
    """The job's outputs are locked before its earlier ``.partial`` files are set aside: a live
    ``camvideo process -o`` of the same name keeps its growing file."""
    from camvideo.batch.lock import OutputLock

    clip = tmp_path / "a.mkv"
    make_clip(clip, frames=3, size=(64, 48))
    job = plan_of(tmp_path, clip).jobs[0]
    growing = Path(job.recording).with_name("a_cam.partial.mkv")
    growing.write_bytes(b"another run's")
    with OutputLock.for_file(job.recording, "camvideo process other.mp4", "-o"):
        result = runner.run(job)
    assert result.status == "failed" and "is being written by another camvideo run" in result.reason
    assert "camvideo process other.mp4" in result.reason and result.outputs == ()
    assert growing.read_bytes() == b"another run's" and not Path(job.export).exists()
    assert runner.run(job).status == "done"  # the holder gone
    assert not [p for p in Path(job.recording).parent.iterdir() if p.name.endswith(".camvideo-lock")]


def test_a_missing_file_fails_without_the_model(tmp_path):
    job = make_plan([str(tmp_path / "gone.mp4")], tmp_path / "out").jobs[0]
    result = JobRunner(options()).run(job)
    assert (result.status, result.reason) == ("failed", "no such file or folder")


def test_a_model_that_cannot_load_is_an_error_of_the_run_not_of_a_file(tmp_path):
    with pytest.raises(CamvideoError, match="does not exist"):
        JobRunner(options("--checkpoint", str(tmp_path / "gone.pt"))).load()


def test_the_config_id_follows_the_outputs_settings_only():
    base = options().config_id()
    assert options("--device", "cpu").config_id() == base  # where it runs: same outputs
    assert options("--topk", "2").config_id() != base
    assert options("--no-heatmap").config_id() != base


def test_a_file_whose_output_fails_names_the_partial_files_kept_in_its_reason(tmp_path, runner, monkeypatch):
    """A full disk mid-file: the failed line's reason names every .partial file the run
    kept (was: only the error, "cannot write out/a.partial.jsonl: No space left on device")."""
    from camvideo.video.export import JsonlExporter

    make_clip(tmp_path / "a.mp4", frames=12, size=(64, 48))
    job = plan_of(tmp_path, tmp_path / "a.mp4").jobs[0]
    emit = JsonlExporter._emit

    def full(self, result):
        if result.frame == 5:
            raise OSError(28, "No space left on device")
        emit(self, result)

    monkeypatch.setattr(JsonlExporter, "_emit", full)
    result = runner.run(job)
    assert result.status == "failed" and result.outputs == ()
    assert result.reason == (f"cannot write {tmp_path / 'out' / 'a.partial.jsonl'}: No space left on device; "
                             "what was written is kept in a_cam.partial.mkv, a.partial.jsonl")
    assert Path(job.recording.replace("_cam.", "_cam.partial.")).exists()


def test_an_output_that_is_a_hard_link_to_the_job_s_own_source_fails_the_file_and_leaves_it_whole(tmp_path, runner):
    """``out/a_cam.partial.mkv`` a hard link to ``a.mp4`` (names that resolve apart):
    the job recorded over its own input as it read it (its frames lost, the file
    rewritten); now the real files are compared, as ``camvideo process`` compares them."""
    make_clip(tmp_path / "a.mp4", frames=8, size=(64, 48))
    data = (tmp_path / "a.mp4").read_bytes()
    job = plan_of(tmp_path, tmp_path / "a.mp4").jobs[0]
    Path(job.recording.replace("_cam.", "_cam.partial.")).hardlink_to(tmp_path / "a.mp4")
    result = runner.run(job)
    assert result.status == "failed" and f"is the input {tmp_path / 'a.mp4'} itself" in result.reason
    assert (tmp_path / "a.mp4").read_bytes() == data
    assert not Path(job.recording).exists() and not Path(job.export).exists()
