"""Labels files (camvideo/models/names.py): one class name a line, from a regular
file; anything else is one error line, never a hang (issue 27's lower list)."""

from __future__ import annotations

import os

import pytest
from contract import one_line_error

from camvideo.classnames import read_labels
from camvideo.cli import main
from camvideo.errors import ModelLoadError

pytestmark = pytest.mark.timeout(60)  # a named pipe read would hang until this


def test_a_labels_file_that_is_a_named_pipe_is_one_line_not_a_hang(tmp_path, capsys, data_dir):
    fifo = tmp_path / "labels.txt"
    os.mkfifo(fifo)
    assert main(["image", str(data_dir / "chelsea.png"), "--labels", str(fifo), "-o", str(tmp_path / "o.png")]) == 2
    line = one_line_error(capsys)
    assert line == f"camvideo: error: labels file {fifo} is a named pipe (FIFO), not a text file (one class name per line)"
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a folder, not a text file"),
    (lambda p: p.write_bytes(b"cat\n\xff\xfe\n"), "is not UTF-8 text"),
    (lambda p: p.write_text("\n  \n"), "has no class names"),
    (lambda p: None, "No such file"),
])
def test_a_labels_file_that_cannot_be_one_says_why(tmp_path, make, says):
    path = tmp_path / "labels.txt"
    make(path)
    with pytest.raises(ModelLoadError, match=says):
        read_labels(path)


def test_class_names_are_read_one_a_line(tmp_path):
    (tmp_path / "labels.txt").write_text(" cat \n\ndog\r\n", encoding="utf-8")
    assert read_labels(tmp_path / "labels.txt") == ["cat", "dog"]


@pytest.mark.parametrize("name, guess", [("resnt18", "resnet18"), ("Resnet50", "resnet50"), ("mobilenetv2", "mobilenet_v2")])
def test_an_unknown_model_name_says_what_it_may_be_a_typo_of(name, guess):
    from camvideo.models.names import unknown_model

    message = str(unknown_model(name))
    assert f"unknown model {name!r} (did you mean {guess}" in message
    assert message.endswith("; `camvideo models` lists every name (timm's as timm:NAME)")
    assert len(message) < 160  # not the ~80 names


def test_a_name_like_no_model_gets_no_guess():
    from camvideo.models.names import unknown_model

    assert "did you mean" not in str(unknown_model("nosuch"))
