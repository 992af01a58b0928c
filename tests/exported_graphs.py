"""Exported graphs built inside the tests: a seeded random resnet18 and the
embedded lite0 as ONNX (torch's TorchScript exporter, which needs the ``onnx``
package) and as OpenVINO IR (``openvino.convert_model``), and small networks
whose heads exact CAM must refuse or whose layout is NHWC."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def resnet18() -> nn.Module:
    """torchvision's resnet18 with random weights, the same every time (the
    caller's random stream left alone)."""
    import torchvision

    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None).eval()


class Lite0Net(nn.Module):
    """The embedded lite0 (a ``GapClassifier``) whole: features, mean, linear layer."""

    def __init__(self, model) -> None:
        super().__init__()
        self.features, self.fc = model.features, model.fc

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


class NhwcNet(nn.Module):
    """Takes NHWC images, pools NHWC features (a TensorFlow-style graph), softmax out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.conv(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        return self.fc(y.mean(dim=(1, 2))).softmax(dim=1)


class PixelsNet(nn.Module):
    """Takes NHWC uint8 pixels and scales them itself (a TensorFlow-style deployed graph)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.conv(x.permute(0, 3, 1, 2).float() / 255))
        return self.fc(y.mean(dim=(2, 3)))


class GapNet(nn.Module):
    """A small NCHW network that exact CAM takes: convolution, pooling, one linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1))


class ConvHead(nn.Module):
    """Pooling kept 1x1, a 1x1 convolution as the classifier, then a flatten (Keras's MobileNet)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fc = nn.Conv2d(8, 5, 1)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3), keepdim=True)).flatten(1).softmax(dim=1)


class WindowPool(nn.Module):
    """A fixed 16x16 average pooling (the whole map of a 64x64 input), as older exports pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.pool = nn.AvgPool2d(16)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


class VggHead(nn.Module):
    """Pooling, then two linear layers: not exact CAM's head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 5)

    def forward(self, x):
        y = nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1)
        return self.fc2(torch.relu(self.fc1(y)))


class NoPool(nn.Module):
    """Features flattened straight into the linear layer: no pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, stride=8, padding=1)
        self.fc = nn.Linear(2 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def export_onnx(net: nn.Module, path: Path, size=(224, 224), *, dynamic: bool = True, nhwc: bool = False,
                labels: list[str] | None = None) -> Path:
    """``net`` as an ONNX file; ``dynamic``: a free batch, height and width;
    ``labels``: stored in the file's metadata_props."""
    import warnings

    shape = (1, *size, 3) if nhwc else (1, 3, *size)
    example = torch.zeros(shape, dtype=torch.uint8 if isinstance(net, PixelsNet) else torch.float32)
    axes = {0: "n", 1: "h", 2: "w"} if nhwc else {0: "n", 2: "h", 3: "w"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on the legacy path and traced shapes
        torch.onnx.export(net.eval(), example, str(path), dynamo=False, input_names=["x"],
                          output_names=["scores"], dynamic_axes={"x": axes} if dynamic else None)
    if labels is not None:
        import onnx

        proto = onnx.load(str(path))
        proto.metadata_props.add(key="labels", value="\n".join(labels))
        onnx.save(proto, str(path))
    return path


def export_onnx_external(net: nn.Module, path: Path, size=(224, 224)) -> Path:
    """``net`` as an ONNX file whose weights are in an external data file beside it
    (``path`` + ``.data``, written anew: the same network gives the same ``.onnx``)."""
    import onnx

    export_onnx(net, path, size)
    data = path.with_name(path.name + ".data")
    data.unlink(missing_ok=True)
    onnx.save_model(onnx.load(str(path)), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=0)
    return path


def export_ir(net: nn.Module, path: Path, size=(224, 224), *, labels: list[str] | None = None) -> Path:
    """``net`` as OpenVINO IR (``path`` the .xml, the .bin beside it), free batch,
    height and width; ``labels`` in its rt_info."""
    import openvino as ov

    with torch.no_grad():
        model = ov.convert_model(net.eval(), example_input=torch.zeros(1, 3, *size),
                                 input=[ov.PartialShape([-1, 3, -1, -1])])
    if labels is not None:
        model.set_rt_info("\n".join(labels), ["labels"])
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path
