"""The checks before torch (camvideo.cli.inputs): a missing SOURCE, a folder with nothing to process, a\n--model name that is no model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camvideo.app.catalogue import keep
from camvideo.cli import main
from camvideo.cli.inputs import check_model_name, check_source, kept_model_names
from camvideo.errors import InputError, ModelLoadError

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        check_source(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("name", ["0", "rtsp://host/stream", "frames/*.png"])
def test_cameras_urls_and_patterns_are_left_to_open(name):
    check_source(name, videos=True)


def test_a_folder_with_images_passes(tmp_path):
    (tmp_path / "f.PNG").write_bytes(b"")
    check_source(str(tmp_path), videos=True)


def test_an_empty_folder_for_process_names_images_and_videos(tmp_path):
    with pytest.raises(InputError) as error:
        check_source(str(tmp_path), videos=True)
    text = str(error.value)
    assert "no images (.png" in text and "no videos (.mp4, .mkv" in text and "a folder of videos" in text


def test_an_empty_folder_for_the_window_names_images_only(tmp_path):
    with pytest.raises(InputError) as error:
        check_source(str(tmp_path))
    assert "no images (.png" in str(error.value) and "videos" not in str(error.value)


def test_process_on_an_empty_folder_is_one_line(tmp_path, capsys):
    assert main(["process", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder has no images" in err and "no videos" in err


NAMES = {"lite0", "lite1", "lite2", "resnet18", "resnet50"}


@pytest.mark.parametrize("name", ["resnet18", "torchvision:resnet50", "lite0", "timm:anything", "my.onnx", "m.XML"])
def test_known_names_and_files_pass(name):
    check_model_name(name, NAMES)


def test_an_unknown_name_says_what_it_may_be_a_typo_of():
    with pytest.raises(ModelLoadError, match=r"unknown model 'resnt18' \(did you mean resnet18"):
        check_model_name("resnt18", NAMES)


def test_no_kept_list_leaves_the_name_to_the_load(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kept_model_names() is None
    check_model_name("nosuch")


@pytest.mark.parametrize("argv, words", [
    (["process", "missing.mp4"], "no such file or folder"),
    (["process", "--model", "nosuch", "DEMO"], "unknown model 'nosuch'"),
    (["image", "--model", "nosuch", "DEMO"], "unknown model 'nosuch'"),
    (["gui", "--model", "nosuch"], "unknown model 'nosuch'"),
])
def test_a_typo_is_said_before_torch_is_imported(tmp_path, monkeypatch, argv, words):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    keep([[name, None] for name in sorted(NAMES)])  # the window's kept list of names
    demo = str(ROOT / "camvideo" / "resources" / "demo.mp4")
    code = ("import sys; from camvideo.cli.parser import main; "
            f"rc = main({[demo if a == 'DEMO' else a for a in argv]!r}); print(rc, 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert words in done.stderr and done.stderr.count("\n") == 1
