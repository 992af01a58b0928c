"""BGR frames -> the model's normalized input batch, on the model's device.

The whole frame is resized to the model's input size (the maps then cover the
whole frame, and a box maps back by one scale per axis). ``preprocess`` makes the
normalized float batch (what torch runs); ``pixels`` stops after the resize, a
(B, H, W, 3) uint8 batch of BGR pixels, for a forward pass whose graph does the
rest (OpenVINO's: ``camvideo.runtime.ovbuild.with_pixels``); ``from_pixels`` turns
such a batch into ``preprocess``'s, the same numbers.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Sequence

import numpy as np
import torch

from camvideo.models import GapClassifier

_BLOB_PARAMS: dict = {}


def resize_for_model(frame: np.ndarray, width: int, height: int, out: np.ndarray | None = None) -> np.ndarray:
    """``frame`` resized to ``width`` x ``height`` with INTER_AREA quality at a
    fraction of its cost (into ``out``, a (height, width, channels) array of the
    frame's type, when given: the same pixels).

    INTER_AREA at a non-integer ratio costs ~1.2 ms for 640x480 and ~2.8 ms for
    1280x720 (2 cores); INTER_LINEAR alone costs 0.12 ms but aliases (on
    astronaut.png it swaps the top-1 class). Bilinear to twice the target, then
    INTER_AREA by exactly 2 (a 2x2 box filter, OpenCV's fast path) costs ~0.4 ms
    and keeps the maps within 0.06 of INTER_AREA's, same top-3, box IoU >= 0.98.
    """
    import cv2

    h, w = frame.shape[:2]
    if (h, w) == (height, width):
        if out is None:
            return frame
        out[...] = frame
        return out
    if w > 2 * width and h > 2 * height:
        frame = cv2.resize(frame, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    if out is None:
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, (width, height), dst=out, interpolation=cv2.INTER_AREA)


def preprocess(frames: Sequence[np.ndarray], model: GapClassifier) -> torch.Tensor:
    """BGR uint8 frames (any sizes) -> a normalized float batch on the model's device.

    The whole frame is resized to the model's input size, so the maps cover it all.
    On the CPU, OpenCV's blobFromImages does BGR->RGB, HWC->CHW, scale and shift in
    one pass (one C++ loop: small torch ops spread over OpenMP threads stall when
    the cores are busy). On CUDA, uint8 pixels (a quarter of the bytes) go through
    pinned memory with a non-blocking copy and are normalized on the device (on
    MPS: a plain copy, then the same).
    """
    height, width = model.preprocessing.size
    resized = [resize_for_model(f, width, height) for f in frames]
    device = model.device
    if device.type == "cpu":
        blob = _blob(resized, model.preprocessing)
        if blob is not None:
            return torch.from_numpy(blob)
    x = torch.from_numpy(np.stack(resized))
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":  # MPS: uint8 pixels to the device, normalized there
        x = x.to(device)
    # NHWC uint8 -> NCHW float; BGR -> RGB by indexing channels; one fused scale+shift.
    x = x.permute(0, 3, 1, 2)[:, [2, 1, 0]]
    mean = torch.tensor(model.preprocessing.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(model.preprocessing.std, device=x.device).view(1, 3, 1, 1)
    return torch.addcmul(-mean / std, x.float(), 1.0 / (255.0 * std))


def pixels(frames: Sequence[np.ndarray], model: GapClassifier) -> torch.Tensor:
    """BGR uint8 frames (any sizes) -> a (B, H, W, 3) uint8 batch of their pixels
    resized to the model's input size (``resize_for_model``, as ``preprocess``), on
    the CPU: no copy for a batch of one frame, each frame of a larger one resized
    straight into its place in the batch."""
    for f in frames:
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise ValueError(f"frames must be BGR uint8 pixels (height, width, 3), got {f.dtype} {tuple(f.shape)}")
    height, width = model.preprocessing.size
    if len(frames) == 1:
        return torch.from_numpy(np.ascontiguousarray(resize_for_model(frames[0], width, height)[None]))
    batch = np.empty((len(frames), height, width, 3), np.uint8)  # each frame resized into its place: no stack
    for f, place in zip(frames, batch):
        resize_for_model(f, width, height, place)
    return torch.from_numpy(batch)


def is_pixels(x: torch.Tensor) -> bool:
    """Whether ``x`` is a ``pixels`` batch (uint8 NHWC), not ``preprocess``'s."""
    return x.dtype == torch.uint8


def from_pixels(x: torch.Tensor, model: GapClassifier) -> torch.Tensor:
    """A ``pixels`` batch as ``preprocess`` would have made it from the same frames
    (the resize is done: the same numbers), on the model's device."""
    return preprocess(list(x.numpy()), at_size(model, (int(x.shape[1]), int(x.shape[2]))))


def at_size(model: GapClassifier, size: tuple[int, int]):
    """What ``preprocess`` and ``pixels`` take for ``model``'s input at ``size``
    (height, width): its ``preprocessing`` at that size and its ``device``;
    ``model`` itself at its own size."""
    size = (int(size[0]), int(size[1]))
    if tuple(model.preprocessing.size) == size:
        return model
    return types.SimpleNamespace(preprocessing=dataclasses.replace(model.preprocessing, size=size),
                                 device=model.device)


def mirrored(x: torch.Tensor) -> torch.Tensor:
    """The batch followed by its frames mirrored left to right (either kind of batch)."""
    return torch.cat([x, x.flip(2 if is_pixels(x) else 3)])


def _blob(images: list[np.ndarray], prep) -> np.ndarray | None:
    """NCHW float32 RGB ``(x / 255 - mean) / std`` in one OpenCV pass, or None when
    this OpenCV has no ``blobFromImagesWithParams`` (then torch does it)."""
    import cv2

    key = (prep.size, prep.mean, prep.std)
    params = _BLOB_PARAMS.get(key)
    if params is None:
        dnn = getattr(cv2, "dnn", None)
        if dnn is None or not hasattr(dnn, "Image2BlobParams") or not hasattr(dnn, "blobFromImagesWithParams"):
            return None
        height, width = prep.size
        scale = tuple(1.0 / (255.0 * s) for s in prep.std)  # RGB order, after swapRB
        mean = tuple(255.0 * m for m in prep.mean)
        params = _BLOB_PARAMS[key] = dnn.Image2BlobParams(scale, (width, height), mean, True)
    return cv2.dnn.blobFromImagesWithParams(images, params)

