"""The command line builds its parser without torch (every command, ``--help``,
and the window's start pay for it otherwise: 1.5 s on two cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camvideo import cli

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_parser_imports_no_torch():
    code = ("import sys; from camvideo.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_parser_defaults_to_the_models_default():
    from camvideo import models

    assert cli.options.DEFAULT_MODEL is models.DEFAULT_MODEL
    assert cli.build_parser().parse_args(["process", "clip.mp4"]).model == models.DEFAULT_MODEL
    assert cli.build_parser().parse_args(["gui"]).model is None  # the window's remembered model


def test_help_still_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in cli.parser.SUBCOMMANDS)


# What a skip-only rerun must not load: torch is the workers' alone; the media
# libraries (numpy, PyAV, OpenCV, Pillow), the progress bar, the dataset's pyarrow and
# the object store's fsspec are for files that run, a bar that draws, a --dataset and a
# bucket: ~0.4 s of a rerun's ~0.8 s on two cores before they went (docs/batch.md).
HEAVY = ("torch", "torchvision", "timm", "numpy", "av", "cv2", "PIL", "tqdm", "pyarrow", "fsspec", "s3fs")


def test_a_batch_driver_never_imports_torch_and_a_rerun_no_media_library(tmp_path):
    """The driver of a batch plans, hands files to worker processes and writes the
    summary: torch (~0.5 GB and ~1.5 s) is the workers' alone. A rerun that only skips
    finished files decides from the summary and the outputs' sizes, so it loads none
    of HEAVY either and costs a fraction of a second."""
    from clips import make_clip

    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mp4", frames=3, size=(64, 48))
    code = ("import sys, atexit\n"
            f"atexit.register(lambda: print(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
            "from camvideo.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    loaded = []
    for _ in range(2):  # the run, then the rerun that skips
        out = subprocess.run([sys.executable, "-c", code, "process", str(folder), "--output-dir", str(tmp_path / "out"),
                              "--workers", "1", "--no-progress"], env=env, capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stderr
        loaded.append(out.stdout.strip().splitlines()[-1])
    assert "skipped" in out.stdout
    assert "torch" not in loaded[0], loaded[0]
    assert loaded[1] == "[]", loaded[1]
