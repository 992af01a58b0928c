import numpy as np
import pytest
import torch
from oneshot import cams

from camvideo.cam.evidence import Evidence, check_request, choose_classes
from camvideo.cam.forward import Forward, TorchForward
from camvideo.cam.methods import CamMethod, ExactCam, GradCam, cam_method, class_maps, method_class
from camvideo.cam.preprocess import preprocess
from camvideo.models import load_model
from camvideo.settings import LocalizeSettings


def test_topk_maps_from_one_pass_equal_single_class_maps(lite0, photo):
    engine = cam_method(lite0)
    x = preprocess([photo("chelsea")], lite0)
    top = cams(engine, x, topk=4)
    for j, class_id in enumerate(top.class_ids[0].tolist()):
        single = cams(engine, x, class_ids=[class_id])
        torch.testing.assert_close(single.maps[0, 0], top.maps[0, j])
        assert single.scores[0, 0].item() == pytest.approx(top.scores[0, j].item())


def test_batch_equals_frame_by_frame(lite0, photo):
    engine = cam_method(lite0)
    frames = [photo("chelsea"), photo("coffee")]
    batch = cams(engine, preprocess(frames, lite0), topk=2)
    for b, frame in enumerate(frames):
        one = cams(engine, preprocess([frame], lite0), topk=2)
        assert one.class_ids[0].tolist() == batch.class_ids[b].tolist()
        torch.testing.assert_close(one.maps[0], batch.maps[b], rtol=1e-4, atol=1e-4)


def test_chosen_classes_keep_their_order_and_scores_are_probabilities(lite0, photo):
    engine = cam_method(lite0)
    out = cams(engine, preprocess([photo("coffee")], lite0), class_ids=[968, 967])
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
        cams(engine, torch.zeros(1, 3, 64, 64), **kwargs)


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
        top = cams(method, x, topk=3)
        fixed = cams(method, x, class_ids=[7, 3])
        for out, k in ((top, 3), (fixed, 2)):
            assert out.method == method.name
            assert out.logits.shape == out.probs.shape == (2, model.num_classes)
            assert out.class_ids.shape == out.scores.shape == (2, k) and out.maps.shape[:2] == (2, k)
            assert out.maps.dtype == torch.float32 and torch.isfinite(out.maps).all()
            torch.testing.assert_close(out.scores, out.probs.gather(1, out.class_ids))
        assert fixed.class_ids.tolist() == [[7, 3], [7, 3]]
        assert (top.scores[:, :-1] >= top.scores[:, 1:]).all()  # best first
        assert top.maps.device.type == "cpu"  # on the CPU already


def test_exact_cam_evidence_then_maps_equals_one_call(lite0, photo):
    method = cam_method(lite0)
    x = preprocess([photo("chelsea"), photo("coffee")], lite0)
    full = cams(method, x, topk=3)
    evidence = method.evidence(x)  # no class chosen yet: probabilities and features per frame
    assert len(evidence) == 2 and evidence[0].weights is None and evidence[0].covers([0, 999])
    assert evidence[0].features.shape == (1280, 7, 7)
    torch.testing.assert_close(torch.stack([ev.probs for ev in evidence]), full.probs)
    with torch.inference_mode():
        for b, ev in enumerate(evidence):
            torch.testing.assert_close(method.maps(ev, full.class_ids[b].tolist()), full.maps[b])


def test_gradcam_evidence_keeps_the_chosen_classes_only_and_takes_no_other_forward(gradcam_model, lite0):
    method = cam_method(gradcam_model)
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(ValueError, match="choose"):
        method.evidence(x)
    with pytest.raises(ValueError, match="flip"):
        method.evidence(x, lambda b, probs: [1], flip=True)
    (evidence,) = method.evidence(x, lambda b, probs: [3, 1])
    assert sorted(evidence.weights) == [1, 3] and evidence.covers([1]) and not evidence.covers([2])
    assert method.maps(evidence, [1, 3]).shape[0] == 2
    with pytest.raises(ValueError, match="again"):
        method.maps(evidence, [2])
    with pytest.raises(ValueError, match="forward"):
        cam_method(gradcam_model, forward=TorchForward(lite0))
    with pytest.raises(ValueError, match="compile"):
        cam_method(gradcam_model, compile=True)


