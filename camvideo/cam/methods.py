"""One forward pass -> logits and the class activation maps of chosen classes.

For a network ending in GAP and one linear layer, the logit of class c is
``mean_xy(sum_k w_ck f_k(x, y)) + b_c``, so ``M_c = sum_k w_ck f_k`` (the CAM) is
one small matrix product on maps the forward pass already made: no backward pass,
no forward per class. ``mean_xy(M_c) + b_c == logit_c`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class CamOutput:
    """A batch's results. Shapes: B frames, C classes, k chosen classes, h x w maps."""

    logits: torch.Tensor  # (B, C)
    probs: torch.Tensor  # (B, C) softmax
    class_ids: torch.Tensor  # (B, k) long, best first when chosen by top-k
    scores: torch.Tensor  # (B, k) softmax probabilities of class_ids
    maps: torch.Tensor  # (B, k, h, w) float32 CAMs, without the bias
    method: str = "cam"  # "cam" (exact) or "gradcam" (models whose head is not GAP -> Linear)


class CamEngine:
    """Runs the model once per batch and projects its class weights on the maps.

    Every tensor operation runs under ``torch.inference_mode()`` in the calling
    thread (grad mode is per thread). Models whose head is not GAP -> Linear
    (``model.method == "gradcam"``) get Grad-CAM instead (``camvideo.cam.gradcam``):
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
            from camvideo.cam.gradcam import run_gradcam

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
