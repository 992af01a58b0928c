"""Array -> QImage, done in the worker so the GUI thread only paints.

A QImage made on a numpy buffer borrows it; ``.copy()`` gives the image its own
memory, so the array may be reused or freed as soon as this returns.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A deep-copied ``Format_BGR888`` QImage of a BGR uint8 HxWx3 array."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a BGR uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}")
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    qimage = QImage(image.data, width, height, image.strides[0], QImage.Format.Format_BGR888)
    return qimage.copy()
