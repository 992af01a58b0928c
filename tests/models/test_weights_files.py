"""A weights file or checkpoint that is not one says what is wrong with it, on one
line: a text file (not "list index out of range"), a folder, an empty file, a
named pipe (read without a hang), a truncated .pth (zip or legacy format), a .safetensors that is not one, a TorchScript archive."""

from __future__ import annotations

import os

import pytest
import torch

from camvideo.cli import main


def _state() -> dict[str, torch.Tensor]:
    return {"fc.weight": torch.zeros(4, 3), "fc.bias": torch.zeros(4)}


def _truncated(path, legacy: bool = False):
    kwargs = {"_use_new_zipfile_serialization": False} if legacy else {}
    torch.save(_state(), path, **kwargs)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


KINDS = {
    "text": (lambda p: (p.write_text("root:x:0:0:root:/root:/bin/bash\n"), p)[1], "it is a text file"),
    "folder": (lambda p: (p.mkdir(), p)[1], "it is a folder, not a file"),
    "empty": (lambda p: (p.touch(), p)[1], "it is empty"),
    "named pipe": (lambda p: (os.mkfifo(p), p)[1], "it is a named pipe (FIFO), not a file"),  # opening it would hang
    "truncated": (lambda p: _truncated(p), "it is truncated or damaged"),
    "truncated legacy": (lambda p: _truncated(p, legacy=True), "cannot read"),
    "noise": (lambda p: (p.write_bytes(b"\x01" + os.urandom(2999)), p)[1], "not one written by torch.save"),
    "torchscript": (lambda p: (torch.jit.script(torch.nn.Linear(3, 4)).save(str(p)), p)[1],
                    "is a TorchScript archive (torch.jit.save), which camvideo does not load: export the model to "
                    "ONNX (torch.onnx.export) and pass that with --model FILE.onnx"),
    "not safetensors": (lambda p: (p.with_suffix(".safetensors").write_bytes(b"garbage"), p.with_suffix(".safetensors"))[1],
                        "it is not a safetensors file"),
}


def _error(capsys, *args) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("camvideo: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_file_that_is_not_weights_says_what_it_is(tmp_path, capsys, data_dir, kind):
    make, message = KINDS[kind]
    path = make(tmp_path / "weights.pth")
    image = str(data_dir / "chelsea.png")
    line = _error(capsys, "image", image, "-o", str(tmp_path / "o.png"), "--weights", str(path))
    assert f"weights file {path}" in line and message in line, line
    assert "list index out of range" not in line and "EOFError" not in line
    line = _error(capsys, "image", image, "-o", str(tmp_path / "o.png"), "--checkpoint", str(path),
                  "--labels", str(data_dir / "SOURCES.md"))
    assert f"checkpoint {path}" in line and message in line, line


def test_etc_passwd_as_weights(capsys, data_dir, tmp_path):
    if not os.path.isfile("/etc/passwd"):
        pytest.skip("no /etc/passwd here")
    line = _error(capsys, "image", str(data_dir / "chelsea.png"), "-o", str(tmp_path / "o.png"), "--weights",
                  "/etc/passwd")
    assert line == ("camvideo: error: cannot read weights file /etc/passwd: it is a text file, "
                    "not one written by torch.save or a .safetensors file")
