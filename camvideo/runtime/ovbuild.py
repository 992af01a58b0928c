"""The embedded network's OpenVINO model built from its weights, without tracing.

``openvino.convert_model`` traces the torch module (TorchScript) and translates
the trace: about 3 s on this 2-core machine when idle, nearly all of it Python
holding the interpreter's lock, so a window converting in the background paints
fewer frames meanwhile (README, Speed). camvideo's own EfficientNet-Lite0
(``camvideo.models.lite0``: the built-in lite0, lite1, lite2 and any checkpoint
of their architecture) is a fixed stack of convolutions, batch norms, ReLU6 and residual
additions, so its graph is written here directly with OpenVINO's operations:
a few milliseconds, then the usual compile (0.15 s). The result is the same
network: the batch norms are folded into the convolutions (float64, then
float32, as OpenVINO's own transformations would), TensorFlow's "same" padding
becomes the strided convolutions' explicit pads for the input size at hand
(``lite0.same_padding``, the function the torch module pads with).

``build`` returns None for any other module (another architecture, a ``--layer``
cut, a module changed after loading): ``camvideo.runtime.ovcache.convert`` then
traces it as before. The parity tests hold both paths to torch's outputs.

``with_head`` adds the classifier's head (global average pooling, the linear
layer) to either graph as a second output, ``logits``: the forward pass then
gives what exact CAM needs (the maps and the class scores) in one inference, at
the graph's precision. The head in torch on OpenVINO's features cost ~0.75 CPU ms
a frame at 224x288 on one thread (its 5 MB of weights read back after the network
has pushed them out of the cache); in the graph ~0.3 ms under bf16 (its linear
layer runs bf16 there whatever the keep-f32 marks say): image -> logits 0.18-0.33 ms
a frame faster (docs/measuring.md, The inference stage around its forward pass).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from camvideo.models import lite0
from camvideo.models.registry import _ForwardFeatures

BUILDER = "camvideo-lite0-1"  # in the cache key: bump when the built graph changes
HEAD = "gap-linear-1"  # in the cache key: bump when ``with_head`` changes
HEAD_OPS = ("head/pool", "head/fc", "head/bias")  # the head's operations, by name (int8 leaves them alone)


def supported(features: nn.Module) -> bool:
    """Whether ``build`` makes ``features``' graph: camvideo's Lite0/1/2, whole, float32 on the CPU."""
    net = getattr(features, "net", None)
    if type(features) is not _ForwardFeatures or type(net) not in (lite0.EfficientNetLite, lite0.EfficientNetLite0):
        return False
    return all(p.dtype == torch.float32 and p.device.type == "cpu" for p in net.parameters())


def build(features: nn.Module, size: tuple[int, int]):
    """``features`` at input ``size`` (height, width) as an ``openvino.Model``
    taking (N, 3, height, width), or None when it is not camvideo's Lite0."""
    if not supported(features):
        return None
    net = features.net
    import openvino as ov
    import openvino.opset13 as ops

    height, width = size
    data = ops.parameter(ov.PartialShape([-1, 3, height, width]), ov.Type.f32, name="x")
    graph = _Graph(ops)
    x = graph.stem(net, data, (height, width))
    result = ops.result(x, name="features")
    return ov.Model([result], [data], "camvideo-lite0-features")


def with_head(network, fc: nn.Linear):
    """``network`` (an ``openvino.Model`` whose first output is the (N, K, h, w)
    maps) with ``fc``'s logits of their global average as a second output,
    ``logits`` (N, classes), in place; returns ``network``."""
    import openvino.opset13 as ops

    if type(fc) is not nn.Linear:
        raise TypeError(f"not a plain Linear head: {fc}")
    with torch.no_grad():
        weight = fc.weight.detach().float().cpu().contiguous().numpy()
        bias = (fc.bias.detach().float().cpu().numpy() if fc.bias is not None
                else np.zeros(weight.shape[0], np.float32))
    maps = network.get_results()[0].input_value(0)  # what the first Result shows
    pooled = ops.reduce_mean(maps, ops.constant(np.array([2, 3], np.int64)), False, name=HEAD_OPS[0])
    scores = ops.matmul(pooled, ops.constant(weight), False, True, name=HEAD_OPS[1])
    logits = ops.add(scores, ops.constant(bias.reshape(1, -1)), name=HEAD_OPS[2])
    result = ops.result(logits, name="logits")
    logits.output(0).get_tensor().set_names({"logits"})
    network.add_results([result])
    return network


