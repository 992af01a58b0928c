"""The checks before torch (camvideo.cli.inputs): a missing SOURCE, a folder with nothing to process."""

from __future__ import annotations

import pytest

from camvideo.cli import main
from camvideo.cli.inputs import check_source
from camvideo.errors import InputError


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
