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
    (("--overwrite",), (DEFAULT, None)),
    (("--overwrite", "-o", "r.mkv", "--export", "d.jsonl"), (Path("r.mkv"), "d.jsonl")),
])
def test_archive_options_choose_one_files_outputs(argv, expected):
    assert outputs(*argv) == expected


@pytest.mark.parametrize("argv, batch", [
    (("a.mp4", "--overwrite"), False),  # one file is always redone: --overwrite makes no batch of it
    (("a.mp4", "-o", "r.mkv", "--overwrite"), False),
    (("a.mp4", "--output-dir", "out", "--overwrite"), True),
    (("a.mp4", "b.mp4", "--overwrite"), True),
])
def test_overwrite_alone_makes_no_batch(argv, batch):
    from camvideo.cli.batch_options import wants_batch

    assert wants_batch(build_parser().parse_args(["process", *argv])) is batch


@pytest.mark.slow
def test_overwrite_on_one_file_replaces_its_outputs_with_complete_ones(tmp_path, monkeypatch, capsys):
    from clips import make_clip

    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "a.mp4", frames=3, size=(64, 48))
    for name in ("r.mkv", "d.jsonl"):
        (tmp_path / name).write_text("an earlier run's")
    argv = ["process", "a.mp4", "-o", "r.mkv", "--export", "d.jsonl", "--overwrite", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "d.jsonl").read_text().count("\n") == 3 and (tmp_path / "r.mkv").stat().st_size > 100
    assert not (tmp_path / "camvideo-out").exists()  # one file's run, not a batch of one


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
