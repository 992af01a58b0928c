import numpy as np
import pytest
import torch

from camvideo.cam.forward import Forward, TorchForward
from camvideo.cam.methods import CamMethod, ExactCam, GradCam, cam_method, class_chooser, class_maps, method_class
from camvideo.cam.preprocess import preprocess
from camvideo.models import load_model


def test_topk_maps_from_one_pass_equal_single_class_maps(lite0, photo):
    engine = cam_method(lite0)
    x = preprocess([photo("chelsea")], lite0)
    top = engine(x, topk=4)
    for j, class_id in enumerate(top.class_ids[0].tolist()):
        single = engine(x, class_ids=[class_id])
        torch.testing.assert_close(single.maps[0, 0], top.maps[0, j])
        assert single.scores[0, 0].item() == pytest.approx(top.scores[0, j].item())


def test_batch_equals_frame_by_frame(lite0, photo):
    engine = cam_method(lite0)
    frames = [photo("chelsea"), photo("coffee")]
    batch = engine(preprocess(frames, lite0), topk=2)
    for b, frame in enumerate(frames):
        one = engine(preprocess([frame], lite0), topk=2)
        assert one.class_ids[0].tolist() == batch.class_ids[b].tolist()
        torch.testing.assert_close(one.maps[0], batch.maps[b], rtol=1e-4, atol=1e-4)


def test_chosen_classes_keep_their_order_and_scores_are_probabilities(lite0, photo):
    engine = cam_method(lite0)
    out = engine(preprocess([photo("coffee")], lite0), class_ids=[968, 967])
    assert out.class_ids[0].tolist() == [968, 967]
    assert out.probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert out.scores[0, 1] > out.scores[0, 0]  # espresso beats cup on this photo


def test_class_maps_is_the_weighted_sum_of_feature_maps():
    feats = torch.randn(1, 6, 3, 4)
    weight = torch.randn(5, 6)
    maps = class_maps(feats, weight, torch.tensor([[3, 1]]))
    expected = torch.einsum("k,khw->hw", weight[1], feats[0])
    torch.testing.assert_close(maps[0, 1], expected)


@pytest.mark.parametrize("kwargs", [{"topk": 0}, {"topk": 1001}, {"class_ids": [1000]}, {"class_ids": []}])
def test_bad_class_choices_are_rejected(lite0, kwargs):
    engine = cam_method(lite0)
    with pytest.raises(ValueError):
        engine(torch.zeros(1, 3, 64, 64), **kwargs)


def test_preprocess_resizes_whole_frame_and_flips_to_rgb(lite0):
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 2] = 255  # pure red in BGR
    x = preprocess([frame], lite0)
    assert tuple(x.shape) == (1, 3, 224, 224)
    # lite0 scales to [-1, 1]: red channel 1, others -1
    assert x[0, 0].min().item() == pytest.approx(1.0)
    assert x[0, 1].max().item() == pytest.approx(-1.0)


# -- the methods as classes: one interface, capabilities, one chooser ----------------


@pytest.fixture(scope="module")
def gradcam_model():
    torch.manual_seed(0)
    return load_model("mobilenet_v3_small", pretrained=False, input_size=64)


def test_the_factory_picks_the_method_from_the_model(lite0, gradcam_model):
    assert method_class(lite0) is ExactCam and method_class(gradcam_model) is GradCam
    exact, grad = cam_method(lite0), cam_method(gradcam_model)
    assert isinstance(exact, ExactCam) and isinstance(grad, GradCam)
    assert isinstance(exact.forward, TorchForward) and isinstance(exact.forward, Forward)
    # What each can do, asked of the class (the pipeline and the localizer ask these).
    assert (ExactCam.name, ExactCam.smoothable, ExactCam.parallel) == ("cam", True, True)
    assert (GradCam.name, GradCam.smoothable, GradCam.parallel) == ("gradcam", False, False)


def test_both_methods_answer_through_one_interface(lite0, gradcam_model):
    for model in (lite0, gradcam_model):
        method = cam_method(model)
        assert isinstance(method, CamMethod)
        size = model.preprocessing.size
        x = method.prepare(torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1)))
        top = method(x, topk=3)
        fixed = method(x, class_ids=[7, 3])
        for out, k in ((top, 3), (fixed, 2)):
            assert out.method == method.name and out.features is None
            assert out.logits.shape == out.probs.shape == (2, model.num_classes)
            assert out.class_ids.shape == out.scores.shape == (2, k) and out.maps.shape[:2] == (2, k)
            assert out.maps.dtype == torch.float32 and torch.isfinite(out.maps).all()
            torch.testing.assert_close(out.scores, out.probs.gather(1, out.class_ids))
        assert fixed.class_ids.tolist() == [[7, 3], [7, 3]]
        assert (top.scores[:, :-1] >= top.scores[:, 1:]).all()  # best first
        assert top.host() is top  # on the CPU already: no copy