@pytest.mark.parametrize("topk", [1, 5, 1000])
def test_the_chooser_takes_topk_in_range(topk):
    probs = torch.rand(1000).softmax(dim=0)
    chosen = choose_classes(probs, LocalizeSettings(topk=topk))
    ids = torch.tensor(chosen.class_ids)
    assert ids.shape == (topk,) and torch.equal(torch.tensor(chosen.scores, dtype=torch.float32), probs[ids])
    assert chosen.scores[0] == pytest.approx(float(probs.max()))


def test_the_chooser_keeps_fixed_ids_in_order_and_checks_them():
    probs = torch.rand(10).softmax(dim=0)
    chosen = choose_classes(probs, LocalizeSettings(class_ids=(9, 0, 4)))
    assert chosen.class_ids == (9, 0, 4)
    assert torch.equal(torch.tensor(chosen.scores, dtype=torch.float32), probs[[9, 0, 4]])
    for bad in ({"topk": 11}, {"class_ids": (10,)}, {"class_ids": (-1,)}):
        with pytest.raises(ValueError, match="topk|class_ids"):
            check_request(LocalizeSettings(**bad), 10)
    for bad in ({"topk": 0}, {"class_ids": ()}):
        with pytest.raises(ValueError, match="topk|class_ids"):
            LocalizeSettings(**bad)


def test_the_chooser_puts_the_held_label_first_and_the_rest_by_probability():
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])
    assert choose_classes(probs, LocalizeSettings(topk=3), leader=2).class_ids == (2, 1, 0)
    assert choose_classes(probs, LocalizeSettings(topk=1), leader=2).class_ids == (2,)


def test_bad_class_choices_are_rejected_by_gradcam_too(gradcam_model):
    method = cam_method(gradcam_model)
    for kwargs in ({"topk": 0}, {"class_ids": [1000]}):
        with pytest.raises(ValueError):
            cams(method, torch.zeros(1, 3, 64, 64), **kwargs)


class HostForward:
    """Another runtime, as far as the method can tell: the features come back from
    a NumPy array (as OpenVINO's would), the network run by torch underneath."""

    name = "host"

    def __init__(self, model):
        self.model = model
        self.calls = 0

    def prepare(self, x):
        return x.contiguous()

    def prepare_frames(self, frames, model):
        from camvideo.cam.preprocess import preprocess

        return self.prepare(preprocess(frames, model))

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


class HeadForward(HostForward):
    """A runtime whose graph holds the head too (``features_and_logits``), as
    camvideo's OpenVINO conversions do; its logits are the network's own
    (``model.network``, the untouched classifier), made in the same call."""

    def features_and_logits(self, x):
        with torch.inference_mode():
            return self(x), self.model.network(x)


