"""Reading one image file: ``read_image``, the one way camvideo reads a photo or a
frame of a folder of images.

What it checks before decoding, so that a bad file is one ``InputError`` line and
never an allocation of gigabytes, a hang or a C library's line on stderr:

- the path is a regular file (a named pipe would block the read, a device never ends);
- its size from the header (Pillow reads the header alone) is at most
  ``MAX_PIXELS``: a 3 MB PNG can claim 32000 x 32000 pixels, which OpenCV would
  try to hold as 3 GB (and more for the heat map drawn over it);
- a PNG is whole (its chunks' checksums and its end chunk: Pillow's ``verify``),
  and a JPEG's scan data reaches its end marker: libpng and libjpeg print their
  own complaint about a truncated file on stderr, which nothing can silence.

Then OpenCV decodes the bytes already read (``cv2.imdecode``: EXIF orientation
applied, as ``cv2.imread`` does). Formats Pillow does not know go straight to
OpenCV.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np

from camvideo.errors import InputError, not_a_file, reason

MAX_PIXELS = 1 << 27  # 134 megapixels (16384 x 8192): `camvideo image` peaks at 1.9 GB on one (docs/commands.md)
LIKE = "is it a PNG, JPEG, BMP, TIFF or WebP?"


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, or an InputError that says why it cannot be read."""
    path = Path(path)
    data = _read(path)
    _check_header(path, data)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # a size OpenCV refuses, memory it cannot get
        raise InputError(f"{path}: not an image that can be decoded ({reason(exc)})") from None
    if image is None:
        raise InputError(f"{path}: not an image that can be decoded ({LIKE})")
    return image


def _read(path: Path) -> bytes:
    """The file's bytes, if it is a regular file that can be read."""
    try:
        kind = not_a_file(os.stat(path).st_mode)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({reason(exc)})") from None
    if kind == "a folder":
        raise InputError(f"{path}: is a folder, not an image")
    if kind:
        raise InputError(f"{path}: is {kind}, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({reason(exc)})") from None
    if not data:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    return data


def _check_header(path: Path, data: bytes) -> None:
    """Refuse an image too large to decode, or a PNG or JPEG cut short, from its
    header and structure alone (nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:  # over Pillow's own limit (2 x 89 MP), above MAX_PIXELS
            raise InputError(_too_large(path, _png_size(data), _pixels_in(str(exc)))) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return  # not a format Pillow reads (or a damaged header): OpenCV decides
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise InputError(_too_large(path, (width, height), width * height))
        if image.format == "PNG":
            try:
                image.verify()  # every chunk's CRC, up to IEND; no pixel decoded
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise InputError(f"{path}: a damaged or truncated PNG ({reason(exc)})") from None
        elif image.format == "JPEG" and not _jpeg_ends(data):
            raise InputError(f"{path}: a truncated JPEG (its image data ends before the end marker)")


def _too_large(path: Path, size: tuple[int, int] | None, pixels: int | None) -> str:
    what = f"{size[0]} x {size[1]} pixels" if size else "an image"
    what += f" ({pixels / 1e6:.0f} megapixels)" if pixels else " of too many pixels"
    return (f"{path}: {what}, more than camvideo reads ({MAX_PIXELS / 1e6:.0f} megapixels at most, "
            f"e.g. 16384 x 8192); resize it first")


def _pixels_in(text: str) -> int | None:
    """The pixel count in Pillow's DecompressionBombError ("Image size (N pixels) ...")."""
    found = re.search(r"\((\d+) pixels\)", text)
    return int(found.group(1)) if found else None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height from its IHDR chunk (always the first)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _jpeg_ends(data: bytes) -> bool:
    """Does the JPEG's scan data reach an end-of-image marker? The segments before
    the first scan are skipped by their lengths (an EXIF thumbnail's own end marker
    does not count); in scan data a 0xFF byte is always followed by 0x00 or a marker,
    so ``FF D9`` there is the end."""
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return True  # not the layout expected: OpenCV's decoder decides
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xDA:  # start of scan
            return data.find(b"\xff\xd9", pos) >= 0
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False
