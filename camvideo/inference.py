"""Frames in, FrameResults out: preprocessing, one forward pass with CAMs, boxes.

This is the inference stage that the command line, the video pipeline and the
window all run. Settings are a frozen dataclass; assigning a new one to
``FrameLocalizer.settings`` takes effect on the next batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .cam import CamEngine, preprocess
from .localize import BoxRule, boxes_from_cam, normalize
from .models import GapClassifier
from .results import Detection, FrameResult


# FrameLocalizer(autocast=...): the forward pass's precision ("auto": fp16 on CUDA only).
AUTOCAST = {"auto": None, "fp16": torch.float16, "bf16": torch.bfloat16, None: None}


@dataclass(frozen=True)
class LocalizeSettings:
    """What to localize: the ``topk`` best classes, or the fixed ``class_ids``."""

    topk: int = 1
    class_ids: tuple[int, ...] | None = None
    box_rule: BoxRule = field(default_factory=BoxRule)

    def __post_init__(self) -> None:
        if self.topk < 1:
            raise ValueError(f"topk must be at least 1, got {self.topk}")
        if self.class_ids is not None and not self.class_ids:
            raise ValueError("class_ids must be None or a non-empty tuple of class ids")


class FrameLocalizer:
    """Runs the model on a batch of BGR frames and returns one FrameResult per frame."""

    def __init__(
        self,
        model: GapClassifier,
        settings: LocalizeSettings = LocalizeSettings(),
        *,
        channels_last: bool = True,
        autocast: str | None = "auto",
        compile: bool = False,
    ) -> None:
        """``channels_last``: convert the model (in place) and each batch to NHWC
        memory, measured 15-20% faster for lite0 on the CPU (oneDNN) and the layout
        tensor cores want. ``autocast``: ``"auto"`` runs the forward pass in
        float16 on CUDA (never on the CPU, where it is slower), ``"fp16"`` /
        ``"bf16"`` force it, None never; class maps are always summed and
        normalized in float32. ``compile``: ``torch.compile`` the feature
        extractor in place (opt-in; hooks registered before this call are
        traced with it); the first batch of each size pays the compilation."""
        if autocast not in AUTOCAST:
            raise ValueError(f"autocast must be one of {sorted(k for k in AUTOCAST if k)} or None, got {autocast!r}")
        self.model = model
        self.engine = CamEngine(model)
        self.settings = settings
        self.channels_last = channels_last
        device = model.device.type
        dtype = AUTOCAST[autocast]
        if autocast == "auto":
            dtype = torch.float16 if device == "cuda" else None
        self.autocast_dtype = dtype
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if compile:
            model.features.compile()

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.model.device.type, dtype=self.autocast_dtype)

    def __call__(
        self,
        frames: Sequence[np.ndarray],
        indices: Sequence[int] | None = None,
        times: Sequence[float] | None = None,
    ) -> list[FrameResult]:
        if not frames:
            return []
        settings = self.settings
        indices = list(indices) if indices is not None else list(range(len(frames)))
        times = list(times) if times is not None else [0.0] * len(frames)
        t0 = time.perf_counter()
        x = preprocess(frames, self.model)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        with self._autocast():
            out = self.engine(x, topk=settings.topk, class_ids=settings.class_ids)
        maps = out.maps.cpu().numpy()
        ids = out.class_ids.cpu().numpy()
        scores = out.scores.cpu().numpy()
        t2 = time.perf_counter()
        results = []
        for b, frame in enumerate(frames):
            height, width = frame.shape[:2]
            heatmaps = np.stack([normalize(m) for m in maps[b]])
            detections = []
            for rank, (class_id, score, heat) in enumerate(zip(ids[b], scores[b], heatmaps), start=1):
                label = self.model.labels[int(class_id)]
                for box in boxes_from_cam(heat, width, height, settings.box_rule) or [None]:
                    detections.append(Detection(rank, int(class_id), label, float(score), box))
            results.append(
                FrameResult(
                    frame=int(indices[b]),
                    time=float(times[b]),
                    width=width,
                    height=height,
                    detections=tuple(detections),
                    heatmaps=heatmaps,
                    map_class_ids=tuple(int(c) for c in ids[b]),
                )
            )
        t3 = time.perf_counter()
        per_frame = 1000.0 / len(frames)
        timings = {
            "preprocess": (t1 - t0) * per_frame,
            "forward": (t2 - t1) * per_frame,
            "boxes": (t3 - t2) * per_frame,
        }
        for r in results:
            r.timings.update(timings)
        return results