@pytest.mark.parametrize("flip", [False, True])
def test_exact_cam_takes_the_logits_of_a_forward_that_runs_the_head(lite0, photo, flip):
    """One call for features and logits (the model's head not run again); the same
    evidence as the head in torch, mirror averaging included (the head is linear)."""
    x = preprocess([photo("chelsea"), photo("coffee")], lite0)
    forward = HeadForward(lite0)
    got = ExactCam(lite0, forward).evidence(x, flip=flip)
    want = ExactCam(lite0, HostForward(lite0)).evidence(x, flip=flip)
    assert forward.calls == 1
    for a, b in zip(got, want):
        torch.testing.assert_close(a.logits, b.logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a.probs, b.probs, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(a.features, b.features)


def test_exact_cam_maps_on_the_cpu_equal_torchs_product(lite0):
    from camvideo.cam.methods import cpu_class_maps

    rng = np.random.default_rng(3)
    feats = torch.from_numpy(rng.random((1280, 7, 9), dtype=np.float32))
    ids = [948, 3, 511]
    want = class_maps(feats[None], lite0.weight, torch.tensor([ids]))[0]
    got = cpu_class_maps(feats.numpy(), lite0.weight.detach().numpy(), ids)
    assert got.shape == (3, 7, 9) and got.dtype == np.float32
    assert np.allclose(got, want.numpy(), rtol=1e-5, atol=1e-4)
    method = cam_method(lite0)
    probs = torch.full((1000,), 1e-3)
    maps = method.maps(Evidence(probs=probs, logits=probs, features=feats), ids)
    assert torch.equal(maps, torch.from_numpy(got))  # a small product: NumPy's
    many = list(range(10))  # 10 x 1280 x 63 multiply-adds: torch's, not OpenBLAS's threads
    evidence = Evidence(probs=probs, logits=probs, features=feats)
    assert torch.equal(method.maps(evidence, many), class_maps(feats[None], lite0.weight, torch.tensor([many]))[0])


def test_the_chooser_gives_what_a_sort_of_all_probabilities_gives():
    rng = np.random.default_rng(8)
    for _trial in range(50):
        p = torch.from_numpy(rng.permutation(1000).astype(np.float32) / 1000.0)  # no ties
        order = np.argsort(-p.numpy()).tolist()
        k = int(rng.integers(1, 6))
        chosen = choose_classes(p, LocalizeSettings(topk=k))
        assert chosen.class_ids == tuple(order[:k])
        assert chosen.scores == tuple(float(p[c]) for c in order[:k])
        leader = int(rng.integers(0, 1000))
        held = choose_classes(p, LocalizeSettings(topk=k), leader=leader)
        assert held.class_ids == (leader, *[c for c in order if c != leader][: k - 1])
        assert held.scores == tuple(float(p[c]) for c in held.class_ids)


def test_evidence_made_without_settings_shares_one_default():
    """Each pass's Evidence starts with ``LocalizeSettings()`` (the forward half puts
    the pass's own in after): one frozen instance, not one made per frame."""
    probs = torch.zeros(4)
    a, b = (Evidence(probs=probs, logits=probs, features=torch.zeros(2, 3, 3)) for _ in range(2))
    assert a.settings is b.settings and a.settings == LocalizeSettings()


def test_array_maps_are_the_maps_as_an_array_and_keep_the_weights_array_once(lite0):
    from camvideo.cam.evidence import Evidence, evidence_maps

    rng = np.random.default_rng(5)
    feats = torch.from_numpy(rng.random((1280, 6, 10), dtype=np.float32))
    probs = torch.full((1000,), 1e-3)
    evidence = Evidence(probs=probs, logits=probs, features=feats)
    method = cam_method(lite0)
    for ids in ([7], [948, 3, 511], list(range(10))):  # NumPy's small product, then torch's
        got = method.array_maps(evidence, ids)
        assert isinstance(got, np.ndarray) and np.array_equal(got, method.maps(evidence, ids).numpy())
        assert np.array_equal(evidence_maps(method, evidence, ids), got)
    kept = method._weights[1]
    method.array_maps(evidence, [1])
    assert method._weights[1] is kept and np.shares_memory(kept, lite0.weight.detach().numpy())


def test_evidence_but_is_replace_without_init():
    import dataclasses

    from camvideo.cam.evidence import Evidence, as_array

    probs = torch.tensor([0.2, 0.8])
    evidence = Evidence(probs=probs, logits=probs, features=torch.zeros(2, 1, 1))
    copy = evidence.but(cut=True, leader=1)
    assert (copy.cut, copy.leader, evidence.cut, evidence.leader) == (True, 1, False, None)
    assert vars(copy) == vars(dataclasses.replace(evidence, cut=True, leader=1))
    with pytest.raises(TypeError):
        evidence.but(cutt=True)
    assert np.shares_memory(as_array(probs), probs.numpy())
    grad = torch.ones(2, requires_grad=True)
    assert np.array_equal(as_array(grad), [1.0, 1.0])
