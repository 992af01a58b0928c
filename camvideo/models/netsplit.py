"""Find, by inspection, where a classifier's class maps come from.

Any image classifier is traced with torch.fx (torchvision's node-path tracer, with
timm's leaf modules when timm is installed) and its shapes are propagated on a
dummy input (on the ``meta`` device when the network lives there: no memory, no
arithmetic). Walking back from the logits:

- ``Linear <- (dropout | flatten | identity | reshape)* <- global average pool <- F``
  with ``F`` a 4-D map: the head is exactly GAP -> Linear, so the class activation
  map ``sum_k w_ck F_k`` is exact (``method="cam"``);
- anything else (two linear layers, a norm after pooling, VGG's fully connected
  layers, SqueezeNet's conv classifier): Grad-CAM on the last 4-D map before the
  head (``method="gradcam"``);
- no 4-D map near the head (vision transformers): not supported.

A user-named layer (``--layer``) overrides the choice: a node name as
torchvision's ``get_graph_node_names`` prints it, or a module whose last node is
taken (``layer4``, ``features``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.nn import functional as F

from camvideo.errors import Hint, ModelLoadError, describe

log = logging.getLogger(__name__)

# A head this many parameterized layers deep (or deeper) past the last 4-D map is
# not "a head": the map is a patch embedding (a transformer), not a feature map.
MAX_HEAD_LAYERS = 8

_TRANSPARENT_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity, nn.Flatten)
_TRANSPARENT_FUNCTIONS = {torch.flatten, F.dropout, torch.squeeze, torch.reshape, torch.nn.functional.dropout1d}
_TRANSPARENT_METHODS = {"flatten", "view", "reshape", "squeeze", "contiguous"}


@dataclass(frozen=True)
class Split:
    """Where a traced network's maps come from.

    ``feature_node``: the 4-D map (CAM: the one that is globally average pooled
    into the classifier; Grad-CAM: the layer whose gradients weight the map).
    ``fc_node``: the final Linear (CAM only). ``layer``: its user-facing name.
    """

    method: str  # "cam" or "gradcam"
    layer: str
    num_classes: int
    graph_module: fx.GraphModule
    feature_node: fx.Node
    fc_node: fx.Node | None
    feature_shape: tuple[int, ...]

    @property
    def fc(self) -> nn.Linear | None:
        return None if self.fc_node is None else self.graph_module.get_submodule(self.fc_node.target)


class Unsupported(ModelLoadError):
    """The network has no class map this program can compute."""


def _tracer_kwargs(net: nn.Module) -> dict:
    from torchvision.models.feature_extraction import _set_default_tracer_kwargs

    kwargs: dict = {}
    if type(net).__module__.startswith("timm."):
        from timm.layers import get_notrace_functions, get_notrace_modules

        kwargs = {"leaf_modules": list(get_notrace_modules()), "autowrap_functions": list(get_notrace_functions())}
    return _set_default_tracer_kwargs(kwargs)


def trace(net: nn.Module) -> tuple[fx.GraphModule, dict[fx.Node, str]]:
    """The network's fx graph (traced in eval mode) and each node's qualified name."""
    from torchvision.models.feature_extraction import NodePathTracer

    was_training = net.training
    net.eval()
    try:
        tracer = NodePathTracer(**_tracer_kwargs(net))
        graph = tracer.trace(net)
    except Exception as exc:
        raise Unsupported(
            f"cannot trace {type(net).__name__} with torch.fx to find its feature layer "
            f"({describe(exc)})"
        ) from None
    finally:
        net.train(was_training)
    gm = fx.GraphModule(tracer.root, graph, type(net).__name__)
    return gm, dict(tracer.node_to_qualname)


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _module(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    return gm.get_submodule(node.target) if node.op == "call_module" else None


def _is_transparent(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Ops that do not change values in eval mode (dropout, flatten, reshape)."""
    if node.op == "call_module":
        return isinstance(_module(gm, node), _TRANSPARENT_MODULES)
    if node.op == "call_function":
        return node.target in _TRANSPARENT_FUNCTIONS
    if node.op == "call_method":
        return node.target in _TRANSPARENT_METHODS
    return False


