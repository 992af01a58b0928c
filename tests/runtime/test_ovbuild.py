"""The embedded Lite0's OpenVINO graph built from its weights: torch's features at
every input size (odd ones included, where "same" pads unevenly), no tracing for
the embedded model, and the traced path kept for everything else."""

from __future__ import annotations

import pytest
import torch

import camvideo.runtime  # noqa: F401 - first: OpenVINO imported without its usage telemetry
from camvideo.models import load_model

ov = pytest.importorskip("openvino")
from camvideo.models.ovcore import core  # noqa: E402 - after the skip
from camvideo.runtime import openvino as ovrt  # noqa: E402
from camvideo.runtime import ovbuild  # noqa: E402 - after the skip

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def lite0():
    return load_model("lite0")


@pytest.mark.parametrize("size", [(224, 224), (224, 288), (192, 320), (225, 301), (97, 131)])
def test_the_built_graph_gives_torchs_features_at_any_input_size(lite0, size):
    model = ovbuild.build(lite0.features, size)
    compiled = core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(sum(size)))
    with torch.inference_mode():
        ref = lite0.features(x)
    out = torch.from_numpy(compiled(x.numpy())[0])
    assert out.shape == ref.shape  # ceil(size / 32) maps, as TensorFlow's "same" gives
    assert (out - ref).abs().max() <= 1e-4 * (ref.max() - ref.min())


def test_the_embedded_model_converts_without_tracing(lite0, tmp_path, monkeypatch):
    def no_tracing(*args, **kwargs):
        raise AssertionError("convert_model was called for camvideo's own Lite0")

    monkeypatch.setattr(ov, "convert_model", no_tracing)
    entry = ovrt.convert(lite0, tmp_path, (224, 288))
    assert entry.fields["converter"] == ovbuild.BUILDER
    x = torch.rand(1, 3, 224, 288, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(ovrt.OpenVINOForward(lite0, cache=tmp_path, sizes=[(224, 288)])(x),
                                   lite0.features(x), atol=1e-4, rtol=1e-4)


def test_other_modules_are_traced_as_before(tmp_path):
    cut = load_model("lite0", layer="head_act")  # --layer: torch.fx's cut of the network, traced
    assert not ovbuild.supported(cut.features) and ovbuild.build(cut.features, (224, 224)) is None
    assert ovrt.cache_entry(cut, tmp_path).fields["converter"] == "convert_model"
    resnet = load_model("resnet18", pretrained=False, input_size=64)
    assert not ovbuild.supported(resnet.features)
    half = load_model("lite0")
    half.features.half()
    assert not ovbuild.supported(half.features)


def test_a_model_whose_norms_torch_folded_builds_the_same_graph():
    from camvideo.cam.forward import folded

    model = load_model("lite0")
    x = torch.randn(1, 3, 224, 288, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        ref = model.features(x)
    folded(model)  # in place: the window's torch forward pass does it before OpenVINO is asked
    compiled = core().compile_model(ovbuild.build(model.features, (224, 288)), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    out = torch.from_numpy(compiled(x.numpy())[0])
    assert (out - ref).abs().max() <= 1e-4 * (ref.max() - ref.min())


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_lite1_and_lite2_build_their_graphs_and_cache_apart(variant, tmp_path, monkeypatch):
    """The built-in lite1/lite2 take the built graph too (no tracing), equal to
    torch's features at their own size and at a preset's 4:3 size, each in its own
    cache entry."""
    model = load_model(variant)
    side = model.preprocessing.size[0]
    monkeypatch.setattr(ov, "convert_model", lambda *a, **k: pytest.fail("traced"))
    for size in [(side, side), (224, 320)]:
        x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(side))
        with torch.inference_mode():
            ref = model.features(x)
            out = ovrt.OpenVINOForward(model, cache=tmp_path, sizes=[size])(x)
        assert out.shape == ref.shape
        assert (out - ref).abs().max() <= 1e-4 * (ref.max() - ref.min())
    entry = ovrt.cache_entry(model, tmp_path)
    assert entry.fields["converter"] == ovbuild.BUILDER and entry.fields["model"] == variant
    assert entry.key != ovrt.cache_entry(load_model("lite0"), tmp_path, (side, side)).key


@pytest.mark.parametrize("layer", [None, "head_act"])
def test_the_converted_graph_holds_the_head_whose_logits_are_torchs(lite0, layer, tmp_path):
    """Both paths (built, traced) get the head as a second output: torch's logits to
    float rounding at f32, from the same inference as the features."""
    model = lite0 if layer is None else load_model("lite0", layer=layer)
    entry = ovrt.convert(model, tmp_path, (224, 288))
    assert entry.fields["head"][0] == ovbuild.HEAD
    forward = ovrt.OpenVINOForward(model, cache=tmp_path, sizes=[(224, 288)])
    x = torch.randn(2, 3, 224, 288, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        feats, logits = forward.features_and_logits(x)
        ref = model.classify(model.features(x))
    assert logits.shape == (2, 1000) and logits.dtype == torch.float32
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, model.classify(feats), atol=1e-5, rtol=1e-5)


def test_with_head_takes_a_plain_linear_layer_only(lite0):
    with pytest.raises(TypeError, match="Linear"):
        ovbuild.with_head(ovbuild.build(lite0.features, (224, 224)), torch.nn.Identity())
