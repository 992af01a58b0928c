"""Reading an image file (camvideo/video/images.py): a file too large to decode, cut
short, or not a file at all is one error line and exit 2; no C library's line on
stderr, no traceback, no hang (issue 27: case 11 and the lower list)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from camvideo.cli import main
from camvideo.errors import InputError
from camvideo.video.images import MAX_PIXELS, read_image

pytestmark = pytest.mark.timeout(120)


def flat_png(path: Path, width: int, height: int) -> Path:
    """A real PNG of ``width`` x ``height`` black pixels, 1 bit deep (zlib streams its
    rows: 32000 x 32000 is 124 KB on disk, a 3 GB BGR image once decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def photo(path: Path, **params) -> Path:
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image, list(params.get("flags", ())))
    return path


def cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def error_line(capfd, *args: str) -> str:
    """The one line ``camvideo ARGS`` wrote to stderr, file descriptor 2 included
    (what libpng or libjpeg would print), with exit status 2."""
    assert main(list(args)) == 2
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("camvideo: error: "), err
    return lines[0]


def test_a_3_mb_png_of_32000_x_32000_is_refused_from_its_header(tmp_path, capfd):
    big = flat_png(tmp_path / "big.png", 32000, 32000)
    assert big.stat().st_size < 3_000_000
    line = error_line(capfd, "image", str(big), "-o", str(tmp_path / "o.png"))
    assert line == (f"camvideo: error: {big}: 32000 x 32000 pixels (1024 megapixels), more than camvideo reads "
                    f"(134 megapixels at most, e.g. 16384 x 8192); resize it first")
    assert not (tmp_path / "o.png").exists()


def test_just_over_the_limit_is_refused_with_its_size(tmp_path, capfd):
    over = flat_png(tmp_path / "over.png", 16384, 8193)  # one row more than the limit: under Pillow's own
    assert 16384 * 8193 > MAX_PIXELS >= 16384 * 8192
    line = error_line(capfd, "process", str(over), "--export", str(tmp_path / "o.jsonl"))
    assert f"{over}: 16384 x 8193 pixels (134 megapixels)" in line and "resize it first" in line


@pytest.mark.parametrize("suffix, says", [(".png", "a damaged or truncated PNG"), (".jpg", "a truncated JPEG")])
def test_a_truncated_image_is_one_line_without_the_decoders_own(tmp_path, capfd, suffix, says):
    damaged = cut(photo(tmp_path / f"cut{suffix}"))
    line = error_line(capfd, "image", str(damaged), "-o", str(tmp_path / "o.png"))
    assert line.startswith(f"camvideo: error: {damaged}: {says}"), line


def test_a_truncated_image_in_a_folder_is_skipped_and_named_without_libpng(tmp_path, capfd):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(4):
        photo(folder / f"{i}.png")
    cut(folder / "2.png")
    out = tmp_path / "o.jsonl"
    assert main(["process", str(folder), "--export", str(out), "--no-progress"]) == 0
    assert len(out.read_text().splitlines()) == 3
    err = capfd.readouterr().err
    assert "libpng" not in err and "Read Error" not in err and "Traceback" not in err
    assert f"camvideo: warning: {folder}: 2.png (image 3) could not be decoded" in err


def test_an_end_marker_before_the_scan_does_not_hide_a_cut_jpeg(tmp_path):
    """A comment segment holding FF D9 (as an EXIF thumbnail does) is skipped by its
    length; the scan data's own end marker is what counts."""
    whole = photo(tmp_path / "whole.jpg")
    data = whole.read_bytes()
    comment = b"\xff\xfe" + struct.pack(">H", 6) + b"\xff\xd9\xff\xd9"
    (tmp_path / "c.jpg").write_bytes(data[:2] + comment + data[2:])
    assert read_image(tmp_path / "c.jpg").shape == (120, 160, 3)
    cut(tmp_path / "c.jpg", 0.6)
    with pytest.raises(InputError, match="a truncated JPEG"):
        read_image(tmp_path / "c.jpg")


def test_data_after_the_end_marker_is_still_an_image(tmp_path):
    """A JPEG with a trailer (a motion photo's video, a camera's maker data) reads as before."""
    path = photo(tmp_path / "motion.jpg")
    plain = cv2.imread(str(path))
    path.write_bytes(path.read_bytes() + os.urandom(5000))
    assert np.array_equal(read_image(path), plain)


def test_a_png_reads_as_opencv_reads_it(tmp_path, data_dir):
    for path in (data_dir / "chelsea.png", photo(tmp_path / "p.jpg")):
        assert np.array_equal(read_image(path), cv2.imread(str(path), cv2.IMREAD_COLOR))


def test_a_named_pipe_is_refused_without_opening_it(tmp_path, capfd):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    line = error_line(capfd, "image", str(fifo), "-o", str(tmp_path / "o.png"))
    assert line == f"camvideo: error: {fifo}: is a named pipe (FIFO), not an image file"


@pytest.mark.parametrize("command", ["image", "process"])
def test_dev_urandom_is_a_device_not_an_empty_file(tmp_path, capfd, command):
    output = tmp_path / ("o.png" if command == "image" else "o.mkv")  # a name each command's output takes
    line = error_line(capfd, command, "/dev/urandom", "-o", str(output))
    assert "/dev/urandom: is a character device, not a" in line and "empty" not in line


def test_an_empty_image_says_so(tmp_path):
    (tmp_path / "e.png").touch()
    with pytest.raises(InputError, match=r"e.png: the file is empty \(0 bytes\)"):
        read_image(tmp_path / "e.png")
