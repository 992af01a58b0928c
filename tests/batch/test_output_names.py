"""Case 2 of the reliability issue: names a path would collapse (``..mp4``,
``...mp4``, ``sub/..mp4`` beside ``sub.mp4``) write inside --output-dir, each
to outputs of its own: planned, then run for real."""

from __future__ import annotations

import os
from pathlib import Path

from batch_helpers import camvideo, check_complete, summary
from clips import make_clip

from camvideo.batch.plan import make_plan

NAMES = ("..mp4", "...mp4", "sub/..mp4", "sub.mp4", "_.mp4")


def _inside(path: str, folder: Path) -> bool:
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


def test_collapsing_names_plan_distinct_outputs_inside_the_output_folder(tmp_path):
    for name in NAMES:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    plan = make_plan([str(tmp_path / "in" / n) for n in NAMES], tmp_path / "in" / "out")
    outputs = [p for job in plan.jobs for p in job.outputs]
    assert len(plan.jobs) == len(NAMES) and len(set(outputs)) == len(outputs) == 2 * len(NAMES)
    for path in outputs:
        assert _inside(path, tmp_path / "in" / "out") and Path(path).parent != Path(path), path
        assert Path(path).name not in ("_cam.mkv", ".jsonl") and ".." not in Path(path).parts


def test_collapsing_names_run_into_their_own_outputs_and_nothing_outside(tmp_path):
    folder = tmp_path / "in"
    frames = {}
    for i, name in enumerate(("..mp4", "sub/..mp4", "sub.mp4")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        make_clip(folder / name, frames=4 + i, size=(32, 32))
        frames[name] = 4 + i
    beside = {p: p.read_bytes() for p in (folder / "sub_cam.mkv", tmp_path / "out_cam.mkv", tmp_path / "out.jsonl")
              if p.write_bytes(b"the user's own file") or True}
    result = camvideo(*(folder / n for n in frames), "--output-dir", tmp_path / "out", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    for path, data in beside.items():
        assert path.read_bytes() == data  # nothing written outside --output-dir
    records = {r["rel"]: r for r in summary(tmp_path / "out") if r["status"] == "done"}
    assert set(records) == set(frames)
    seen = set()
    for rel, count in frames.items():
        recording, export = map(Path, records[rel]["outputs"])
        assert _inside(str(recording), tmp_path / "out") and recording not in seen
        seen.add(recording)
        check_complete(folder / rel, recording, export, count)
