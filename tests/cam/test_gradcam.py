"""Grad-CAM: equals CAM up to a positive scale on a GAP -> Linear head, matches an
independent hook-based Grad-CAM on heads that are not, and runs from a thread that
is otherwise under inference_mode."""

import threading

import numpy as np
import pytest
import torch
from oneshot import cams

from camvideo.annotate import LabelAnnotator
from camvideo.cam.methods import GradCam, cam_method, class_maps
from camvideo.models import GradCamClassifier, load_model
from camvideo.models.netsplit import gradcam_module, split_network
from camvideo.results import Detection, FrameResult
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import LocalizeSettings

torch.set_num_threads(2)
SIZE = 64


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return load_model("resnet18", pretrained=False, input_size=SIZE)


@pytest.fixture(scope="module")
def mobilenet():
    torch.manual_seed(0)
    return load_model("mobilenet_v3_small", pretrained=False, input_size=SIZE)


def test_gradcam_equals_cam_up_to_positive_scale(resnet):
    assert resnet.method == "cam"
    # Grad-CAM on the very layer CAM uses, built from the same network.
    split = split_network(resnet.network, (SIZE, SIZE), layer=resnet.layer)
    grad_model = GradCamClassifier("r18", gradcam_module(split), 1000, resnet.labels, resnet.preprocessing)
    x = torch.randn(2, 3, SIZE, SIZE)
    ids = [3, 500, 999]
    with torch.no_grad():
        cam = class_maps(resnet(x), resnet.weight, torch.tensor(ids).expand(2, -1))
    grad = cams(GradCam(grad_model), x, class_ids=ids).maps
    h, w = cam.shape[-2:]
    # d logit_c / d A_k(x, y) = w_ck / (h w): Grad-CAM = CAM / (h w), scale > 0.
    torch.testing.assert_close(grad * (h * w), cam, rtol=1e-4, atol=1e-4)


def _hook_gradcam(model, x, class_id):
    """Textbook Grad-CAM on the whole network with a forward hook (independent of the fx surgery)."""
    net = model.network
    layer = net.get_submodule(model.layer)
    store = {}

    def hook(_module, _inp, out):
        out.retain_grad()
        store["a"] = out

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            xx = x.clone().requires_grad_(True)
            net(xx)[:, class_id].sum().backward()
    finally:
        handle.remove()
    a, g = store["a"], store["a"].grad
    return (g.mean(dim=(2, 3))[:, :, None, None] * a).sum(1).detach()


def test_gradcam_matches_hook_implementation(mobilenet):
    assert mobilenet.method == "gradcam" and mobilenet.layer == "features.12"
    x = torch.randn(2, 3, SIZE, SIZE)
    out = cams(cam_method(mobilenet), x, topk=3)
    assert out.method == "gradcam" and out.maps.shape[:2] == (2, 3)
    with torch.no_grad():
        torch.testing.assert_close(out.logits, mobilenet.network(x))
    for b in range(2):
        for j in range(3):
            ref = _hook_gradcam(mobilenet, x[b : b + 1], int(out.class_ids[b, j]))[0]
            torch.testing.assert_close(out.maps[b, j], ref, rtol=1e-4, atol=1e-5)


def test_gradcam_runs_in_a_thread_under_inference_mode(mobilenet):
    results, errors = [], []

    def worker():
        try:
            with torch.inference_mode():  # how the pipeline's worker runs
                x = torch.randn(1, 3, SIZE, SIZE)
                results.append(cams(cam_method(mobilenet), x, class_ids=[7]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(60)
    assert not errors, errors
    maps = results[0].maps
    assert maps.shape == (1, 1, 2, 2) and maps.abs().sum() > 0
    assert not maps.requires_grad


@pytest.mark.parametrize("name", ["vgg11", "convnext_tiny", "squeezenet1_1"])
def test_other_gradcam_heads(name):
    torch.manual_seed(0)
    model = load_model(name, pretrained=False, input_size=SIZE)
    assert model.method == "gradcam"
    out = cams(cam_method(model), torch.randn(1, 3, SIZE, SIZE), topk=2)
    assert out.maps.ndim == 4 and torch.isfinite(out.maps).all()


def test_frame_results_say_gradcam(mobilenet, resnet):
    frame = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    grad = FrameLocalizer(mobilenet, LocalizeSettings(topk=2))([frame])[0]
    cam = FrameLocalizer(resnet, LocalizeSettings(topk=2))([frame])[0]
    assert grad.method == "gradcam" and cam.method == "cam"
    d = grad.to_dict()
    assert set(d) == {"frame", "time", "width", "height", "detections"}
    for det in d["detections"]:
        assert set(det) - {"regions"} == {"rank", "class_id", "label", "score", "box", "method"}
        assert det["method"] == "gradcam"
    for det in cam.to_dict()["detections"]:
        assert set(det) - {"regions"} == {"rank", "class_id", "label", "score", "box"}


def test_label_tag_says_gradcam():
    det = (Detection(1, 0, "cat", 0.5, (0, 0, 30, 30)),)
    blank = np.zeros((120, 320, 3), np.uint8)
    plain = LabelAnnotator(0.5).annotate(blank.copy(), FrameResult(0, 0.0, 320, 120, det))
    tagged = LabelAnnotator(0.5).annotate(blank.copy(), FrameResult(0, 0.0, 320, 120, det, method="gradcam"))
    # the Grad-CAM tag is wider: it paints more pixels, to the right of the plain one
    assert (tagged.any(axis=2).sum(axis=0) > 0).sum() > (plain.any(axis=2).sum(axis=0) > 0).sum()
