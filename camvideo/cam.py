"""One forward pass -> logits and the class activation maps of chosen classes.

For a network ending in GAP and one linear layer, the logit of class c is
``mean_xy(sum_k w_ck f_k(x, y)) + b_c``, so ``M_c = sum_k w_ck f_k`` (the CAM) is
one small matrix product on maps the forward pass already made: no backward pass,
no forward per class. ``mean_xy(M_c) + b_c == logit_c`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .models import GapClassifier


@dataclass(frozen=True, eq=False)
class CamOutput:
    """A batch's results. Shapes: B frames, C classes, k chosen classes, h x w maps."""

    logits: torch.Tensor  # (B, C)
    probs: torch.Tensor  # (B, C) softmax
    class_ids: torch.Tensor  # (B, k) long, best first when chosen by top-k
    scores: torch.Tensor  # (B, k) softmax probabilities of class_ids
    maps: torch.Tensor  # (B, k, h, w) float32 CAMs, without the bias
    method: str = "cam"  # "cam" (exact) or "gradcam" (models whose head is not GAP -> Linear)


def resize_for_model(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` resized to ``width`` x ``height`` with INTER_AREA quality at a
    fraction of its cost.

    INTER_AREA at a non-integer ratio costs ~1.2 ms for 640x480 and ~2.8 ms for
    1280x720 (2 cores); INTER_LINEAR alone costs 0.12 ms but aliases (on
    astronaut.png it swaps the top-1 class). Bilinear to twice the target, then
    INTER_AREA by exactly 2 (a 2x2 box filter, OpenCV's fast path) costs ~0.4 ms
    and keeps the maps within 0.06 of INTER_AREA's, same top-3, box IoU >= 0.98.
    """
    import cv2

    h, w = frame.shape[:2]
    if (h, w) == (height, width):
        return frame
    if w > 2 * width and h > 2 * height:
        frame = cv2.resize(frame, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def preprocess(frames: Sequence[np.ndarray], model: GapClassifier) -> torch.Tensor:
    """BGR uint8 frames (any sizes) -> a normalized float batch on the model's device.

    The whole frame is resized to the model's input size, so the maps cover it all.
    On the CPU, OpenCV's blobFromImages does BGR->RGB, HWC->CHW, scale and shift in
    one pass (one C++ loop: small torch ops spread over OpenMP threads stall when
    the cores are busy). On CUDA, uint8 pixels (a quarter of the bytes) go through
    pinned memory with a non-blocking copy and are normalized on the device.
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
    # NHWC uint8 -> NCHW float; BGR -> RGB by indexing channels; one fused scale+shift.
    x = x.permute(0, 3, 1, 2)[:, [2, 1, 0]]
    mean = torch.tensor(model.preprocessing.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(model.preprocessing.std, device=x.device).view(1, 3, 1, 1)
    return torch.addcmul(-mean / std, x.float(), 1.0 / (255.0 * std))


_BLOB_PARAMS: dict = {}


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


class CamEngine:
    """Runs the model once per batch and projects its class weights on the maps.

    Every tensor operation runs under ``torch.inference_mode()`` in the calling
    thread (grad mode is per thread). Models whose head is not GAP -> Linear
    (``model.method == "gradcam"``) get Grad-CAM instead (``camvideo.gradcam``):
    one forward, one backward through the head per chosen class, under
    ``enable_grad`` and outside ``inference_mode``.
    """

    def __init__(self, model) -> None:
        self.model = model

    @property
    def method(self) -> str:
        return getattr(self.model, "method", "cam")

    def __call__(self, x: torch.Tensor, topk: int = 1, class_ids: Sequence[int] | None = None) -> CamOutput:
        if x.ndim != 4:
            raise ValueError(f"x must be a (B, 3, H, W) batch, got shape {tuple(x.shape)}")
        choose = _chooser(self.model.num_classes, x.shape[0], topk, class_ids)
        if self.method == "gradcam":
            from .gradcam import run_gradcam

            logits, probs, ids, scores, maps = run_gradcam(self.model, x, choose)
            return CamOutput(logits=logits, probs=probs, class_ids=ids, scores=scores, maps=maps, method="gradcam")
        with torch.inference_mode():
            feats = self.model(x)
            logits = self.model.classify(feats).float()
            probs = logits.softmax(dim=1)
            scores, ids = choose(probs)
            maps = class_maps(feats, self.model.weight, ids)
        return CamOutput(logits=logits, probs=probs, class_ids=ids, scores=scores, maps=maps)


def _chooser(num_classes: int, batch: int, topk: int, class_ids: Sequence[int] | None):
    """Checks the request and returns ``probs -> (scores, ids)``: top-k or fixed ids."""
    if class_ids is None:
        if not 1 <= topk <= num_classes:
            raise ValueError(f"topk must be between 1 and {num_classes}, got {topk}")
        return lambda probs: probs.topk(topk, dim=1)
    bad = [c for c in class_ids if not 0 <= int(c) < num_classes]
    if bad or not class_ids:
        raise ValueError(f"class_ids must be non-empty ids in [0, {num_classes}), got {list(class_ids)}")
    fixed = [int(c) for c in class_ids]

    def choose(probs):
        ids = torch.tensor(fixed, device=probs.device).expand(batch, -1)
        return probs.gather(1, ids), ids

    return choose


def class_maps(feats: torch.Tensor, weight: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
    """``M[b, j] = sum_k weight[class_ids[b, j], k] * feats[b, k]``: (B, k, h, w), float32."""
    b, channels, h, w = feats.shape
    # Always in float32, also under fp16/bf16 autocast: a sum of 1280 products
    # loses the map's shape in half precision (a no-op cast for float32 inputs).
    with torch.autocast(device_type=feats.device.type, enabled=False):
        chosen = weight[class_ids].float()  # (B, k, K)
        maps = torch.bmm(chosen, feats.reshape(b, channels, h * w).float())
    return maps.reshape(b, -1, h, w)
