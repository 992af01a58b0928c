"""OpenVINO's graph takes the frames' resized uint8 BGR pixels and normalizes them
itself (``ovbuild.with_pixels``, ``OpenVINOForward.prepare_frames``): the same
numbers as ``camvideo.cam.preprocess``, its own compiled blob, any frame size."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from camvideo.cam.preprocess import from_pixels, is_pixels, mirrored, pixels, preprocess, resize_for_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import LocalizeSettings, MapSettings

ov = pytest.importorskip("openvino")
from camvideo.runtime import openvino as ovrt  # noqa: E402 - after the skip
from camvideo.runtime import ovbuild, ovcache  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def _sized(model, size):
    import dataclasses
    import types

    prep = dataclasses.replace(model.preprocessing, size=size)
    return types.SimpleNamespace(preprocessing=prep, device=model.device)


def test_the_graph_normalizes_a_real_frame_as_preprocess_does(openvino_lite0, photo):
    """The pixels' steps alone (an identity network behind them) give preprocess's
    blob of a real photo to float rounding."""
    import openvino.opset13 as ops

    from camvideo.models.ovcore import core

    model, _ = openvino_lite0
    size = (224, 288)
    frame = photo("astronaut")
    data = ops.parameter([1, 3, *size], np.float32)
    network = ovbuild.with_pixels(ov.Model([ops.result(data)], [data]), model.preprocessing.mean,
                                  model.preprocessing.std)
    compiled = core().compile_model(network, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    raw = resize_for_model(frame, size[1], size[0])[None]
    got = compiled.create_infer_request().infer([raw])[0]
    want = preprocess([frame], _sized(model, size)).numpy()
    assert got.shape == want.shape == (1, 3, *size)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_the_forward_pass_of_the_pixels_gives_the_float_batchs_maps_and_logits(openvino_lite0, photo):
    model, _ = openvino_lite0
    forward = ovrt.OpenVINOForward(model, sizes=[(224, 288)], precision="f32")
    sized = _sized(model, (224, 288))
    frame = photo("chelsea")
    x = forward.prepare_frames([frame], sized)
    assert is_pixels(x) and tuple(x.shape) == (1, 224, 288, 3)
    torch.testing.assert_close(from_pixels(x, model), preprocess([frame], sized), atol=0, rtol=0)
    with torch.inference_mode():
        feats, logits = forward.features_and_logits(x)
        want_feats, want_logits = forward.features_and_logits(preprocess([frame], sized))
        ref = model.features(preprocess([frame], sized))
    torch.testing.assert_close(feats, want_feats, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, want_logits, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(feats, ref, atol=1e-4, rtol=1e-4)
    # Mirrored pixels are the mirrored float batch, exactly.
    both = mirrored(x)
    torch.testing.assert_close(from_pixels(both, model), mirrored(preprocess([frame], sized)), atol=0, rtol=0)


def test_the_pixels_input_has_its_own_compiled_blob(openvino_lite0, monkeypatch, tmp_path):
    """The compiled model's cache tag names the pixels' input and its normalization:
    a blob of the float input is never imported for it, and a change to the graph's
    steps (``ovbuild.PIXELS``) or to the normalization makes a new blob."""
    model, _ = openvino_lite0
    entry = ovcache.convert(model, tmp_path)
    config = {"PERFORMANCE_HINT": "LATENCY"}
    norm = (model.preprocessing.mean, model.preprocessing.std)
    plain, pix = (ovcache._blob(entry, "CPU", config, None, 1, p)[0] for p in (None, norm))
    other = ovcache._blob(entry, "CPU", config, None, 1, (norm[0], (0.25, 0.25, 0.25)))[0]
    monkeypatch.setattr(ovbuild, "PIXELS", ovbuild.PIXELS + "-next")
    bumped = ovcache._blob(entry, "CPU", config, None, 1, norm)[0]
    assert len({plain, pix, other, bumped}) == 4
    monkeypatch.undo()
    forward = ovrt.OpenVINOForward(model, cache=tmp_path)
    plain, pix = (ovcache._blob(entry, "CPU", forward._config, None, 1, p)[0] for p in (None, norm))
    assert pix.is_file() and not plain.exists()  # the float input compiles on its first batch only
    assert forward._shape((224, 224)).compiled.inputs[0].get_element_type() == ov.Type.u8


def test_frames_of_two_sizes_in_one_batch_run_on_the_pixels_of_each(openvino_lite0, photo):
    """The default preset groups a batch by frame size; each size's pass feeds its
    graph the pixels, and the results are torch's."""
    model, _ = openvino_lite0
    wide = resize_for_model(photo("chelsea"), 640, 480)
    tall = np.ascontiguousarray(np.rot90(photo("coffee")))
    settings = LocalizeSettings(topk=2, maps=MapSettings(input="aspect"))
    forward = ovrt.OpenVINOForward(model, precision="f32")
    got = FrameLocalizer(model, settings, forward=forward)([wide, tall])
    want = FrameLocalizer(model, settings)([wide, tall])
    assert {(224, 288), (288, 224)} <= set(forward.sizes)
    assert all(s.pixels for s in forward._shapes.values() if s is not None)
    for g, w in zip(got, want):
        assert [d.class_id for d in g.detections] == [d.class_id for d in w.detections]
        np.testing.assert_allclose(g.maps.heat, w.maps.heat, atol=2e-3)


def test_bad_frames_and_a_graph_that_cannot_take_pixels_say_so_in_one_line(openvino_lite0, monkeypatch, caplog,
                                                                            tmp_path):
    model, _ = openvino_lite0
    sized = _sized(model, (224, 224))
    for bad in (np.zeros((32, 32), np.uint8), np.zeros((32, 32, 3), np.float32)):
        with pytest.raises(ValueError, match="BGR uint8") as err:
            pixels([bad], sized)
        assert "\n" not in str(err.value)

    def broken(network, mean, std):
        raise RuntimeError("no pixels here\nsecond line of a long OpenVINO message")

    monkeypatch.setattr(ovbuild, "with_pixels", broken)
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.openvino"):
        forward = ovrt.OpenVINOForward(model, cache=tmp_path)
    (record,) = [r for r in caplog.records if "pixels" in r.getMessage()]
    assert "no pixels here" in record.getMessage() and "\n" not in record.getMessage()
    x = forward.prepare_frames([np.full((48, 64, 3), 128, np.uint8)], sized)
    assert not is_pixels(x)  # the normalized batch, still on OpenVINO
    with torch.inference_mode():
        torch.testing.assert_close(forward(x), model.features(x), atol=1e-4, rtol=1e-4)
