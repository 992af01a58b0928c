"""Batch norms folded into convolutions: same features, same maps and boxes,
the stock network untouched, and no fold where it would change the result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from camvideo.models import load_model
from camvideo.models.fold import fold_batchnorm
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import LocalizeSettings


def _randomize_norms(module: nn.Module, seed: int = 0) -> None:
    """Trained-looking statistics, so folding has something to fold (fresh
    norms are the identity)."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) * 2 + 0.1)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)


def test_lite0_folds_every_pair_and_keeps_the_features_and_the_network():
    model = load_model("lite0")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = model(x)
        logits = model.network(x)
    stem = model.network.conv_stem.weight.clone()
    folded, count = fold_batchnorm(model.features, x[:1])
    assert count == 49  # stem, head and every block's convolutions
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.inference_mode():
        got = folded(x)
        assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()))
        # The stock network (sharing its tensors with model.features) is unchanged.
        assert torch.equal(model.network.conv_stem.weight, stem)
        assert torch.equal(model.network(x), logits)


def test_torchvision_resnet_with_trained_statistics():
    model = load_model("resnet18", pretrained=False).eval()
    _randomize_norms(model.features)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    folded, count = fold_batchnorm(model.features, x)
    assert count == 20  # stem, 16 block convolutions, 3 downsample shortcuts
    with torch.inference_mode():
        want, got = model(x), folded(x)
    assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()))


class _TappedConv(nn.Module):
    """conv -> bn, with the conv's output also added after the norm: folding the
    norm into the conv would change the tap, so nothing may be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_a_conv_output_used_twice_is_not_folded(caplog):
    net = _TappedConv().eval()
    _randomize_norms(net)
    x = torch.randn(1, 3, 16, 16)
    out, count = fold_batchnorm(net, x)
    assert out is net and count == 0
    assert "running the network as it is" in caplog.text


def test_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(_TappedConv().train(), torch.randn(1, 3, 8, 8))


def test_localizer_folds_once_and_gives_the_same_maps_and_boxes(photo):
    stock = load_model("lite0")
    model = load_model("lite0")
    plain = FrameLocalizer(stock, LocalizeSettings(topk=3), fold=False)
    fast = FrameLocalizer(model, LocalizeSettings(topk=3))
    assert model.features.folded_norms == 49 and not hasattr(stock.features, "folded_norms")
    features = model.features
    FrameLocalizer(model, LocalizeSettings(topk=1))  # a second localizer: no second copy
    assert model.features is features
    for name in ("chelsea", "coffee", "astronaut"):
        image = photo(name)
        want, got = plain([image])[0], fast([image])[0]
        assert [d.class_id for d in got.detections] == [d.class_id for d in want.detections]
        assert [d.box for d in got.detections] == [d.box for d in want.detections]
        np.testing.assert_allclose(got.heatmaps, want.heatmaps, atol=1e-4)
        np.testing.assert_allclose([d.score for d in got.detections], [d.score for d in want.detections], atol=1e-5)


class _InPlaceBetween(nn.Module):
    """Two conv -> bn blocks, then a conv whose output is changed in place before
    its norm (same tensor object, new version): that pair alone must not fold."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.conv = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(self.body(x))
        y.relu_()
        return self.bn(y)


def test_an_in_place_op_between_conv_and_norm_keeps_that_norm():
    net = _InPlaceBetween().eval()
    _randomize_norms(net)
    x = torch.randn(1, 3, 16, 16)
    folded, count = fold_batchnorm(net, x)
    assert count == 2 and isinstance(folded.bn, nn.BatchNorm2d)
    with torch.inference_mode():
        assert torch.allclose(folded(x), net(x), atol=1e-5)


class _StandardizedConv(nn.Conv2d):
    """Like timm's StdConv2d: weights standardized on the fly, which would undo a fold."""

    def forward(self, x):
        w = (self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)) / (self.weight.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return nn.functional.conv2d(x, w, self.bias, self.stride, self.padding)


def test_a_conv_that_transforms_its_weights_is_not_folded_and_the_rest_is():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), _StandardizedConv(4, 4, 3, padding=1),
                        nn.BatchNorm2d(4)).eval()
    _randomize_norms(net)
    x = torch.randn(1, 3, 16, 16)
    folded, count = fold_batchnorm(net, x)
    assert count == 1 and isinstance(folded[3], nn.BatchNorm2d)
    with torch.inference_mode():
        assert torch.allclose(folded(x), net(x), atol=1e-5)


def test_the_copy_shares_what_it_does_not_fold():
    model = load_model("lite0")
    folded, _ = fold_batchnorm(model.features, torch.randn(1, 3, 224, 224))
    original = {id(p) for p in model.features.parameters()}
    shared = [p for p in folded.parameters() if id(p) in original]
    assert model.fc.weight is folded.net.classifier.weight and shared  # the head: not copied
    assert folded.net.conv_stem.weight is not model.network.conv_stem.weight  # a folded conv: new tensors


def test_a_half_precision_model_runs_unfolded():
    model = load_model("resnet18", pretrained=False).eval().to(torch.bfloat16)
    localizer = FrameLocalizer(model, LocalizeSettings(topk=1), autocast="bf16")
    assert model.features.folded_norms == 0
    result = localizer([np.zeros((64, 64, 3), np.uint8)])[0]
    assert len(result.detections) == 1


def test_building_a_localizer_leaves_the_global_random_stream_alone():
    model = load_model("resnet18", pretrained=False).eval()  # random init draws from it
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    FrameLocalizer(model)
    assert model.features.folded_norms == 20 and torch.equal(torch.rand(3), want)


def test_a_localizer_built_in_inference_mode_still_folds():
    model = load_model("resnet18", pretrained=False).eval()
    _randomize_norms(model.features)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        want = model.features(x)
        FrameLocalizer(model)
        assert model.features.folded_norms == 20
        assert torch.allclose(model.features(x), want, atol=1e-4 * float(want.abs().max()))
