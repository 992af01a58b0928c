"""CAM methods as classes: one forward pass -> logits and the maps of chosen classes.

``CamMethod`` is the template: ``method(x, topk=k)`` or ``method(x,
class_ids=[...])`` checks the request once (one chooser for both methods) and
returns a ``CamOutput``; each subclass says what it can do:

- ``smoothable``: its maps are linear in features that can be averaged across
  frames (``TemporalSmoother``), so it also offers ``evidence`` (features and
  probabilities, no class chosen yet) and ``maps`` (the maps of classes chosen
  later, from smoothed features);
- ``parallel``: several forward passes may run at once on one model
  (``camvideo.runtime.workers.ForwardPool``).

``ExactCam`` (a network ending in GAP and one linear layer): the logit of class c
is ``mean_xy(sum_k w_ck f_k(x, y)) + b_c``, so ``M_c = sum_k w_ck f_k`` (the CAM)
is one small matrix product on maps the forward pass already made: no backward
pass, no forward per class, ``mean_xy(M_c) + b_c == logit_c`` exactly. Its
forward pass (image batch -> maps) is a replaceable part, a ``Forward``
(``camvideo.cam.forward``): eager torch by default, another runtime by choice.

``GradCam`` (any other head), Selvaraju et al. (ICCV 2017): the map of class c on
a layer's maps ``A_k`` is ``sum_k alpha_ck A_k`` with ``alpha_ck = mean_xy d
logit_c / d A_k(x, y)``. For a GAP -> Linear head ``d logit_c / d A_k(x, y) = w_ck
/ (h w)``, so Grad-CAM is the CAM divided by ``h w``: the same map up to a
positive scale (tested). The paper's ReLU is left out so that both methods give
the same kind of map (the pipeline min-max normalizes either). Cost: one forward
pass (only the ops after the chosen layer record a graph: the parameters are
frozen and the layer's output is the only tensor that requires grad), then one
backward *through the head only* per chosen class (``retain_graph`` between
them), under ``torch.enable_grad()`` and outside ``inference_mode``, so it works
from a worker thread that runs everything else under ``inference_mode``.

``cam_method(model)`` picks the class for a model (the one place that asks).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import torch

from camvideo.cam.forward import Forward, TorchForward
from camvideo.models import GapClassifier, GradCamClassifier

Chooser = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # probs -> (scores, ids)


@dataclass(frozen=True, eq=False)
class CamOutput:
    """A batch's results. Shapes: B frames, C classes, k chosen classes, h x w maps.

    ``evidence`` leaves the choice to a smoother: it keeps ``features`` and no
    class is chosen yet (``class_ids``, ``scores`` and ``maps`` are None); a
    method's call chooses, and ``features`` is None."""

    logits: torch.Tensor  # (B, C)
    probs: torch.Tensor  # (B, C) softmax
    class_ids: torch.Tensor | None  # (B, k) long, best first when chosen by top-k
    scores: torch.Tensor | None  # (B, k) softmax probabilities of class_ids
    maps: torch.Tensor | None  # (B, k, h, w) float32 CAMs, without the bias
    method: str = "cam"  # the method's name: "cam" (exact) or "gradcam"; the JSON field
    features: torch.Tensor | None = None  # (B, K, h, w) float32, from ``evidence``

    def host(self) -> CamOutput:
        """The chosen classes, their scores and maps on the CPU (itself when they are
        there, or not chosen): on a GPU, the copy and the wait for the forward pass
        happen in the thread that calls this (features stay on the device, for a
        smoother)."""
        if self.maps is None or self.maps.device.type == "cpu":
            return self
        return replace(self, class_ids=self.class_ids.cpu(), scores=self.scores.cpu(), maps=self.maps.cpu())


