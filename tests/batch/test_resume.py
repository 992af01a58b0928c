"""What a rerun skips (``camvideo.batch.resume``): the summary's last line for each
job against its source and its outputs on disk (real files of a planned tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_plan import touch

from camvideo.batch.plan import Job, make_plan, prepare_output_dir
from camvideo.batch.resume import is_complete, split_resumed


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
