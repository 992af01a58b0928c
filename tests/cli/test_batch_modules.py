"""The batch command's parts, without a run: its options checked (``batch_options.check``),
the output folder as the run found it (``batch_folder``), the reporter (``batch_report``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from camvideo.batch.job import JobResult
from camvideo.batch.lock import LOCK_NAME
from camvideo.batch.plan import Job, Plan
from camvideo.batch.summary import Totals
from camvideo.cli import build_parser
from camvideo.cli.batch_folder import existing, undo_if_nothing_ran
from camvideo.cli.batch_options import check
from camvideo.cli.batch_report import Driver, skip_complete
from camvideo.errors import CamvideoError


def batch_args(*argv: str):
    return build_parser().parse_args(["process", "in/", "--output-dir", "out", *argv])


@pytest.mark.parametrize("argv, words", [
    (("--jobs", "0"), "--jobs must be at least 1, got 0"),
    (("--segment-seconds", "-1"), "--segment-seconds must be a number of seconds, 0 or more"),
    (("--segment-seconds", "inf"), "--segment-seconds must be a number of seconds, 0 or more"),
    (("--cpus-per-job", "1"), "--cpus-per-job goes with --ray"),
    (("--ray", "local", "--gpus-per-job", "-1"), "--gpus-per-job must be 0 or more, got -1.0"),
    (("--ray", "local", "--cpus-per-job", "0"), "--cpus-per-job 0 needs --gpus-per-job"),
    (("-o", "a.mkv"), "-o/--output and --export name the outputs of one file"),
])
def test_a_batchs_inconsistent_options_are_one_line(argv, words):
    with pytest.raises(CamvideoError, match=re.escape(words)):
        check(batch_args(*argv))


def test_check_sets_the_defaults():
    args = batch_args("--ray", "local", "--cpus-per-job", "0", "--gpus-per-job", "0.5")
    check(args)
    assert args.export_format == "jsonl" and args.segment_seconds > 0


def _plan(out: Path) -> Plan:
    job = Job(0, "/in/sub/a.mp4", "sub/a.mp4", "video", None, str(out / "sub" / "deep" / "a.jsonl"))
    return Plan((job,), str(out))


def test_a_run_that_wrote_nothing_leaves_the_folder_as_it_found_it(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    plan = _plan(out)
    found = existing(plan)
    assert found == {str(out), str(out / "sub")}
    (out / "sub" / "deep").mkdir()
    plan.summary_path.touch()
    undo_if_nothing_ran(plan, found)
    assert sorted(os.listdir(out)) == ["sub"] and os.listdir(out / "sub") == []


def test_a_run_that_wrote_nothing_leaves_a_lock_file_there_now_alone(tmp_path):
    """Its own lock file went when it released the lock; one there now is a run's that started since."""
    out = tmp_path / "out"
    plan = _plan(out)
    found = existing(plan)
    out.mkdir()
    plan.summary_path.touch()
    (out / LOCK_NAME).write_text("host:2 since now: another run")
    undo_if_nothing_ran(plan, found)
    assert os.listdir(out) == [LOCK_NAME]


def test_a_run_that_wrote_a_summary_line_keeps_everything(tmp_path):
    out = tmp_path / "out"
    plan = _plan(out)
    found = existing(plan)
    (out / "sub" / "deep").mkdir(parents=True)
    plan.summary_path.write_text("{}\n")
    undo_if_nothing_ran(plan, found)
    assert (out / "sub" / "deep").is_dir() and plan.summary_path.is_file()


class _Recorded:
    def __init__(self) -> None:
        self.calls, self.records = [], []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def test_the_summary_keeps_a_name_as_it_is_and_the_display_shows_it_printable():
    display, writer, totals = _Recorded(), _Recorded(), Totals(files=2)
    job = Job(0, "/in/a\nb.mp4", "a\nb.mp4", "video", None, "/out/a\nb.jsonl", size=1, mtime_ns=2)
    driver = Driver(display, writer, totals, "cfg", earlier={"a\nb.mp4": 2})
    driver.started(job, "host:1")
    driver.finished(JobResult(job, "failed", reason="bad\nfile"))
    assert writer.records[0]["rel"] == "a\nb.mp4" and writer.records[0]["attempts"] == 3
    assert "\n" not in display.calls[0][1].rel and "\n" not in display.calls[1][1].reason
    assert totals.failures and "\n" not in totals.failures[0][0]
    skip_complete(writer, [job], "cfg", totals)
    assert writer.records[1]["status"] == "skipped" and writer.records[1]["rel"] == "a\nb.mp4"
    assert totals.counts["skipped"] == 1


def test_the_batch_options_have_one_home():
    """``add_batch_options``, ``wants_batch`` and ``one_file_outputs`` are imported from
    ``batch_options``, where they are defined; ``camvideo.cli.batch`` no longer re-exports them."""
    from camvideo.cli import batch, batch_options

    for name in ("add_batch_options", "wants_batch", "one_file_outputs"):
        assert hasattr(batch_options, name) and not hasattr(batch, name), name
