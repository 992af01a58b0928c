"""The many-files options on one source: applied (--no-recording, --export-format) or one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from camvideo.cli import build_parser, main
from camvideo.cli.batch_options import one_file_outputs
from camvideo.errors import CamvideoError

DEFAULT = Path("/here/a_cam.mkv")


def outputs(*argv: str) -> tuple[Path | None, str | None]:
    args = build_parser().parse_args(["process", "a.mp4", *argv])
    return one_file_outputs(args, DEFAULT), args.export


@pytest.mark.parametrize("argv, expected", [
    ((), (DEFAULT, None)),
    (("--export", "d.jsonl"), (None, "d.jsonl")),
    (("--no-recording",), (None, "/here/a.jsonl")),
    (("--no-recording", "--export", "d.csv"), (None, "d.csv")),
    (("--export-format", "csv"), (DEFAULT, "/here/a.csv")),
    (("--export-format", "csv", "--no-recording"), (None, "/here/a.csv")),
    (("--export-format", "jsonl", "--export", "d.jsonl", "-o", "r.mkv"), (Path("r.mkv"), "d.jsonl")),
    (("--export-format", "none"), (DEFAULT, None)),
])
def test_archive_options_choose_one_files_outputs(argv, expected):
    assert outputs(*argv) == expected


@pytest.mark.parametrize("argv, words", [
    (("--no-recording", "-o", "r.mkv"), "contradict"),
    (("--export", "d.jsonl", "--export-format", "csv"), "disagree"),
    (("--export", "d.jsonl", "--export-format", "none"), "disagree"),
    (("--no-recording", "--export-format", "none"), "nothing to write"),
    (("--segment-seconds", "30"), "one file runs whole"),
    (("--dataset", "ds2"), "--output-dir DIR"),
    (("--cpus-per-job", "2"), "goes with --ray"),
    (("--gpus-per-job", "1"), "goes with --ray"),
])
def test_archive_options_that_cannot_apply_refuse(argv, words):
    with pytest.raises(CamvideoError, match=words):
        outputs(*argv)


def test_refusal_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"")
    assert main(["process", str(clip), "--export", "a.jsonl", "--dataset", "ds2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dataset" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


@pytest.mark.parametrize("shape, words", [
    ("folder", "a folder of videos: use --output-dir DIR"),
    ("pattern", "a pattern of videos: use --output-dir DIR"),
    ("files", "with several files use --output-dir DIR"),
])
def test_o_on_a_batch_names_what_was_given(tmp_path, capsys, shape, words):
    folder = tmp_path / "arch3"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(b"")
    sources = {"folder": [str(folder)], "pattern": [str(folder / "*.mp4")],
               "files": [str(folder / "a.mp4"), str(folder / "b.mp4")]}[shape]
    assert main(["process", *sources, "-o", str(tmp_path / "dashO")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert not (tmp_path / "dashO").exists()


def test_readme_names_the_batch_option():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "process DIR -o OUT" not in readme and "process DIR --output-dir OUT" in readme