class CamMethod(ABC):
    """Maps of chosen classes from a batch; what the method can do as class flags.

    ``autocast``: the dtype the forward pass runs in (None: the model's own); class
    maps are always summed in float32. Every tensor operation runs in the calling
    thread (grad mode and inference mode are per thread).
    """

    name: ClassVar[str]  # FrameResult.method, and "method" in a detection's JSON when not "cam"
    smoothable: ClassVar[bool] = False
    parallel: ClassVar[bool] = False

    def __init__(self, model, *, autocast: torch.dtype | None = None) -> None:
        self.model = model
        self.autocast = autocast

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed batch in the layout the forward pass wants (timed with
        preprocessing)."""
        return x

    def autocast_context(self):
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.model.device.type, dtype=self.autocast)

    def __call__(self, x: torch.Tensor, topk: int = 1, class_ids: Sequence[int] | None = None) -> CamOutput:
        """Logits, probabilities and the maps of the ``topk`` best classes or of ``class_ids``."""
        if x.ndim != 4:
            raise ValueError(f"x must be a (B, 3, H, W) batch, got shape {tuple(x.shape)}")
        return self._cams(x, class_chooser(self.model.num_classes, x.shape[0], topk, class_ids))

    @abstractmethod
    def _cams(self, x: torch.Tensor, choose: Chooser) -> CamOutput:
        """The method itself: one forward pass, ``choose(probs)``, the chosen maps."""

    def evidence(self, x: torch.Tensor) -> CamOutput:
        """Smoothable methods: logits, probabilities and features; no class chosen."""
        raise TypeError(f"{type(self).__name__} maps cannot be smoothed (smoothable is False)")

    def maps(self, features: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        """Smoothable methods: (B, k, h, w) float32 maps of ``class_ids`` (B, k) from
        ``features`` (in the caller's grad mode: call it under ``inference_mode``)."""
        raise TypeError(f"{type(self).__name__} maps cannot be made from features (smoothable is False)")


class ExactCam(CamMethod):
    """Exact CAM of a GAP -> Linear model: the class weights projected on the maps
    that ``forward`` (eager torch unless given) makes."""

    name = "cam"
    smoothable = True  # a CAM is linear in the features: their average is every map's average
    parallel = True

    def __init__(self, model: GapClassifier, forward: Forward | None = None, *,
                 autocast: torch.dtype | None = None) -> None:
        super().__init__(model, autocast=autocast)
        self.forward = forward if forward is not None else TorchForward(model)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward.prepare(x)

    def _cams(self, x: torch.Tensor, choose: Chooser) -> CamOutput:
        with self.autocast_context(), torch.inference_mode():
            feats = self.forward(x)
            logits = self.model.classify(feats).float()
            probs = logits.softmax(dim=1)
            scores, ids = choose(probs)
            maps = class_maps(feats, self.model.weight, ids)
        return CamOutput(logits=logits, probs=probs, class_ids=ids, scores=scores, maps=maps)

    def evidence(self, x: torch.Tensor) -> CamOutput:
        with self.autocast_context(), torch.inference_mode():
            feats = self.forward(x).float()
            logits = self.model.classify(feats).float()
            probs = logits.softmax(dim=1)
        return CamOutput(logits, probs, None, None, None, features=feats)

    def maps(self, features: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        return class_maps(features, self.model.weight, class_ids)


class GradCam(CamMethod):
    """Grad-CAM of a ``GradCamClassifier``: one forward, one backward through the
    head per chosen class. Not smoothable (a Grad-CAM map is not linear in the
    features) and not parallel (one backward graph at a time on the model)."""

    name = "gradcam"

    def __init__(self, model: GradCamClassifier, *, channels_last: bool = False,
                 autocast: torch.dtype | None = None) -> None:
        super().__init__(model, autocast=autocast)
        self.channels_last = channels_last
        if channels_last:
            model.to(memory_format=torch.channels_last)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _cams(self, x: torch.Tensor, choose: Chooser) -> CamOutput:
        with self.autocast_context(), torch.inference_mode(False), torch.enable_grad():
            if x.is_inference():  # made under inference_mode: autograd needs a normal tensor
                x = x.clone()
            feats, logits = self.model(x)
            if not feats.requires_grad:
                raise RuntimeError("Grad-CAM: the model's maps do not require grad (was it built by load_model?)")
            with torch.no_grad():
                probs = logits.detach().float().softmax(dim=1)
                scores, ids = choose(probs)
            maps = gradcam_maps(feats, logits, ids)
        return CamOutput(logits.detach().float(), probs, ids, scores, maps, method=self.name)


def method_class(model) -> type[CamMethod]:
    """The CAM method a model gets: Grad-CAM for a ``GradCamClassifier`` (its head is
    not GAP -> Linear), exact CAM for any other (a ``GapClassifier``)."""
    return GradCam if isinstance(model, GradCamClassifier) else ExactCam


def cam_method(model, *, forward: Forward | None = None, channels_last: bool = False, fold: bool = False,
               autocast: torch.dtype | None = None, compile: bool = False) -> CamMethod:
    """The model's CAM method, ready to run. ``forward``: exact CAM's forward pass
    (default: ``TorchForward`` with ``channels_last``, ``fold`` and ``compile``).
    Grad-CAM takes no ``forward``, folds nothing and is not compiled."""
    if method_class(model) is GradCam:
        if forward is not None:
            raise ValueError("forward: Grad-CAM needs torch's backward pass; only exact-CAM models take a forward")
        if compile:
            raise ValueError("compile: torch.compile is for exact-CAM models (Grad-CAM runs a backward pass)")
        return GradCam(model, channels_last=channels_last, autocast=autocast)
    if forward is None:
        forward = TorchForward(model, channels_last=channels_last, fold=fold, compile=compile)
    return ExactCam(model, forward, autocast=autocast)


def class_chooser(num_classes: int, batch: int, topk: int = 1, class_ids: Sequence[int] | None = None) -> Chooser:
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
