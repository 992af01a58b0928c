"""Where frames come from. (Images for now; cameras, files and streams follow.)"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, or an InputError that says why it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not an image that can be decoded (is it a PNG, JPEG, BMP, TIFF or WebP?)")
    return image
