"""Grad-CAM for classifiers whose head is not GAP -> one Linear.

Selvaraju et al. (ICCV 2017): the map of class c on a layer's maps ``A_k`` is
``sum_k alpha_ck A_k`` with ``alpha_ck = mean_xy d logit_c / d A_k(x, y)``. For a
GAP -> Linear head, ``d logit_c / d A_k(x, y) = w_ck / (h w)``, so Grad-CAM is the
CAM divided by ``h w``: the same map up to a positive scale (tested). The ReLU of
the paper is left out so that both methods give the same kind of map (the
pipeline min-max normalizes either).

Cost: one forward pass (only the ops after the chosen layer record a graph: the
parameters are frozen and the layer's output is the only tensor that requires
grad), then one backward *through the head only* per chosen class (top-k: k small
backward passes on the same graph, ``retain_graph`` between them). It runs under
``torch.enable_grad()`` and leaves ``inference_mode`` for its duration, so it
works from a worker thread that runs everything else under ``inference_mode``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from camvideo.models import GradCamClassifier


def gradcam_maps(feats: torch.Tensor, logits: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
    """(B, k, h, w) float32 Grad-CAM maps of ``class_ids`` (B, k) on ``feats``.

    ``feats`` must be the grad-requiring leaf that ``logits`` were computed from.
    One backward per column of ``class_ids``: row b's gradient comes from frame b's
    logit only (the head treats frames independently in eval mode).
    """
    k = class_ids.shape[1]
    maps = []
    for j in range(k):
        selected = logits.gather(1, class_ids[:, j : j + 1]).sum()
        (grad,) = torch.autograd.grad(selected, feats, retain_graph=j < k - 1)
        alpha = grad.mean(dim=(2, 3))  # (B, K)
        maps.append(torch.einsum("bk,bkhw->bhw", alpha, feats.detach()))
    return torch.stack(maps, dim=1).float()


def run_gradcam(
    model: GradCamClassifier,
    x: torch.Tensor,
    choose,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward of ``model`` on ``x`` -> (logits, probs, ids, scores, maps).

    ``choose(probs) -> (scores, ids)`` picks the classes (top-k or fixed ids).
    """
    with torch.inference_mode(False), torch.enable_grad():
        if x.is_inference():  # made under inference_mode: autograd needs a normal tensor
            x = x.clone()
        feats, logits = model(x)
        if not feats.requires_grad:
            raise RuntimeError("Grad-CAM: the model's maps do not require grad (was it built by load_model?)")
        with torch.no_grad():
            probs = logits.detach().float().softmax(dim=1)
            scores, ids = choose(probs)
        maps = gradcam_maps(feats, logits, ids)
    return logits.detach().float(), probs, ids, scores, maps


def gradcam_on_layer(model: GradCamClassifier, x: torch.Tensor, class_ids: Sequence[int]) -> torch.Tensor:
    """Grad-CAM maps (B, len(class_ids), h, w) of fixed classes: a convenience for tests."""
    def choose(probs):
        ids = torch.tensor([int(c) for c in class_ids], device=probs.device).expand(probs.shape[0], -1)
        return probs.gather(1, ids), ids

    return run_gradcam(model, x, choose)[4]