def test_exact_cam_evidence_then_maps_equals_one_call(lite0, photo):
    method = cam_method(lite0)
    x = preprocess([photo("chelsea"), photo("coffee")], lite0)
    full = method(x, topk=3)
    evidence = method.evidence(x)
    assert evidence.class_ids is None and evidence.scores is None and evidence.maps is None  # not chosen yet
    assert evidence.host() is evidence
    assert evidence.features.shape == (2, 1280, 7, 7)
    torch.testing.assert_close(evidence.probs, full.probs)
    with torch.inference_mode():
        torch.testing.assert_close(method.maps(evidence.features, full.class_ids), full.maps)


def test_gradcam_cannot_be_smoothed_nor_take_another_forward(gradcam_model, lite0):
    method = cam_method(gradcam_model)
    with pytest.raises(TypeError, match="smoothed"):
        method.evidence(torch.zeros(1, 3, 64, 64))
    with pytest.raises(TypeError, match="smoothable"):
        method.maps(torch.zeros(1, 4, 2, 2), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="forward"):
        cam_method(gradcam_model, forward=TorchForward(lite0))
    with pytest.raises(ValueError, match="compile"):
        cam_method(gradcam_model, compile=True)


@pytest.mark.parametrize("topk", [1, 5, 1000])
def test_the_chooser_takes_topk_in_range(topk):
    probs = torch.rand(2, 1000).softmax(dim=1)
    scores, ids = class_chooser(1000, 2, topk)(probs)
    assert ids.shape == (2, topk) and torch.equal(scores, probs.gather(1, ids))
    torch.testing.assert_close(scores[:, 0], probs.max(dim=1).values)


def test_the_chooser_keeps_fixed_ids_in_order_and_checks_them():
    probs = torch.rand(3, 10).softmax(dim=1)
    scores, ids = class_chooser(10, 3, class_ids=[9, 0, 4])(probs)
    assert ids.tolist() == [[9, 0, 4]] * 3 and torch.equal(scores, probs[:, [9, 0, 4]])
    for bad in ({"topk": 0}, {"topk": 11}, {"class_ids": []}, {"class_ids": [10]}, {"class_ids": [-1]}):
        with pytest.raises(ValueError, match="topk|class_ids"):
            class_chooser(10, 3, **bad)


def test_bad_class_choices_are_rejected_by_gradcam_too(gradcam_model):
    method = cam_method(gradcam_model)
    for kwargs in ({"topk": 0}, {"class_ids": [1000]}):
        with pytest.raises(ValueError):
            method(torch.zeros(1, 3, 64, 64), **kwargs)


class HostForward:
    """Another runtime, as far as the method can tell: the features come back from
    a NumPy array (as OpenVINO's would), the network run by torch underneath."""

    name = "host"

    def __init__(self, model):
        self.model = model
        self.calls = 0

    def prepare(self, x):
        return x.contiguous()

    def __call__(self, x):
        self.calls += 1
        with torch.inference_mode():
            out = self.model.features(x).numpy().copy()
        return torch.from_numpy(out)


def test_a_forward_from_another_runtime_plugs_into_the_localizer(lite0, photo):
    """Maps, smoothing and boxes need no change when the features come from elsewhere."""
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import LocalizeSettings, MapSettings, SmoothingSettings

    frames = [photo("chelsea"), photo("coffee"), photo("coffee")]
    # Plain CAM runs the batch in one call; the default preset (the frames' aspect
    # kept) runs one call per frame size (chelsea's, coffee's) through the same Forward.
    for settings, calls in ((LocalizeSettings(topk=3, maps=MapSettings()), 1),
                            (LocalizeSettings(topk=2, smoothing=SmoothingSettings(), maps=MapSettings()), 1),
                            (LocalizeSettings(topk=3), 2),
                            (LocalizeSettings(topk=2, smoothing=SmoothingSettings()), 2)):
        forward = HostForward(lite0)
        other = FrameLocalizer(lite0, settings, forward=forward)
        assert other.method.forward is forward
        want = FrameLocalizer(lite0, settings)(frames)
        got = other(frames)
        assert forward.calls == calls
        for a, b in zip(want, got):
            assert a.map_class_ids == b.map_class_ids and b.method == "cam"
            np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-4)
            assert [d.box for d in a.detections] == [d.box for d in b.detections]
