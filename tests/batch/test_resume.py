"""What a rerun skips (``camvideo.batch.resume``): the summary's last line for each
job against its source and its outputs on disk (real files of a planned tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_plan import touch

from camvideo.batch.plan import Job, make_plan, prepare_output_dir
from camvideo.batch.resume import is_complete, split_resumed
from camvideo.errors import OutputError
from camvideo.video.export import CSV_COLUMNS


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "archive"
    for rel in ("a.mp4", "b.MKV", "day1/c.mov", "day1/deep/d.webm", ".hidden/e.mp4"):
        touch(root / rel)
    return root


def _done(job: Job, config: str = "cfg", **changes) -> dict:
    record = {"rel": job.rel, "status": "done", "size": job.size, "mtime_ns": job.mtime_ns, "config": config}
    return {**record, **changes}


def test_a_rerun_skips_only_what_is_complete(tree, tmp_path):
    plan = make_plan([str(tree)], tmp_path / "out")
    prepare_output_dir(plan)
    a, b, c, d = plan.jobs
    for job in plan.jobs:
        for path in job.outputs:
            touch(Path(path))
    Path(d.recording).with_name("d_cam.partial.mkv").write_bytes(b"x")  # an attempt in flight
    records = [_done(a), _done(b), {"rel": b.rel, "status": "skipped"},  # skipped lines only repeat
               _done(c, size=999),  # the source changed since
               _done(d)]
    todo, complete = split_resumed(plan, records, "cfg")
    assert complete == [a, b] and todo == [c, d]
    todo, complete = split_resumed(plan, records + [_done(a, status="failed")], "cfg")
    assert a in todo  # the last attempt failed
    assert split_resumed(plan, records, "other settings")[1] == []
    assert split_resumed(plan, records, "cfg", overwrite=True)[1] == []
    os.remove(a.export)
    assert not is_complete(a, _done(a), "cfg")  # an output is gone


def test_a_stopped_run_s_partials_that_this_run_does_not_write_are_named_and_kept(tree, tmp_path):
    """A run killed while recording left ``a_cam.partial.mkv``; a rerun with
    --no-recording never writes it: it names it (one line) and leaves it."""
    from camvideo.batch.resume import stale_note, stale_partials

    recorded = make_plan([str(tree)], tmp_path / "out")
    prepare_output_dir(recorded)
    a = recorded.jobs[0]
    partial = Path(a.recording).with_name("a_cam.partial.mkv")
    partial.write_bytes(b"frames")
    Path(a.export).with_name("a.partial.jsonl").write_bytes(b"{}\n")  # this run writes it: not stale
    assert stale_partials(recorded) == [] and stale_note([]) is None  # the rerun with a recording redoes it
    plain = make_plan([str(tree)], tmp_path / "out", recording=False)
    assert stale_partials(plain) == [str(partial)]
    note = stale_note(stale_partials(plain))
    assert note.startswith(f"{partial} is the recording of an earlier run that was stopped part way")
    assert "(it holds no whole frame)" in note  # not a video (a killed recording's frames: test_archive_faults)
    assert "keeps it as it is: delete it, or run again with a recording" in note
    assert "\n" not in note and partial.read_bytes() == b"frames"
    csv = make_plan([str(tree)], tmp_path / "out", export_format="csv")  # the JSONL is another format's now
    (stale,) = stale_partials(csv)
    assert stale.endswith("a.partial.jsonl") and "--export-format jsonl" in stale_note([stale])
    both = stale_note(stale_partials(make_plan([str(tree)], tmp_path / "out", recording=False,
                                               export_format="csv")))
    assert both.startswith("2 outputs of an earlier run") and str(partial) in both and "\n" not in both


def test_a_video_of_the_recordings_name_that_no_run_made_is_never_replaced_silently(tree, tmp_path):
    """A file at a job's recording with no summary line, and no camvideo recording (a
    user's own video): refused, exit 2 (it was replaced without a word); --overwrite
    replaces it."""
    plan = make_plan([str(tree)], tmp_path / "out")
    prepare_output_dir(plan)
    a = plan.jobs[0]
    Path(a.recording).write_bytes(b"the user's own video")
    with pytest.raises(OutputError, match=r"a_cam\.mkv is there and is not a camvideo recording.*--overwrite"):
        split_resumed(plan, [], "cfg")
    todo, complete = split_resumed(plan, [], "cfg", overwrite=True)
    assert a in todo and not complete
    todo, _ = split_resumed(plan, [_done(a)], "cfg")  # a line of its own: the earlier run's, checked as before
    assert a in todo  # (its export missing: redone)


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_data_of_the_exports_name_that_no_run_made_is_never_replaced_silently(tree, tmp_path, export_format):
    """A file at a job's export that is not a camvideo export (a user's own data of that
    name): refused (it was replaced without a word); a camvideo export or an empty file
    is redone as before; --overwrite replaces it."""
    plan = make_plan([str(tree)], tmp_path / "out", recording=False, export_format=export_format)
    prepare_output_dir(plan)
    a = plan.jobs[0]
    Path(a.export).write_text("my own notes\n")
    with pytest.raises(OutputError, match=rf"a\.{export_format} is there and is not a camvideo export.*--overwrite"):
        split_resumed(plan, [], "cfg")
    todo, _ = split_resumed(plan, [], "cfg", overwrite=True)
    assert a in todo
    Path(plan.jobs[1].export).write_text("my other notes\n")
    with pytest.raises(OutputError, match=r"is not a camvideo export \(and 1 more\): .* to replace them$"):
        split_resumed(plan, [], "cfg")
    Path(plan.jobs[1].export).unlink()
    ours = ('{"frame": 0, "time": 0.0, "detections": []}\n' if export_format == "jsonl"
            else ",".join(CSV_COLUMNS) + "\r\n")
    for text in (ours, ""):
        Path(a.export).write_text(text)
        todo, _ = split_resumed(plan, [], "cfg")
        assert a in todo
