"""Stage timing: one context manager per stage, in the manner of ultralytics' ``Profile``.

``timer = StageTimer()``, then ``with timer("forward"): ...`` adds the wall-clock
milliseconds spent inside to ``timer.ms["forward"]``. A stage used twice adds up;
stages may nest (each records its own span, the outer one including the inner);
a body that raises still records the time it took. ``per_frame(count)`` gives
the stage times divided among the frames of a batch as a read-only mapping: a
result's timings are set once, when the result is made, and nobody changes
them afterwards (``FrameResult.timings``).

Cost: two ``perf_counter`` calls and one small object per stage (well under a
microsecond), a few times per batch; with a CUDA sync, two waits for the GPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

_clock = time.perf_counter


def cuda_sync(device) -> Callable[[], None] | None:
    """A call that waits for ``device``'s queued kernels when it is a CUDA device
    (a ``torch.device`` or a string such as "cuda:1"), else None. torch is imported
    only for a CUDA device."""
    if device is None:
        return None
    kind = getattr(device, "type", None) or str(device).split(":", 1)[0]
    if kind != "cuda":
        return None
    import torch

    target = torch.device(device)
    return lambda: torch.cuda.synchronize(target)


class _Span:
    __slots__ = ("_ms", "_stage", "_sync", "_t0")

    def __init__(self, ms: dict[str, float], stage: str, sync: Callable[[], None] | None = None) -> None:
        self._ms = ms
        self._stage = stage
        self._sync = sync

    def __enter__(self) -> _Span:
        if self._sync is not None:
            self._sync()  # the work queued before is not this stage's
        self._t0 = _clock()
        return self

    def __exit__(self, *exc) -> bool:
        if self._sync is not None:
            self._sync()  # this stage's kernels, done
        elapsed = (_clock() - self._t0) * 1000.0
        self._ms[self._stage] = self._ms.get(self._stage, 0.0) + elapsed
        return False  # an exception goes on, with its stage's time recorded


class StageTimer:
    """Milliseconds per named stage of one unit of work (a batch, a frame)."""

    __slots__ = ("_sync", "ms")

    def __init__(self, *, sync=None) -> None:
        """``sync``: the device whose work the spans wait for (CUDA only; see the module)."""
        self.ms: dict[str, float] = {}
        self._sync = cuda_sync(sync)

    @property
    def syncs(self) -> bool:
        """Whether the spans synchronize a CUDA device."""
        return self._sync is not None

    def __call__(self, stage: str) -> _Span:
        """``with timer(stage):`` times the body into ``ms[stage]``."""
        return _Span(self.ms, stage, self._sync)

    def add(self, stage: str, ms: float) -> None:
        """A time measured elsewhere (e.g. by a reader thread), in milliseconds."""
        self.ms[stage] = self.ms.get(stage, 0.0) + float(ms)

    def per_frame(self, count: int = 1, base: Mapping[str, float] | None = None) -> Mapping[str, float]:
        """``base`` (per-frame times from an earlier step, e.g. the forward half of a
        batch) plus this timer's stages divided by ``count``: a new read-only mapping."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        out = dict(base) if base else {}
        for stage, ms in self.ms.items():
            out[stage] = out.get(stage, 0.0) + ms / count
        return MappingProxyType(out)

