"""Batch norms folded into the convolutions before them, for inference.

In eval mode a BatchNorm2d after a convolution is a per-channel scale and shift
of the convolution's output, so it can be baked into the convolution's weights
and bias: the network computes the same function (to float rounding) without a
pass over every activation per norm. For lite0 (49 conv -> BN pairs) the forward
pass on 2 CPU cores goes from ~11.8 to ~9.6 ms (channels_last, measured in one
interleaved run); ``camvideo bench`` reports the stock network's forward pass and
camvideo's folded one side by side.

Pairs are found by running the module once with hooks, not by matching names,
so any torchvision or timm network works: a BatchNorm2d whose input is the very
tensor a Conv2d just returned (each called once). The folded copy is then checked
against the original on a random input; if it does not match (a convolution
output also used elsewhere, say), the original is kept.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

# Folding reorders float operations: lite0's features move by ~4e-6 of their
# range; a wrongly folded pair moves them by a sizeable fraction of it.
TOLERANCE = 1e-3


def fold_batchnorm(module: nn.Module, example: torch.Tensor) -> tuple[nn.Module, int]:
    """``(folded copy of module, pairs folded)``, or ``(module, 0)`` when nothing
    folds or the folded copy does not reproduce ``module`` on ``example``.

    ``module`` must be in eval mode (training-mode norms use batch statistics).
    ``module`` itself is never changed: its parameters may be shared with the
    network it was cut from.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode (call .eval() first)")
    folded = copy.deepcopy(module)
    pairs = _conv_bn_pairs(folded, example)
    if not pairs:
        return module, 0
    with torch.no_grad():
        for conv, bn_name, bn in pairs:
            _fold_into(conv, bn)
            _replace(folded, bn_name, _after_norm(bn))
    with torch.inference_mode():
        want = module(example).float()
        got = folded(example).float()
    error = float((want - got).abs().max())
    scale = float(want.abs().max()) or 1.0
    if not error <= TOLERANCE * scale:  # also catches NaN
        log.warning("batch norm folding changed the features (error %.3g of %.3g); running the network as it is", error, scale)
        return module, 0
    return folded, len(pairs)


def _conv_bn_pairs(module: nn.Module, example: torch.Tensor) -> list[tuple[nn.Conv2d, str, nn.BatchNorm2d]]:
    """(conv, norm's qualified name, norm) for each norm fed straight by a conv."""
    calls: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []
    counts: dict[int, int] = {}

    def record(name):
        def hook(mod, inputs, output):
            counts[id(mod)] = counts.get(id(mod), 0) + 1
            calls.append((name, mod, inputs[0] if inputs else None, output))

        return hook

    handles = [
        m.register_forward_hook(record(name))
        for name, m in module.named_modules()
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))
    ]
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    pairs = []
    for (_, conv, _, conv_out), (bn_name, bn, bn_in, _) in zip(calls, calls[1:]):
        if (
            isinstance(conv, nn.Conv2d)
            and _foldable(bn)
            and bn_in is conv_out
            and counts[id(conv)] == 1
            and counts[id(bn)] == 1
        ):
            pairs.append((conv, bn_name, bn))
    return pairs


def _foldable(bn: nn.Module) -> bool:
    """A plain BatchNorm2d, or timm's BatchNormAct2d (norm, then ``drop`` and
    ``act``), with running statistics: the only forwards whose rest we know."""
    if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None or bn.running_var is None:
        return False
    return type(bn) is nn.BatchNorm2d or (hasattr(bn, "act") and hasattr(bn, "drop") and type(bn).__name__ == "BatchNormAct2d")


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = torch.rsqrt(bn.running_var.float() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.float()
    shift = -bn.running_mean.float() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.float()
    weight = conv.weight.float() * scale.view(-1, *([1] * (conv.weight.ndim - 1)))
    if conv.bias is not None:
        shift = shift + conv.bias.float() * scale
    conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
    conv.bias = nn.Parameter(shift.to(conv.weight.dtype), requires_grad=False)


def _after_norm(bn: nn.Module) -> nn.Module:
    """What the norm's forward does after normalizing (timm: drop, then act)."""
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    return nn.Sequential(bn.drop, bn.act)


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, new)
