"""The shared options' checks: a bad value is one line that names the option as
typed (``--min-area``, not the setting's ``min_area``), for every command."""

from __future__ import annotations

import pytest

from camvideo.cli import main


@pytest.mark.parametrize(("flags", "says"), [
    (["--topk", "0"], "--topk must be at least 1, got 0"),
    (["--threshold", "2"], "--threshold must be in [0, 1], got 2.0"),
    (["--rule", "mean", "--threshold", "20"], "--threshold must be in (0, 10] with --rule mean"),
    (["--inset", "0.9"], "--inset must be in [0, 0.5)"),
    (["--components", "all", "--min-area", "2"], "--min-area must be in [0, 1), got 2.0"),
    (["--gate", "2"], "--gate must be a probability between 0 and 1, got 2.0"),
    (["--alpha", "3"], "--alpha must be between 0 and 1, got 3.0"),
    (["--colormap", "Jett"], "--colormap must be one of jet, turbo, inferno, viridis, hot, got 'Jett'; did you mean jet?"),
])
def test_a_bad_value_names_its_option_with_its_dashes(data_dir, tmp_path, capsys, flags, says):
    assert main(["image", str(data_dir / "chelsea.png"), "-o", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"camvideo: error: {says}"), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("command", "flags", "says"), [
    ("eval", ["x.json", "--step", "0"], "--step must be in (0, 0.5], got 0.0"),
    ("eval", ["x.json", "--threshold", "-1"], "--threshold must be in [0, 1], got -1.0"),
    ("process", ["x.mp4", "--smooth-strength", "2"], "--smooth-strength must be between 0 and 0.95, got 2.0"),
    ("bench", ["--threads", "0"], "--threads must be at least 1, got 0"),
    ("bench", ["--e2e-frames", "0"], "--e2e-frames must be at least 1, got 0"),
])
def test_other_commands_name_their_options_too(tmp_path, capsys, command, flags, says):
    assert main([command, *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camvideo: error: {says}"]
