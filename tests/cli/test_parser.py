"""What ``camvideo --help`` and each command's --help say about the exit status:
every command says its own, and the top-level note covers a batch's 1."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from camvideo.cli.parser import SUBCOMMANDS, build_parser


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", [c for c in SUBCOMMANDS if c != "gui"])
def test_each_command_says_its_exit_status(capsys, command):
    text = _help(capsys, command)
    assert "exit status: 0 done;" in text and "2 a problem with an input, an output or an option" in text
    assert ("1 a batch (several files) in which some files failed" in text) == (command == "process")
    assert ("the outputs complete up to the last frame written" in text) == (command == "process")


def test_the_window_says_its_exit_status(capsys):
    text = _help(capsys, "gui")
    assert "exit status: 0 the window was closed; 2 a problem with an option or a file given" in text
    assert "128+N when signal N closed it" in text


def test_the_top_level_note_covers_every_status_a_command_gives(capsys):
    text = _help(capsys)
    assert "0 done; 1 `process` on several files (a batch): some failed" in text
    assert "2 a problem with an input" in text and "128+N stopped by signal N" in text


@pytest.mark.parametrize("argv", [
    ["process", ""], ["process", "clip.mp4", "-o", ""], ["process", "clip.mp4", "--export", " "],
    ["process", "a.mp4", "b.mp4", "--output-dir", ""], ["process", "clip.mp4", "--weights", ""],
    ["image", ""], ["image", "a.png", "-o", ""], ["gui", ""], ["eval", "--devset", "--out", ""],
    ["bench", "--json", ""],
])
def test_an_empty_name_is_refused_where_it_enters(capsys, argv):
    """``Path("")`` is the current folder: an unset shell variable must not mean "." (a batch over it)."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 2
    assert "an empty name: give a file, folder or URL" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["image", "a.png", "--topk", "abc"], "camvideo image: error: argument --topk: invalid int value: 'abc'"),
    (["process", "a.mp4", "--runtime", "tflite"], "camvideo process: error: argument --runtime: invalid choice"),
    (["nosuch"], "camvideo: error: argument COMMAND: invalid choice: 'nosuch'"),
    (["process", "a.mp4", "--quality", "Balance"], "camvideo process: error: argument --quality: invalid choice: "),
    (["process", "a.mp4", "--codec", "nvenc"], "camvideo process: error: argument --codec: invalid choice: "),
    (["procss", "a.mp4"], "camvideo: error: argument COMMAND: invalid choice: 'procss' (choose from"),
])
def test_a_command_line_mistake_is_one_line_not_the_usage(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.splitlines()) == 1, err
    assert err.rstrip().endswith("--help` lists the options)")
    guess = {"Balance": "; did you mean balanced? (", "nvenc": "; did you mean h264_nvenc? ("}.get(argv[-1])
    assert guess is None or guess in err  # argparse's own words before it differ between Python versions


@pytest.mark.parametrize("message", [
    "argument --quality: invalid choice: 'balance' (choose from 'fast', 'balanced', 'best')",
    "argument --quality: invalid choice: 'balance' (choose from fast, balanced, best)",  # Python 3.12.7-3.13
])
def test_the_close_choice_is_found_whether_argparse_quotes_the_choices_or_not(message):
    from camvideo.cli.parser import close_choice

    assert close_choice(message) == "; did you mean balanced?"
    assert close_choice(message.replace("'balance'", "'zzz'")) == ""


def test_a_log_line_reads_as_the_commands_own(tmp_path):
    """A warning from inside (here OpenVINO asked for AUTO with every device excluded) is
    "camvideo: warning: ...", as the command's other lines, not "WARNING module: ..."."""
    import subprocess
    import sys

    from camvideo.cli.parser import LogLine

    record = logging.LogRecord("camvideo.video.files", logging.WARNING, __file__, 1, "cut short", None, None)
    assert LogLine("%(message)s").format(record) == "camvideo: warning: cut short"
    assert LogLine("%(name)s: %(message)s").format(record) == "camvideo: warning: camvideo.video.files: cut short"
    cat = Path(__file__).parents[1] / "data" / "chelsea.png"
    proc = subprocess.run([sys.executable, "-m", "camvideo", "image", str(cat), "-o", str(tmp_path / "o.png"),
                           "--device", "openvino:AUTO:-CPU", "--quality", "fast"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "camvideo: warning: OpenVINO cannot run lite0 (" in proc.stderr  # AUTO's own check: every device excluded


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_an_unknown_option_points_at_the_commands_own_help(capsys, command):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([command, *(["p.png"] if command == "image" else []), "--bogus"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1
    assert f"camvideo {command}: error: unrecognized arguments: --bogus (`camvideo {command} --help`" in err


def test_an_unknown_option_before_the_command_points_at_the_top_help(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--bogus", "process", "x.mp4"])
    assert "(`camvideo --help` lists the options)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, verbose", [
    (["process", "x.mp4"], 0), (["-v", "process", "x.mp4"], 1), (["process", "x.mp4", "-v"], 1),
    (["models", "-vv"], 2), (["gui", "--verbose"], 1),
    (["-v", "process", "x.mp4", "-v"], 2), (["-vv", "process", "x.mp4", "-v"], 3),  # before and after: they add up
])
def test_verbose_goes_before_or_after_the_command(argv, verbose):
    assert build_parser().parse_args(argv).verbose == verbose


@pytest.mark.parametrize("argv, hint", [
    (["process", "x.mp4", "--exprot", "x.jsonl"], "; did you mean --export? (`camvideo process --help`"),
    (["image", "p.png", "--quailty=fast"], "; did you mean --quality? (`camvideo image --help`"),
    (["process", "x.mp4", "--bogus"], "--bogus (`camvideo process --help`"),
])
def test_a_misspelt_option_is_named_with_the_one_it_looks_like(capsys, argv, hint):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and hint in err, err


def test_version_prints_the_package_version_and_exits_0(capsys):
    from camvideo import __version__

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"camvideo {__version__}"
