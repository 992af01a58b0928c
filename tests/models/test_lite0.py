"""camvideo.models.lite0: the embedded EfficientNet-Lite0 in plain torch gives timm's
tf_efficientnet_lite0 outputs with the same weights (any input size), loads both
weight formats, and loading it imports neither timm nor torchvision."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from camvideo.cam.preprocess import preprocess
from camvideo.errors import ModelLoadError
from camvideo.models import imagenet_labels, load_model
from camvideo.models.lite0 import EfficientNetLite0, same_padding
from camvideo.models.registry import _lite_weights_path

timm = pytest.importorskip("timm")

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture(scope="module")
def reference():
    """timm's tf_efficientnet_lite0 with the pip package's weights, loaded by
    position (the way the founding design measured it reproduces the reference outputs)."""
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    source = torch.load(_lite_weights_path("lite0"), map_location="cpu", weights_only=True)
    target = net.state_dict()
    assert len(source) == len(target)
    net.load_state_dict({name: tensor for name, tensor in zip(target, source.values())})
    return net


def _photos_and_noise(photo, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    model = load_model("lite0", input_size=size)
    x = preprocess([photo(name) for name in PHOTOS], model)
    noise = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(size))
    return model, torch.cat([x, noise])


@pytest.mark.parametrize("size", [224, 257])
def test_logits_equal_timms_on_photos_and_noise(reference, photo, size):
    model, x = _photos_and_noise(photo, size)
    with torch.inference_mode():
        want = reference(x)
        got = model.network(x)
        split = model.classify(model(x))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)  # measured: 0.0 (bitwise equal)
    torch.testing.assert_close(split, want, rtol=0, atol=1e-4)  # GAP by mean, not adaptive pooling
    assert torch.equal(got[:3].topk(5).indices, want[:3].topk(5).indices)
    if size == 224:
        top1 = [model.labels[i] for i in got[:3].argmax(1)]
        assert top1[0] == "Egyptian cat" and top1[1] == "espresso"


def test_same_padding_matches_timms_conv2d_same_for_odd_and_even_sizes():
    from timm.layers import Conv2dSame

    from camvideo.models.lite0 import SamePad

    gen = torch.Generator().manual_seed(0)
    for kernel in (3, 5):
        theirs = Conv2dSame(2, 3, kernel, stride=2, bias=False)
        ours = torch.nn.Sequential(SamePad(kernel, 2), torch.nn.Conv2d(2, 3, kernel, 2, bias=False))
        ours[1].weight.data.copy_(theirs.weight)
        for h, w in [(7, 7), (8, 8), (9, 10), (224, 224), (225, 113), (16, 31)]:
            x = torch.randn(1, 2, h, w, generator=gen)
            assert torch.equal(ours(x), theirs(x)), (kernel, h, w)
            assert ours(x).shape[-2:] == (-(-h // 2), -(-w // 2))
    # the extra pixel of an odd total goes after
    assert same_padding(224, 3, 2) == (0, 1) and same_padding(225, 3, 2) == (1, 1)
    assert same_padding(224, 5, 2) == (1, 2) and same_padding(7, 1, 2) == (0, 0)


def test_parameter_names_and_order_are_timms():
    ours = EfficientNetLite0().state_dict()
    theirs = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    assert list(ours) == list(theirs)
    assert [t.shape for t in ours.values()] == [t.shape for t in theirs.values()]


def test_timm_format_weights_file_loads_by_name(tmp_path, reference):
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    state["classifier.bias"] += 1.0  # so it cannot come from the embedded file
    torch.save(state, tmp_path / "timm.pth")
    model = load_model("lite0", weights=tmp_path / "timm.pth")
    assert torch.equal(model.fc.bias, state["classifier.bias"])
    assert torch.equal(model.network.blocks[5][3].conv_dw.weight, state["blocks.5.3.conv_dw.weight"])


def test_weights_without_batch_counters_load_both_ways(tmp_path, reference):
    """Tools often strip BN's num_batches_tracked: by name and by position still load."""
    state = {k: v.clone() for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["classifier.bias"] += 1.0
    torch.save(state, tmp_path / "stripped.pth")
    assert torch.equal(load_model("lite0", weights=tmp_path / "stripped.pth").fc.bias, state["classifier.bias"])
    renamed = {f"t{i}": v for i, v in enumerate(state.values())}  # names timm would not know: by position
    torch.save(renamed, tmp_path / "renamed.pth")
    assert torch.equal(load_model("lite0", weights=tmp_path / "renamed.pth").fc.bias, state["classifier.bias"])


def test_a_fine_tuned_head_is_a_one_line_error_that_says_how(tmp_path, reference):
    state = dict(reference.state_dict())
    state["classifier.weight"], state["classifier.bias"] = torch.zeros(10, 1280), torch.zeros(10)
    torch.save(state, tmp_path / "ten.pth")
    with pytest.raises(ModelLoadError, match="--checkpoint FILE --labels FILE"):
        load_model("lite0", weights=tmp_path / "ten.pth")


def test_the_last_maps_have_their_own_layer_name():
    """``head_act`` (what `camvideo models` prints) is the 7x7 maps after the last
    activation, not the stem's."""
    model = load_model("lite0", layer="head_act")
    assert model.method == "cam"  # the layer the pooling reads: exact CAM, as by default
    maps = model(torch.randn(1, 3, 224, 224))
    assert maps.shape == (1, 1280, 7, 7) and float(maps.min()) >= 0.0 and float(maps.max()) <= 6.0
    stem = load_model("lite0", layer="stem_act")
    assert stem.method == "gradcam" and stem(torch.randn(1, 3, 224, 224))[0].shape == (1, 32, 112, 112)


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    torch.save({"a.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ModelLoadError, match="not an EfficientNet-Lite0 checkpoint"):
        load_model("lite0", weights=tmp_path / "other.pth")


def test_layer_option_and_odd_input_size_trace_through_the_padding():
    model = load_model("lite0", layer="blocks.5", input_size=225)
    assert model.method == "gradcam" and model.layer.startswith("blocks.5.")
    maps, logits = model(torch.randn(1, 3, 225, 225))
    assert maps.shape == (1, 192, 8, 8) and logits.shape == (1, 1000)


def test_labels_file_is_torchvisions():
    from torchvision.models import ResNet50_Weights

    assert imagenet_labels() == list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def test_loading_and_localizing_imports_neither_timm_nor_torchvision(data_dir):
    code = f"""
import json, sys, torch
torch.set_num_threads(2)
from camvideo.models import load_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.video.sources import read_image
result = FrameLocalizer(load_model("lite0"))([read_image({str(data_dir / "chelsea.png")!r})])[0]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("timm", "torchvision"))
print(json.dumps({{"label": result.detections[0].label, "heavy": heavy}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"label": "Egyptian cat", "heavy": []}


def test_weights_become_the_networks_own_tensors_no_meta_left():
    """Built on the meta device, the network takes the file's tensors (assign): every
    tensor holds values, contiguous, in the module's dtypes, the batch counters zero,
    and the same values a randomly initialised network copying them gets."""
    from camvideo.models.checkpoints import _load_by_position, _read_state_dict, _without_batch_counts
    from camvideo.models.registry import _lite_network

    net = _lite_network(True, None)
    state = net.state_dict()
    assert not any(t.is_meta for t in state.values())
    assert all(t.is_contiguous() and t.device.type == "cpu" for t in state.values())
    assert {t.dtype for k, t in state.items() if not k.endswith("num_batches_tracked")} == {torch.float32}
    assert all(int(t) == 0 for k, t in state.items() if k.endswith("num_batches_tracked"))
    copied = EfficientNetLite0()
    _load_by_position(copied, _without_batch_counts(_read_state_dict(_lite_weights_path("lite0"))), "file")
    assert all(torch.equal(state[k], t) for k, t in copied.state_dict().items())
    assert not net.training


@pytest.mark.parametrize("variant, side, cells", [("lite1", 240, 8), ("lite2", 260, 9)])
def test_lite1_and_lite2_equal_timms_networks_and_keep_their_own_input_size(photo, variant, side, cells):
    """The built-in lite1/lite2: timm's tf_efficientnet_lite1/2 names and shapes, the
    pip package's weights loaded by position give timm's logits at their own size
    and at an odd one; their maps are 8x8 and 9x9 at the size they were trained at."""
    theirs = timm.create_model(f"tf_efficientnet_{variant}", pretrained=False).eval()
    source = torch.load(_lite_weights_path(variant), map_location="cpu", weights_only=True)
    assert len(source) == len(theirs.state_dict())
    theirs.load_state_dict({name: tensor for name, tensor in zip(theirs.state_dict(), source.values())})
    model = load_model(variant)
    assert [(k, v.shape) for k, v in model.network.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    assert model.preprocessing.size == (side, side) and model.method == "cam" and model.name == variant
    x = preprocess([photo(name) for name in PHOTOS[:2]], model)
    odd = torch.randn(1, 3, 225, 301, generator=torch.Generator().manual_seed(side))
    with torch.inference_mode():
        torch.testing.assert_close(model.network(x), theirs(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(model.network(odd), theirs(odd), rtol=0, atol=1e-5)
        assert model(x).shape == (2, 1280, cells, cells)
        top1 = [model.labels[i] for i in model.network(x).argmax(1)]
    assert top1 == ["Egyptian cat", "espresso"]


def test_a_variants_weights_file_in_another_variant_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"weights file .*: tensor .* has shape .* the model's .* needs"):
        load_model("lite1", weights=_lite_weights_path("lite2"))
