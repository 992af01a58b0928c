"""Find the exact-CAM head in an exported graph (ONNX or OpenVINO IR), read by OpenVINO.

Exact CAM needs the tensor before global average pooling and the linear layer
after it; both are in the graph. ``find_head`` walks back from the graph's one
output: an optional Softmax, optional Reshape / Squeeze / Flatten, then any
Add/Multiply by constants (a bias; a Gemm's alpha and beta, which OpenVINO reads
as a MatMul, a Multiply and an Add), a MatMul with a constant weight (transposed
or not) or a 1x1 convolution without padding (a classifier over the pooled map
kept 1x1), optional Reshape / Squeeze / Flatten, and a ReduceMean over the
spatial axes (ONNX's GlobalAveragePool is one once read): axes (2, 3) for NCHW
features, (1, 2) for NHWC; or, in a graph of a fixed size, an unpadded AvgPool
whose window is the whole NCHW feature map. The pooled tensor's input is the
feature output; the weight and the bias are folded into one (C, K) matrix and
one (C,) vector. Anything else is a ``ModelLoadError`` whose one
line says what the graph ends in and what exact CAM needs.

OpenVINO's own reader is used (no ONNX package at run time). Its constant
folding runs first, so that a weight reached through a Convert or a Transpose of
a constant reads as a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camvideo.errors import ModelLoadError

NEEDS = "exact CAM needs global average pooling followed by one linear layer"

_SOFTMAX = ("Softmax", "LogSoftmax")
_AFFINE = ("Add", "Multiply")
_FLATTEN = ("Reshape", "Squeeze", "Unsqueeze", "Flatten", "Convert")
# what may lie between two fully connected layers of a head (for the refusal's count)
_BETWEEN = (*_AFFINE, *_FLATTEN, "Relu", "Clamp", "Gelu", "Sigmoid", "Tanh", "HSwish", "Swish", "Elu", "PRelu",
            "Subtract", "Divide")


@dataclass(frozen=True)
class Head:
    """The exact-CAM head of a graph: the ``features`` output (an OpenVINO
    ``Output``) in ``layout`` "NCHW" or "NHWC", and the class ``weight`` (C, K)
    and ``bias`` (C,) that turn its spatial mean into the logits."""

    features: object
    layout: str
    weight: np.ndarray
    bias: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])


def find_head(model, name: str) -> Head:
    """The head of ``model`` (an ``openvino.Model``, constant-folded in place);
    ``name``: the file's name, for the messages. A ``ModelLoadError`` for any graph
    that does not end in global average pooling and one linear layer."""
    from openvino import passes

    manager = passes.Manager()
    manager.register_pass(passes.ConstantFolding())
    manager.run_passes(model)
    if len(model.outputs) != 1:
        raise ModelLoadError(f"{name} has {len(model.outputs)} outputs: {NEEDS}, and one output (the class scores)")
    node = _source(model.outputs[0].get_node())
    if node.get_type_name() in _SOFTMAX:
        node = _source(node)
    if node.get_type_name() == "Sigmoid":  # a multi-label head: its scores are no softmax over the classes
        raise ModelLoadError(f"{name}: the output is a Sigmoid of each class (a multi-label head); camvideo scores "
                             "the classes with a softmax over the linear layer's logits: export the graph without "
                             "its final Sigmoid")
    node = _past_flatten(node)
    affine = []  # (kind, constant) after the linear layer, the output's end first
    while node.get_type_name() in _AFFINE and _split(node) is not None:
        data, const = _split(node)
        affine.append((node.get_type_name(), const))
        node = data.get_node()
    data, weight = _linear(node, name)
    pooled = _past_flatten(data.get_node())
    if pooled.get_type_name() == "AvgPool" and _whole_map(pooled):
        layout = "NCHW"
    elif pooled.get_type_name() == "ReduceMean":
        layout = _pool_layout(pooled, name)
    else:
        raise ModelLoadError(f"{name}: {_fed_by(node, pooled)}: {NEEDS}")
    features = pooled.input_value(0)
    channels = features.get_partial_shape()[1 if layout == "NCHW" else 3]
    if channels.is_static and channels.get_length() != weight.shape[1]:
        raise ModelLoadError(f"{name}: the linear layer takes {weight.shape[1]} values but the pooled tensor has "
                             f"{channels.get_length()} channels: {NEEDS}")
    weight, bias = _folded(weight, affine, name)
    return Head(features, layout, weight, bias)


def _past_flatten(node):
    """The first node before ``node`` (itself included) that only reshapes its input."""
    while node.get_type_name() in _FLATTEN:
        node = _source(node)
    return node


def _linear(node, name: str):
    """(the data input, the (classes, features) weight) of the linear layer ``node``:
    a MatMul with a constant weight, or a 1x1 convolution without padding (the
    classifier of a pooled map kept 1x1, as Keras's MobileNet has it)."""
    pair = _split(node) if node.get_type_name() in ("MatMul", "Convolution") else None
    if pair is None:
        raise ModelLoadError(f"{name}: the output comes from a {_kind(node)}, not a linear layer: {NEEDS}")
    data, weight = pair
    if node.get_type_name() == "MatMul":
        return data, _weight(node, data, weight, name)
    attrs = node.get_attributes()
    if (node.input_value(0) != data or weight.ndim != 4 or weight.shape[2:] != (1, 1)
            or any(attrs.get("pads_begin", [])) or any(attrs.get("pads_end", []))):
        raise ModelLoadError(f"{name}: the output comes from a convolution that is not a 1x1 one without padding "
                             f"over the pooled features: {NEEDS}")
    return data, weight.reshape(weight.shape[:2])


def _source(node):
    """The node feeding ``node``'s first input."""
    return node.input_value(0).get_node()


def _constant(output) -> np.ndarray | None:
    node = output.get_node()
    if node.get_type_name() != "Constant":
        return None
    return np.asarray(node.get_data(), dtype=np.float64)


def _split(node):
    """(the data input, the constant input's values) of a two-input node with
    exactly one constant input, else None."""
    if node.get_input_size() != 2:
        return None
    first, second = node.input_value(0), node.input_value(1)
    a, b = _constant(first), _constant(second)
    if (a is None) == (b is None):
        return None
    return (second, a) if a is not None else (first, b)


def _weight(matmul, data, weight: np.ndarray, name: str) -> np.ndarray:
    """The MatMul's weight as (classes, features), whichever side and transposition
    the graph has it on."""
    if weight.ndim != 2:
        raise ModelLoadError(f"{name}: the linear layer's weight has shape {weight.shape}, not a matrix: {NEEDS}")
    attrs = matmul.get_attributes()
    if matmul.input_value(0) != data:  # weight @ x: a column layout exact CAM does not read
        raise ModelLoadError(f"{name}: the linear layer multiplies the weight by the features (W x), "
                             f"not the features by the weight: {NEEDS}")
    if attrs.get("transpose_a"):
        raise ModelLoadError(f"{name}: the linear layer transposes its features: {NEEDS}")
    return weight if attrs.get("transpose_b") else weight.T  # x @ W.T (torch, ONNX Gemm transB) or x @ W


def _whole_map(pool) -> bool:
    """Whether an AvgPool averages its whole input, unpadded, to one value a
    channel: global average pooling in a graph of a fixed input size (a
    7x7 average pooling, as many older exports have it)."""
    shape = pool.input_value(0).get_partial_shape()
    if not shape.rank.is_static or shape.rank.get_length() != 4 or not all(d.is_static for d in list(shape)[2:]):
        return False  # a free height or width: a fixed window is global at one size only
    attrs = pool.get_attributes()
    return (list(attrs.get("kernel", [])) == [d.get_length() for d in list(shape)[2:]]
            and not any(attrs.get("pads_begin", [])) and not any(attrs.get("pads_end", [])))


def _pool_layout(pool, name: str) -> str:
    rank = pool.input_value(0).get_partial_shape().rank
    axes = _constant(pool.input_value(1))
    if not rank.is_static or rank.get_length() != 4 or axes is None:
        raise ModelLoadError(f"{name}: the pooling does not average a 4-D feature tensor: {NEEDS}")
    spatial = sorted(int(a) % 4 for a in axes.reshape(-1))
    if spatial == [2, 3]:
        return "NCHW"
    if spatial == [1, 2]:
        return "NHWC"
    raise ModelLoadError(f"{name}: the mean before the linear layer is over axes {spatial}, not the spatial "
                         f"ones: {NEEDS}")


def _folded(weight: np.ndarray, affine, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The weight and bias with the Multiplies and Adds after the MatMul folded in
    (y = (x W^T) * s + t, in float64, then float32)."""
    classes = weight.shape[0]
    scale, shift = np.ones(classes), np.zeros(classes)
    for kind, const in reversed(affine):  # in the graph's order, from the MatMul on
        if const.size not in (1, classes) or const.size != max(const.shape, default=1):
            raise ModelLoadError(f"{name}: an {kind} after the linear layer has a constant of shape "
                                 f"{const.shape}, not one value per class: {NEEDS}")
        value = np.broadcast_to(const.reshape(-1), (classes,))
        if kind == "Multiply":
            scale, shift = scale * value, shift * value
        else:
            shift = shift + value
    return (weight * scale[:, None]).astype(np.float32), shift.astype(np.float32)


def _kind(node) -> str:
    return node.get_type_name()


def _fed_by(linear, feeder) -> str:
    """What feeds the linear layer, for the refusal: other fully connected layers
    (a VGG-style head) or some other operation (no pooling)."""
    more, node = 0, linear
    while True:
        pair = _split(node)
        nxt = pair[0].get_node() if pair is not None else _source(node)
        if nxt.get_type_name() == "MatMul" and _split(nxt) is not None:
            more += 1
        elif nxt.get_type_name() not in _BETWEEN:
            break
        node = nxt
    if more:
        return (f"the output comes from a linear layer fed by {more} more fully connected "
                f"layer{'s' if more > 1 else ''}")
    kind = _kind(feeder)
    return f"the linear layer is fed by {'an' if kind[0] in 'AEIOU' else 'a'} {kind}, not by global average pooling"