def _is_gap(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Global average pooling over the two spatial axes of a 4-D input."""
    src = node.args[0] if node.args else None
    if not isinstance(src, fx.Node) or len(_shape(src) or ()) != 4:
        return False
    if node.op == "call_module":
        m = _module(gm, node)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return m.output_size in (1, (1, 1))
        # timm's SelectAdaptivePool2d when it is a leaf module
        if type(m).__name__ == "SelectAdaptivePool2d":
            return getattr(m, "pool_type", "") == "avg"
        return False
    if node.op == "call_function" and node.target is F.adaptive_avg_pool2d:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        return size in (1, (1, 1), [1, 1])
    if (node.op == "call_method" and node.target == "mean") or (node.op == "call_function" and node.target is torch.mean):
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if isinstance(dims, int) or dims is None:
            return False
        return {d % 4 for d in dims} == {2, 3}
    return False


def _ancestors(node: fx.Node) -> set[fx.Node]:
    seen: set[fx.Node] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        for a in n.all_input_nodes:
            if a not in seen:
                seen.add(a)
                stack.append(a)
    return seen


def _find_exact(gm: fx.GraphModule, logits: fx.Node) -> tuple[fx.Node, fx.Node] | None:
    """(feature node, Linear node) when the head is exactly GAP -> Linear."""
    if logits.op != "call_module" or not isinstance(_module(gm, logits), nn.Linear):
        return None
    node = logits.args[0]
    while isinstance(node, fx.Node) and _is_transparent(gm, node):
        node = node.args[0]
    if not isinstance(node, fx.Node) or not _is_gap(gm, node):
        return None
    return node.args[0], logits


def _is_pool(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(_module(gm, node), (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
    return node.op == "call_function" and node.target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d)


def _head_layers(gm: fx.GraphModule, feature: fx.Node, logits: fx.Node) -> int:
    """Parameterized modules between the feature map and the logits."""
    between = {n for n in _ancestors(logits) | {logits} if feature in _ancestors(n)}
    return sum(1 for n in between if n.op == "call_module" and any(True for _ in _module(gm, n).parameters()))


def _spatial(shape: tuple[int, ...] | None) -> bool:
    """A (B, C, h, w) map with channels and more than one position. (A channels-last
    view such as LayerNorm2d's (B, 1, 1, C) permutation is not one.)"""
    return shape is not None and len(shape) == 4 and shape[1] > 1 and shape[2] * shape[3] > 1


def _find_gradcam_layer(gm: fx.GraphModule, logits: fx.Node) -> fx.Node | None:
    """The last 4-D map with more than one position that the logits depend on
    (through an adaptive pooling, its input)."""
    ancestors = _ancestors(logits)
    chosen = None
    for node in gm.graph.nodes:
        if node in ancestors and node.op != "placeholder" and _spatial(_shape(node)):
            chosen = node
    if chosen is not None and _is_pool(gm, chosen) and _spatial(_shape(chosen.args[0])):
        chosen = chosen.args[0]
    return chosen


def _named_node(names: dict[fx.Node, str], layer: str) -> fx.Node:
    exact = [n for n, q in names.items() if q == layer or n.name == layer]
    if exact:
        return exact[-1]
    inside = [n for n, q in names.items() if q.startswith(layer + ".")]
    if inside:
        return inside[-1]  # the last node of a module is its output
    maps = [q for n, q in names.items() if _spatial(_shape(n))]
    raise ModelLoadError(
        f"layer {layer!r} is not in the model; layers with feature maps near the end: {', '.join(maps[-6:])}"
    )


def _propagate_shapes(gm: fx.GraphModule, input_size: tuple[int, int]) -> None:
    """Shapes on every node, computed on the ``meta`` device: no arithmetic, so a
    big network costs as little as a small one."""
    from torch.fx.passes.shape_prop import ShapeProp

    tensors = itertools.chain(gm.named_parameters(remove_duplicate=False), gm.named_buffers(remove_duplicate=False))
    meta = {k: torch.empty_like(v, device="meta") for k, v in tensors}
    example = torch.zeros(1, 3, *input_size, device="meta")
    try:
        from torch.nn.utils.stateless import _reparametrize_module
    except ImportError:  # a torch without it: real arithmetic on the real weights
        device = next((p.device for p in gm.parameters()), torch.device("cpu"))
        with torch.no_grad():
            ShapeProp(gm).propagate(example.to(device))
        return
    with torch.no_grad(), _reparametrize_module(gm, meta):
        ShapeProp(gm).propagate(example)


def split_network(net: nn.Module, input_size: tuple[int, int] = (224, 224), layer: str | None = None) -> Split:
    """Trace ``net``, propagate shapes on a (1, 3, H, W) input and decide CAM or Grad-CAM."""
    gm, names = trace(net)
    try:
        _propagate_shapes(gm, input_size)
    except Exception as exc:
        raise Unsupported(
            f"{type(net).__name__} does not run on a {input_size[0]}x{input_size[1]} input "
            f"({describe(exc)})"
        ) from None
    output = next(n for n in gm.graph.nodes if n.op == "output")
    logits = output.args[0]
    shape = _shape(logits) if isinstance(logits, fx.Node) else None
    if shape is None or len(shape) != 2:
        raise Unsupported(f"{type(net).__name__}'s output is not a (batch, classes) tensor of logits")
    num_classes = shape[1]
    exact = _find_exact(gm, logits)
    if layer is not None:
        feature = _named_node(names, layer)
        if len(_shape(feature) or ()) != 4:
            raise ModelLoadError(
                f"layer {layer!r} gives a tensor of shape {_shape(feature)}, not a (batch, channels, h, w) map"
            )
        if feature not in _ancestors(logits):
            raise ModelLoadError(f"layer {layer!r} does not feed the model's output")
        if exact is not None and feature is exact[0]:
            return Split("cam", names[feature], num_classes, gm, feature, exact[1], _shape(feature))
        return Split("gradcam", names[feature], num_classes, gm, feature, None, _shape(feature))
    if exact is not None:
        feature, fc = exact
        return Split("cam", names[feature], num_classes, gm, feature, fc, _shape(feature))
    feature = _find_gradcam_layer(gm, logits)
    if feature is None:
        raise Unsupported(f"{type(net).__name__} has no spatial feature map before its classifier")
    depth = _head_layers(gm, feature, logits)
    if depth >= MAX_HEAD_LAYERS:
        raise Unsupported(
            f"{type(net).__name__}: the last spatial map ({names[feature]}) is {depth} layers before the "
            "classifier (a transformer's patch embedding?): no class map; ", Hint("layer", action="name a layer with"),
            " to force Grad-CAM")
    return Split("gradcam", names[feature], num_classes, gm, feature, None, _shape(feature))


# --- graph surgery ---------------------------------------------------------------------


def features_module(split: Split) -> fx.GraphModule:
    """A GraphModule: image -> the feature map (the graph cut after ``feature_node``).
    It shares parameters with the traced network."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in split.graph_module.graph.nodes:
        if node.op == "output":
            break
        env[node] = graph.node_copy(node, lambda n: env[n])
        if node is split.feature_node:
            break
    graph.output(env[split.feature_node])
    return _graph_module(split, graph, "CamFeatures")


def _grad_leaf(t: torch.Tensor) -> torch.Tensor:
    """A leaf that requires grad: the backbone before it records no graph."""
    return t.detach().requires_grad_(True)


def _clone(t: torch.Tensor) -> torch.Tensor:
    # The rest of the network sees a copy: an in-place op after the map (ReLU(inplace))
    # must not touch the leaf whose gradient we want.
    return t.clone()


fx.wrap("_grad_leaf")
fx.wrap("_clone")


def gradcam_module(split: Split) -> fx.GraphModule:
    """A GraphModule: image -> (feature map as a grad-requiring leaf, logits).

    Run under ``torch.enable_grad()`` with parameters frozen, only the ops after the
    map record a graph, so a backward from a logit stops at the map: one forward,
    and a backward through the head only.
    """
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    leaf = None
    for node in split.graph_module.graph.nodes:
        if node.op == "output":
            graph.output((leaf, env[node.args[0]]))
            break
        env[node] = graph.node_copy(node, lambda n: env[n])
        if node is split.feature_node:
            leaf = graph.call_function(_grad_leaf, (env[node],))
            env[node] = graph.call_function(_clone, (leaf,))
    return _graph_module(split, graph, "GradCamNet")


def _graph_module(split: Split, graph: fx.Graph, class_name: str) -> fx.GraphModule:
    """``graph`` over the traced network's modules, without the nodes it does not
    use; ``layer`` names the layer its maps come from."""
    gm = fx.GraphModule(split.graph_module, graph, class_name)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    gm.layer = split.layer
    return gm
