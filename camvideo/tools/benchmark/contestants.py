"""The contestants of the interleaved rounds: ``run(i)`` processes frame ``i``.

- ``floor``: the network's forward pass, image -> logits, on a preprocessed batch
  (also in channels_last, and camvideo's own folded copy: ``FLOOR_CL``, ``OWN_FORWARD``);
- ``camvideo WxH``: the inference stage as the pipeline runs it, with its stage timings;
- ``torchcam`` / ``gradcam``: the peer libraries, when installed (None otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from camvideo.timing import StageTimer


@dataclass
class Contestant:
    """``run(i)`` processes frame ``i`` and returns when its result is ready."""

    name: str
    run: Callable[[int], object]
    size: tuple[int, int] | None = None
    note: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


FLOOR_CL = "floor (channels_last)"
OWN_FORWARD = "camvideo's forward pass"


def floor_contestant(model, frames: list[np.ndarray], name: str = "floor", channels_last: bool = False,
                     autocast: torch.dtype | None = None) -> Contestant:
    """The forward pass alone; ``autocast``: the precision camvideo runs it in
    (fp16 on CUDA), for the floor that is camvideo's own forward pass."""
    from camvideo.cam.preprocess import preprocess

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xs = [preprocess([f], model).contiguous(memory_format=fmt) for f in frames]
    device = model.device.type

    def run(i: int):
        with torch.inference_mode(), torch.autocast(device, dtype=autocast, enabled=autocast is not None):
            logits = model.classify(model(xs[i % len(xs)]))
        _sync(model.device)
        return logits

    height, width = model.preprocessing.size
    note = f"forward pass alone (image -> logits), preprocessed {width}x{height} input"
    if channels_last:
        note += ", channels_last"
    if folded_norms(model):
        note += ", batch norms folded"
    note += f", {'float32' if autocast is None else str(autocast).removeprefix('torch.') + ' autocast'}"
    return Contestant(name, run, (width, height), note)


def camvideo_contestant(localizer, annotator, frames: list[np.ndarray], suffix: str = "") -> Contestant:
    h, w = frames[0].shape[:2]

    stages: dict[str, list[float]] = {}

    def run(i: int):
        t0 = time.perf_counter()
        frame = frames[i % len(frames)]
        result = localizer([frame], [i], [0.0])[0]
        timer = StageTimer()
        with timer("annotate"):
            out = annotator.annotate(frame, result)
        parts = {**result.timings, **timer.ms}
        # This frame's time in none of its parts (Python between them, the calls in): the
        # medians of the parts need not add up to the whole's, this one does.
        parts["outside the parts"] = (time.perf_counter() - t0) * 1000.0 - sum(parts.values())
        for key, value in parts.items():
            stages.setdefault(key, []).append(value)
        return out

    k = localizer.settings.topk
    c = Contestant(f"camvideo {w}x{h}{suffix}", run, (w, h), f"preprocess + forward + top-{k} CAMs + boxes + overlay")
    c.stages = stages  # type: ignore[attr-defined]
    return c


def torchcam_contestant(model, frames: list[np.ndarray]) -> Contestant | None:
    try:
        from PIL import Image
        from torchcam.methods import CAM
        from torchcam.utils import overlay_mask
    except ImportError:
        return None
    from camvideo.cam.preprocess import preprocess

    net = model.network
    if net is None or not hasattr(net, "classifier") or not hasattr(net, "head_act"):
        return None
    # The last feature maps, after the activation (what camvideo's CAMs are made of).
    extractor = CAM(net, target_layer="head_act", fc_layer="classifier", input_shape=(3, *model.preprocessing.size))
    h, w = frames[0].shape[:2]

    def run(i: int):
        frame = frames[i % len(frames)]
        x = preprocess([frame], model)
        with torch.no_grad():
            scores = net(x)
            cams = extractor(int(scores[0].argmax()), scores)
        mask = Image.fromarray(cams[0][0].cpu().numpy(), mode="F")
        pil = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        return np.asarray(overlay_mask(pil, mask, alpha=0.5))

    c = Contestant(f"torchcam {w}x{h}", run, (w, h), "torchcam CAM (top-1) + overlay_mask")
    c.close = extractor.remove_hooks  # type: ignore[attr-defined]
    return c


def gradcam_contestant(model, frames: list[np.ndarray]) -> Contestant | None:
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.image import show_cam_on_image
    except ImportError:
        return None
    from camvideo.cam.preprocess import preprocess

    net = model.network
    if net is None or not hasattr(net, "head_act"):
        return None
    cam = GradCAM(model=net, target_layers=[net.head_act])
    h, w = frames[0].shape[:2]

    def run(i: int):
        frame = frames[i % len(frames)]
        x = preprocess([frame], model)
        # The loaded weights are frozen; an input that asks for gradients builds
        # the graph GradCAM's backward pass needs.
        gray = cam(input_tensor=x.requires_grad_(True), targets=None)[0]  # top-1, forward + backward
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return show_cam_on_image(rgb, cv2.resize(gray, (w, h)), use_rgb=True)

    c = Contestant(f"gradcam {w}x{h}", run, (w, h), "pytorch-grad-cam GradCAM (top-1) + show_cam_on_image")
    c.close = lambda: cam.__exit__(None, None, None)  # type: ignore[attr-defined]
    return c


def folded_norms(model) -> int:
    """How many batch norms camvideo folded into ``model`` (0: none, or a stock model)."""
    return getattr(getattr(model, "features", None), "folded_norms", 0)
