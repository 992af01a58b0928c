"""CAM methods as classes: a batch -> each frame's ``Evidence``; evidence -> maps.

A ``CamMethod`` implements two things: ``evidence(x)`` (one forward pass: per frame
the probabilities and the last maps' features, ``camvideo.cam.evidence.Evidence``)
and ``maps(evidence, class_ids)`` (the maps of classes chosen later, by
``choose_classes``, possibly from evidence averaged across frames). Class flags say
what else it allows:

- ``smoothable``: its maps are linear in the features, so averaging the features
  across frames (``TemporalState``) averages every map at once;
- ``parallel``: several forward passes may run at once on one model
  (``camvideo.runtime.workers.ForwardPool``);
- ``other_runtimes``: its forward pass is a ``Forward`` (``method.forward``) that
  another runtime (OpenVINO) may replace.

``ExactCam`` (a network ending in GAP and one linear layer): the logit of class c
is ``mean_xy(sum_k w_ck f_k(x, y)) + b_c``, so ``M_c = sum_k w_ck f_k`` (the CAM)
is one small matrix product on maps the forward pass already made: no backward
pass, no forward per class, ``mean_xy(M_c) + b_c == logit_c`` exactly. Its
forward pass (image batch -> maps) is a replaceable part, a ``Forward``
(``camvideo.cam.forward``): eager torch by default, another runtime by choice.

``GradCam`` (any other head), Selvaraju et al. (ICCV 2017): the map of class c on
a layer's maps ``A_k`` is ``sum_k alpha_ck A_k`` with ``alpha_ck = mean_xy d
logit_c / d A_k(x, y)``: a CAM whose class weights are the frame's own gradients.
``evidence`` therefore needs the classes at the pass (``choose``) and keeps their
``alpha`` as ``Evidence.weights``; ``maps`` projects them as exact CAM projects the
model's weights. For a GAP -> Linear head ``alpha_ck = w_ck / (h w)``: the same map
up to a positive scale (tested). The paper's ReLU is left out so that both methods
give the same kind of map (the pipeline min-max normalizes either). Cost: one
forward pass (only the ops after the chosen layer record a graph), then one
backward *through the head only* per chosen class, under ``torch.enable_grad()``
and outside ``inference_mode``, so it works from a worker thread that runs
everything else under ``inference_mode``.

``cam_method(model)`` picks the class for a model (the one place that asks).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import torch

from camvideo.cam.evidence import Evidence
from camvideo.cam.forward import Forward, TorchForward
from camvideo.cam.preprocess import mirrored, preprocess
from camvideo.models import GapClassifier, GradCamClassifier

Chooser = Callable[[int, torch.Tensor], Sequence[int]]  # (frame in the batch, its probs (C,)) -> class ids


class CamMethod(ABC):
    """A batch's evidence and the maps of chosen classes; what the method allows as
    class flags.

    ``autocast``: the dtype the forward pass runs in (None: the model's own); class
    maps are always summed in float32. Every tensor operation runs in the calling
    thread (grad mode and inference mode are per thread).
    """

    name: ClassVar[str]  # FrameResult.method, and "method" in a detection's JSON when not "cam"
    smoothable: ClassVar[bool] = False
    parallel: ClassVar[bool] = False
    other_runtimes: ClassVar[bool] = False  # its forward pass is a ``Forward`` that another runtime may replace
    forward: Forward | None = None  # that forward pass (None: the model's own torch pass, not replaceable)

    def __init__(self, model, *, autocast: torch.dtype | None = None) -> None:
        self.model = model
        self.autocast = autocast

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed batch in the layout the forward pass wants (timed with
        preprocessing)."""
        return x

    def prepare_frames(self, frames: Sequence[np.ndarray], model) -> torch.Tensor:
        """The batch ``evidence`` takes, from BGR frames at ``model.preprocessing.size``
        (``model``: what ``camvideo.cam.preprocess.preprocess`` takes)."""
        return self.prepare(preprocess(frames, model))

    def autocast_context(self):
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.model.device.type, dtype=self.autocast)

    @abstractmethod
    def evidence(self, x: torch.Tensor, choose: Chooser | None = None, flip: bool = False) -> list[Evidence]:
        """One forward pass of a prepared (B, 3, H, W) batch: each frame's evidence.
        ``choose``: the classes of each frame whose maps the evidence must allow
        (a method with per-frame weights needs them now). ``flip``: the frame's and
        its mirror image's features averaged (the mirror's flipped back)."""

    @abstractmethod
    def maps(self, evidence: Evidence, class_ids: Sequence[int]) -> torch.Tensor:
        """(k, h, w) float32 maps of ``class_ids`` from one frame's ``evidence``."""

    def array_maps(self, evidence: Evidence, class_ids: Sequence[int]) -> np.ndarray:
        """``maps`` as a (k, h, w) float32 NumPy array (on the CPU)."""
        return self.maps(evidence, class_ids).cpu().numpy()


