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

import contextlib
import copy
import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

# Folding reorders float operations: lite0's features move by ~4e-6 of their
# range (its maps by < 1e-4); a wrongly folded pair moves them by a sizeable
# fraction of it. The check runs in true float32 (no TF32 on CUDA, whose rounding
# alone is ~1e-2 of the range).
TOLERANCE = 1e-3


def fold_batchnorm(module: nn.Module, example: torch.Tensor) -> tuple[nn.Module, int]:
    """``(folded copy of module, pairs folded)``, or ``(module, 0)`` when nothing
    folds or the folded copy does not reproduce ``module`` on ``example``.

    ``module`` must be in eval mode (training-mode norms use batch statistics)
    and in float32. ``module`` itself is never changed (its parameters may be
    shared with the network it was cut from); the copy shares every tensor it
    does not fold with it, so it costs the memory of the folded convolutions.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode (call .eval() first)")
    with torch.inference_mode(False):  # a caller's inference mode would make the copy's new weights unusable
        return _fold(module, example)


def _fold(module: nn.Module, example: torch.Tensor) -> tuple[nn.Module, int]:
    """``fold_batchnorm``'s work, outside inference mode."""
    tensors = [*module.parameters(), *module.buffers()]
    if any(t.is_floating_point() and t.dtype != torch.float32 for t in tensors):
        log.info("batch norms not folded: the network is not in float32")
        return module, 0
    # Folding never writes into a tensor (it makes new ones), so the copy can share them.
    folded = copy.deepcopy(module, memo={id(t): t for t in tensors})
    pairs = _conv_bn_pairs(folded, example)
    if not pairs:
        return module, 0
    with torch.no_grad():
        for conv, bn_name, bn in pairs:
            _fold_into(conv, bn)
            _replace(folded, bn_name, _after_norm(bn))
    with torch.inference_mode(), _true_float32():
        want = module(example).float()
        got = folded(example).float()
    error = float((want - got).abs().max())
    scale = float(want.abs().max()) or 1.0
    if not error <= TOLERANCE * scale:  # also catches NaN
        log.warning("batch norm folding changed the features (error %.3g of %.3g); running the network as it is", error, scale)
        return module, 0
    return folded, len(pairs)


@contextlib.contextmanager
def _true_float32():
    """TF32 off for convolutions and matrix products (CUDA's default is on)."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    previous = (cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = previous


def _conv_bn_pairs(module: nn.Module, example: torch.Tensor) -> list[tuple[nn.Conv2d, str, nn.BatchNorm2d]]:
    """(conv, norm's qualified name, norm) for each norm fed straight by a conv:
    its input is the very tensor the conv returned, unchanged since (an in-place
    op in between keeps the tensor object but bumps its version)."""
    calls, counts, untouched = _traced(module, example)
    pairs = []
    for (_, conv, conv_out), (bn_name, bn, bn_in) in zip(calls, calls[1:]):
        if (
            _foldable_conv(conv)
            and _foldable(bn)
            and bn_in is conv_out
            and id(bn) in untouched
            and counts[id(conv)] == 1
            and counts[id(bn)] == 1
        ):
            pairs.append((conv, bn_name, bn))
    return pairs


def _traced(module: nn.Module, example: torch.Tensor):
    """One forward pass of ``module`` on ``example`` with its convs and batch norms
    watched: their calls in order as (name, module, the conv's output or the norm's
    input), how often each module ran (by id), and the ids of the norms whose input was
    a conv's output, unchanged since (the same version)."""
    calls: list[tuple[str, nn.Module, torch.Tensor | None]] = []  # (name, module, conv output or norm input)
    counts: dict[int, int] = {}
    made_at: dict[int, int] = {}  # id(conv output) -> its version when the conv returned it
    untouched: set[int] = set()  # ids of norms whose input was a conv's output, unchanged

    def after(name):
        def hook(mod, inputs, output):
            counts[id(mod)] = counts.get(id(mod), 0) + 1
            if isinstance(mod, nn.BatchNorm2d):
                calls.append((name, mod, inputs[0] if inputs else None))
            else:
                made_at[id(output)] = output._version
                calls.append((name, mod, output))

        return hook

    def before_norm(mod, inputs):
        x = inputs[0] if inputs else None
        if isinstance(x, torch.Tensor) and made_at.get(id(x)) == x._version:
            untouched.add(id(mod))

    handles = []
    for name, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            handles.append(m.register_forward_hook(after(name)))
        if isinstance(m, nn.BatchNorm2d):
            handles.append(m.register_forward_pre_hook(before_norm))
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return calls, counts, untouched


def _foldable_conv(conv: nn.Module) -> bool:
    """A plain Conv2d, or timm's Conv2dSame (padding, then the plain conv). Not
    subclasses that transform their weights first (timm's StdConv2d standardizes
    them, which would undo the fold)."""
    return type(conv) is nn.Conv2d or (isinstance(conv, nn.Conv2d) and type(conv).__name__ == "Conv2dSame")


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
