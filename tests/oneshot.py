"""One batch through a CAM method at once, for tests: evidence, the chosen classes,
their maps, stacked per batch (the product runs the same three steps frame by frame
in ``FrameLocalizer``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from camvideo.cam.evidence import check_request, choose_classes
from camvideo.settings import LocalizeSettings


@dataclass(frozen=True, eq=False)
class Cams:
    """Shapes: B frames, C classes, k chosen classes, h x w maps."""

    logits: torch.Tensor  # (B, C)
    probs: torch.Tensor  # (B, C) softmax
    class_ids: torch.Tensor  # (B, k) long, best first when chosen by top-k
    scores: torch.Tensor  # (B, k) softmax probabilities of class_ids
    maps: torch.Tensor  # (B, k, h, w) float32 maps, without the bias
    method: str = "cam"


def cams(method, x: torch.Tensor, topk: int = 1, class_ids: Sequence[int] | None = None) -> Cams:
    """Logits, probabilities and the maps of the ``topk`` best classes or of
    ``class_ids`` of a preprocessed (B, 3, H, W) batch ``x``."""
    if x.ndim != 4:
        raise ValueError(f"x must be a (B, 3, H, W) batch, got shape {tuple(x.shape)}")
    if class_ids is not None and not class_ids:
        raise ValueError(f"class_ids must be non-empty ids in [0, {method.model.num_classes}), got []")
    request = LocalizeSettings(topk=topk, class_ids=None if class_ids is None else tuple(class_ids))
    check_request(request, method.model.num_classes)
    found = method.evidence(method.prepare(x), lambda b, probs: choose_classes(probs, request).class_ids)
    chosen = [choose_classes(ev.probs, request) for ev in found]
    with torch.inference_mode():
        maps = torch.stack([method.maps(ev, c.class_ids) for ev, c in zip(found, chosen)])
    device = found[0].probs.device
    return Cams(logits=torch.stack([ev.logits for ev in found]), probs=torch.stack([ev.probs for ev in found]),
                class_ids=torch.tensor([c.class_ids for c in chosen], device=device),
                scores=torch.tensor([c.scores for c in chosen], device=device), maps=maps, method=method.name)
