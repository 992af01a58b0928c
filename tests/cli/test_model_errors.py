"""Model options and the model's own failures are one line and exit 2: an input size
out of its documented range, memory that runs out while the model is made or runs."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clips import make_clip
from contract import one_line_error

from camvideo.cli import main
from camvideo.cli.options import INPUT_SIZES, memory_errors, out_of_memory
from camvideo.errors import CamvideoError
from camvideo.runtime.loading import memory_error

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("size", ["100000", "2049", "7", "0", "-3"])
def test_input_size_out_of_range_is_one_line(tmp_path, capsys, data_dir, size):
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=2, size=(32, 32))
    assert main(["process", str(clip), "--export", str(tmp_path / "x.jsonl"), "--input-size", size]) == 2
    assert f"--input-size must be between 8 and 2048 pixels, got {size}" in one_line_error(capsys)
    assert main(["image", str(data_dir / "chelsea.png"), "-o", str(tmp_path), "--input-size", size]) == 2
    assert "--input-size must be between 8 and 2048" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]  # nothing written


def test_the_range_is_the_librarys_and_the_help_says_it(capsys):
    from camvideo.models import load_model
    from camvideo.models.registry import INPUT_SIZES as LIBRARY_SIZES

    assert INPUT_SIZES == LIBRARY_SIZES == (8, 2048)
    with pytest.raises(ValueError, match="between 8 and 2048"):
        load_model("lite0", input_size=100000)
    with pytest.raises(SystemExit):
        main(["process", "--help"])
    assert "8..2048" in capsys.readouterr().out


def test_a_real_allocation_failure_becomes_one_line():
    args = argparse.Namespace(model="lite0", device="cpu", input_size=2048)
    import torch

    with pytest.raises(CamvideoError, match=r"not enough memory for lite0 on cpu \(it asked for 1\.0 PiB\); "
                                            r"try a smaller --input-size than 2048"):
        with memory_errors(args):
            torch.empty(1 << 50, dtype=torch.uint8)  # what torch's CPU allocator says when memory runs out
    with pytest.raises(RuntimeError, match="shape"):  # any other error goes on as it is
        with memory_errors(args):
            torch.zeros(2, 3) @ torch.zeros(2, 3)
    assert out_of_memory(MemoryError()) and not out_of_memory(ValueError("out of memory"))
    assert out_of_memory(RuntimeError("could not create a primitive"))  # oneDNN near the limit
    ov = RuntimeError("Exception from src/plugins/intel_cpu/src/node.cpp:823:\n[CPU] Convolution node with name "
                      "'Convolution_7480' can't alloc\n")  # OpenVINO's CPU plugin
    assert out_of_memory(ov)
    assert "(OpenVINO could not allocate a layer's buffer)" in str(memory_error(ov, args))
    ov = RuntimeError("[CPU] Convolution node with name 'Convolution_7942' Check 'ptr' failed at "
                      "src/plugins/intel_cpu/src/cpu_memory.cpp:257:\nFailed to allocate 173015040 bytes of memory\n")
    assert out_of_memory(ov) and "(it asked for 165.0 MiB)" in str(memory_error(ov, args))
    import cv2

    with pytest.raises(CamvideoError, match=r"\(it asked for 61\.9 MiB\); try a smaller --input-size"):
        with memory_errors(args):  # OpenCV's allocator: a frame's resize or blob (cv2.error, not a RuntimeError)
            raise cv2.error("OpenCV(5.1.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate "
                            "64880640 bytes in function 'OutOfMemoryError'")
    with pytest.raises(cv2.error, match="Bad argument"):  # OpenCV's other errors go on as they are
        with memory_errors(args):
            raise cv2.error("OpenCV(5.1.0) resize.cpp:1: error: (-5:Bad argument) size")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status: Linux")
def test_memory_that_runs_out_in_the_model_is_one_line(tmp_path, data_dir):
    """A real run whose address space ends 1 GiB above what torch and camvideo need
    once imported: a photo at 224 fits (lite0, and the photo's lite1 and finer pass),
    at 2048 lite0's activations do not."""
    code = (
        "import resource, sys\n"
        "import torch, camvideo.cli, camvideo.models, camvideo.runtime.localizer, camvideo.annotate\n"
        "vm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmSize:')) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 1024 * 2**20, resource.RLIM_INFINITY))\n"
        "sys.exit(camvideo.cli.main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    runs = {}
    for size in ("224", "2048"):
        args = ["image", str(data_dir / "chelsea.png"), "-o", str(tmp_path / f"{size}.png"), "--device", "cpu",
                "--input-size", size]
        runs[size] = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                    timeout=170)
    assert runs["224"].returncode == 0, runs["224"].stderr
    failed = runs["2048"]
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    # torch's allocator says how much it asked for; oneDNN, when a convolution's workspace fails, does not
    assert last.startswith(("camvideo: error: not enough memory for lite0 on cpu (it asked for ",
                            "camvideo: error: not enough memory for lite0 on cpu (could not create a primitive)",
                            "camvideo: error: not enough memory for lite0 on cpu (OpenVINO could not allocate")), last
    assert last.endswith("try a smaller --input-size than 2048")
    assert not (tmp_path / "2048.png").exists()


@pytest.mark.parametrize("size", ["0", "65", "100000"])
def test_batch_size_out_of_range_is_one_line(tmp_path, capsys, data_dir, size):
    """A batch size past its bound is refused where it enters, before the model loads
    and before anything is written (100000 frames of features would exhaust memory)."""
    clip = tmp_path / "in.mkv"
    make_clip(clip, frames=2, size=(32, 32))
    assert main(["process", str(clip), "--export", str(tmp_path / "x.jsonl"), "--batch-size", size]) == 2
    assert f"--batch-size must be between 1 and 64, got {size}" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]  # nothing written
    if size != "65":  # 65 images in one eval batch are fine
        manifest = data_dir / "manifest.json"
        assert main(["eval", str(manifest), "--out", str(tmp_path / "ev"), "--batch-size", size]) == 2
        assert "--batch-size must be between 1 and 256" in one_line_error(capsys)
        assert not (tmp_path / "ev").exists()


def test_process_help_names_the_batch_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["process", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "1 when some files failed" in out and "130 Ctrl-C" in out