class ExactCam(CamMethod):
    """Exact CAM of a GAP -> Linear model: the class weights projected on the maps
    that ``forward`` (eager torch unless given) makes."""

    name = "cam"
    smoothable = True  # a CAM is linear in the features: their average is every map's average
    parallel = True
    other_runtimes = True

    def __init__(self, model: GapClassifier, forward: Forward | None = None, *,
                 autocast: torch.dtype | None = None) -> None:
        super().__init__(model, autocast=autocast)
        self.forward = forward if forward is not None else TorchForward(model)
        # The class weights and their NumPy array (shared memory), one tuple: read whole by any thread.
        self._weights: tuple[torch.Tensor, np.ndarray] | None = None

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward.prepare(x)

    def prepare_frames(self, frames: Sequence[np.ndarray], model) -> torch.Tensor:
        return self.forward.prepare_frames(frames, model)

    def evidence(self, x: torch.Tensor, choose: Chooser | None = None, flip: bool = False) -> list[Evidence]:
        both = getattr(self.forward, "features_and_logits", None)  # a forward pass that runs the head too
        with self.autocast_context(), torch.inference_mode():
            if flip:
                x = mirrored(x)
            feats, logits = both(x) if both is not None else (self.forward(x), None)
            if feats.dtype is not torch.float32:
                feats = feats.float()
            if flip:
                n = len(x) // 2
                feats = (feats[:n] + feats[n:].flip(3)) * 0.5
                if logits is not None:  # pooling and the linear layer are linear: the mean of the logits
                    logits = (logits[:n] + logits[n:]) * 0.5
            if logits is None:
                logits = self.model.classify(feats)
            if logits.dtype is not torch.float32:
                logits = logits.float()
            probs = logits.softmax(dim=1)
        # One view of each frame's rows (unbind: one call a tensor, not one a frame).
        return [Evidence(probs=p, logits=v, features=f) for p, v, f in zip(probs.unbind(), logits.unbind(),
                                                                            feats.unbind())]

    def maps(self, evidence: Evidence, class_ids: Sequence[int]) -> torch.Tensor:
        small = self._small_maps(evidence, class_ids)
        if small is not None:
            return torch.from_numpy(small)
        ids = torch.tensor([[int(c) for c in class_ids]], device=evidence.features.device)
        return class_maps(evidence.features[None], self.model.weight, ids)[0]

    def array_maps(self, evidence: Evidence, class_ids: Sequence[int]) -> np.ndarray:
        small = self._small_maps(evidence, class_ids)
        return small if small is not None else super().array_maps(evidence, class_ids)

    def _small_maps(self, evidence: Evidence, class_ids: Sequence[int]) -> np.ndarray | None:
        """The maps in NumPy (``cpu_class_maps``) when the features and the class weights
        are float32 on the CPU and the product is ``SMALL``; None otherwise."""
        feats, weight = evidence.features, self.model.weight
        if (feats.dtype is not torch.float32 or weight.dtype is not torch.float32 or not feats.is_cpu
                or not weight.is_cpu or len(class_ids) * feats.numel() > SMALL):
            return None
        kept = self._weights
        if kept is None or kept[0] is not weight:  # the weights' array, made once a weights tensor
            kept = self._weights = weight, weight.detach().numpy()
        return cpu_class_maps(feats.numpy(), kept[1], class_ids)


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

    def evidence(self, x: torch.Tensor, choose: Chooser | None = None, flip: bool = False) -> list[Evidence]:
        if flip:
            raise ValueError("flip: mirror averaging is for exact-CAM models (a Grad-CAM map is not linear in the features)")
        if choose is None:
            raise ValueError("Grad-CAM needs the classes at the pass: give choose")
        with self.autocast_context(), torch.inference_mode(False), torch.enable_grad():
            if x.is_inference():  # made under inference_mode: autograd needs a normal tensor
                x = x.clone()
            feats, logits = self.model(x)
            if not feats.requires_grad:
                raise RuntimeError("Grad-CAM: the model's maps do not require grad (was it built by load_model?)")
            with torch.no_grad():
                probs = logits.detach().float().softmax(dim=1)
            ids = torch.tensor([list(choose(b, probs[b])) for b in range(len(probs))], device=probs.device)
            alphas = gradcam_weights(feats, logits, ids)
        logits, feats = logits.detach().float(), feats.detach().float()
        return [Evidence(probs=probs[b], logits=logits[b], features=feats[b],
                         weights={int(c): alphas[b, j] for j, c in enumerate(ids[b].tolist())})
                for b in range(len(probs))]

    def maps(self, evidence: Evidence, class_ids: Sequence[int]) -> torch.Tensor:
        if not evidence.covers(class_ids):
            raise ValueError(f"Grad-CAM: this pass kept the gradients of classes {sorted(evidence.weights)}, "
                             f"not of {list(class_ids)}: run the pass again for them")
        weights = torch.stack([evidence.weights[int(c)] for c in class_ids])  # (k, K)
        feats = evidence.features
        return (weights @ feats.reshape(feats.shape[0], -1)).reshape(len(weights), *feats.shape[1:]).float()


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