class _Graph:
    """Walks the network in its ``forward_features`` order, keeping the spatial
    size (for the "same" pads of the strided convolutions)."""

    def __init__(self, ops) -> None:
        self.ops = ops
        self.size = (0, 0)

    def stem(self, net: lite0.EfficientNetLite, x, size: tuple[int, int]):
        self.size = size
        x = self.relu6(self.conv(x, net.conv_stem, net.bn1, net.pad))
        for stage in net.blocks:
            for block in stage:
                x = self.block(block, x)
        return self.relu6(self.conv(x, net.conv_head, net.bn2))

    def block(self, block: nn.Module, x):
        if type(block) is lite0.DepthwiseSeparable:
            y = self.relu6(self.conv(x, block.conv_dw, block.bn1))
            y = self.conv(y, block.conv_pw, block.bn2)
        elif type(block) is lite0.InvertedResidual:
            y = self.relu6(self.conv(x, block.conv_pw, block.bn1))
            y = self.relu6(self.conv(y, block.conv_dw, block.bn2, block.pad))
            y = self.conv(y, block.conv_pwl, block.bn3)
        else:
            raise TypeError(f"not a Lite0 block: {type(block).__name__}")
        return self.ops.add(x, y) if block.residual else y

    def relu6(self, x):
        return self.ops.clamp(x, 0.0, 6.0)

    def conv(self, x, conv: nn.Conv2d, bn: nn.Module, pad: nn.Module | None = None):
        """``conv`` then ``bn`` (folded; Identity once folded), after ``pad`` (a
        ``SamePad``, or Identity)."""
        ops = self.ops
        if type(conv) is not nn.Conv2d or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
            raise TypeError(f"not a plain Conv2d: {conv}")
        (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
        begin, end = [ph, pw], [ph, pw]
        if isinstance(pad, lite0.SamePad):
            top, bottom = lite0.same_padding(self.size[0], pad.kernel, pad.stride)
            left, right = lite0.same_padding(self.size[1], pad.kernel, pad.stride)
            begin, end = [begin[0] + top, begin[1] + left], [end[0] + bottom, end[1] + right]
        weight, bias = _folded(conv, bn)
        groups = conv.groups
        if groups == 1:
            y = ops.convolution(x, ops.constant(weight), [sh, sw], begin, end, [1, 1])
        else:
            out, per_group = weight.shape[0], weight.shape[1]
            grouped = weight.reshape(groups, out // groups, per_group, kh, kw)
            y = ops.group_convolution(x, ops.constant(grouped), [sh, sw], begin, end, [1, 1])
        y = ops.add(y, ops.constant(bias.reshape(1, -1, 1, 1)))
        self.size = ((self.size[0] + begin[0] + end[0] - kh) // sh + 1,
                     (self.size[1] + begin[1] + end[1] - kw) // sw + 1)
        return y


def _folded(conv: nn.Conv2d, bn: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The convolution's weight and bias with the (eval-mode) batch norm folded in.
    ``bn`` is an Identity where torch's forward pass folded it already
    (``camvideo.models.fold``, in place: the same model may come here after)."""
    with torch.no_grad():
        weight = conv.weight.detach().double().contiguous().numpy()
        bias = conv.bias.detach().double().numpy() if conv.bias is not None else np.zeros(weight.shape[0])
    if type(bn) is nn.Identity:
        return weight.astype(np.float32), bias.astype(np.float32)
    if type(bn) is not nn.BatchNorm2d or bn.running_mean is None or not bn.affine:
        raise TypeError(f"not an affine BatchNorm2d with running statistics: {bn}")
    with torch.no_grad():
        scale = bn.weight.double().numpy() / np.sqrt(bn.running_var.double().numpy() + bn.eps)
        shift = bn.bias.double().numpy() - bn.running_mean.double().numpy() * scale
    return ((weight * scale[:, None, None, None]).astype(np.float32),
            (bias * scale + shift).astype(np.float32))


PIXELS = "u8-bgr-nhwc-1"  # in the compiled model's cache tag: bump when ``with_pixels`` changes


def with_pixels(network, mean: tuple[float, ...], std: tuple[float, ...]):
    """``network`` (an ``openvino.Model`` taking the normalized (N, 3, H, W) RGB
    batch) taking instead the frames' BGR uint8 pixels at that size, (N, H, W, 3)
    as OpenCV holds them: the graph converts them to float, reverses the channels
    and normalizes ``(x / 255 - mean) / std`` (``openvino.preprocess``), the work
    ``camvideo.cam.preprocess`` does in one OpenCV pass for torch. The resize stays
    OpenCV's (``resize_for_model``): OpenVINO's Interpolate costs several times
    OpenCV's for the same pixels (docs/measuring.md, The frame's pixels into
    OpenVINO's graph). Returns the new model (``network`` is consumed)."""
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor

    ppp = PrePostProcessor(network)
    ppp.input(0).tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
    ppp.input(0).model().set_layout(ov.Layout("NCHW"))
    steps = ppp.input(0).preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB)
    steps.mean([255.0 * m for m in mean]).scale([255.0 * s for s in std])
    return ppp.build()