def class_maps(feats: torch.Tensor, weight: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
    """``M[b, j] = sum_k weight[class_ids[b, j], k] * feats[b, k]``: (B, k, h, w), float32."""
    b, channels, h, w = feats.shape
    # Always in float32, also under fp16/bf16 autocast: a sum of 1280 products
    # loses the map's shape in half precision (a no-op cast for float32 inputs).
    with torch.autocast(device_type=feats.device.type, enabled=False):
        chosen = weight[class_ids].float()  # (B, k, K)
        maps = torch.bmm(chosen, feats.reshape(b, channels, h * w).float())
    return maps.reshape(b, -1, h, w)


# Products of at most this many multiply-adds run in NumPy on one thread (OpenBLAS
# spreads a larger one over every core, and its threads spin: ~100x the CPU time);
# a larger one goes through torch, at torch's thread count.
SMALL = 4 * 65536


def cpu_class_maps(feats: np.ndarray, weight: np.ndarray, class_ids: Sequence[int]) -> np.ndarray:
    """``class_maps`` of one frame in numpy: ``feats`` (K, h, w) float32, ``weight``
    (C, K) -> (k, h, w) float32 maps of ``class_ids``."""
    channels, h, w = feats.shape
    if len(class_ids) == 1:  # one row: a view, not a copy (the same product)
        c = int(class_ids[0])
        chosen = weight[c:c + 1] if 0 <= c < len(weight) and weight.flags.c_contiguous else weight[[c]]
    else:
        chosen = weight[[int(c) for c in class_ids]]
    chosen = chosen.astype(np.float32, copy=False)
    return (chosen @ feats.reshape(channels, h * w)).reshape(len(chosen), h, w)


def gradcam_weights(feats: torch.Tensor, logits: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
    """(B, k, K) Grad-CAM weights ``alpha`` of ``class_ids`` (B, k): the mean over
    the map of each logit's gradient with respect to ``feats`` (B, K, h, w).

    ``feats`` must be the grad-requiring leaf that ``logits`` were computed from.
    One backward per column of ``class_ids``: row b's gradient comes from frame b's
    logit only (the head treats frames independently in eval mode).
    """
    k = class_ids.shape[1]
    alphas = []
    for j in range(k):
        selected = logits.gather(1, class_ids[:, j : j + 1]).sum()
        (grad,) = torch.autograd.grad(selected, feats, retain_graph=j < k - 1)
        alphas.append(grad.mean(dim=(2, 3)).float())  # (B, K)
    return torch.stack(alphas, dim=1)
