"""OpenVINO for exact CAM's forward pass: parity with torch on the embedded model,
the conversion cache (kept, found, rebuilt when corrupted), no copies, throughput
mode in frame order, the runtime choice and its fallback, devices."""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from camvideo.cam.boxes import iou
from camvideo.errors import CamvideoError
from camvideo.models import GapClassifier, Preprocessing, load_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.runtime.runtimes import choose_runtime, convert_in_background, make_forward, parse_device
from camvideo.settings import LocalizeSettings, SmoothingSettings

ov = pytest.importorskip("openvino")
from camvideo.runtime import openvino as ovrt  # noqa: E402 - after the skip

pytestmark = pytest.mark.timeout(600)
PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture(scope="module")
def forward(openvino_lite0):
    model, _ = openvino_lite0
    return ovrt.OpenVINOForward(model)  # from the cache the session fixture filled


def _frames(photo, size=None):
    images = [photo(name) for name in PHOTOS]
    return [cv2.resize(i, size, interpolation=cv2.INTER_AREA) for i in images] if size else images


def _raw_maps(localizer, frame, ids):
    """The raw (unnormalized) maps of fixed classes from the map pass of the
    localizer's preset (the frame's aspect kept, by default), through its method."""
    with torch.inference_mode():
        (evidence,) = localizer._passes.evidence([frame], localizer.settings)
        return localizer.method.maps(evidence, ids).numpy()


@pytest.mark.parametrize("quality,size", [("balanced", None), ("balanced", (640, 480)), ("fast", (640, 480)),
                                          ("best", (640, 480))])
def test_openvino_gives_torchs_classes_maps_and_boxes(openvino_lite0, forward, photo, quality, size):
    """Same top-3, maps within 1e-3 of the map's range, boxes IoU >= 0.98, on each
    preset (``balanced`` is the default: one input size per frame aspect)."""
    from camvideo.presets import DEFAULT_QUALITY, quality_settings

    model, _ = openvino_lite0
    settings = quality_settings(quality, LocalizeSettings(topk=3))
    assert quality != DEFAULT_QUALITY or settings == LocalizeSettings(topk=3)
    torch_side = FrameLocalizer(load_model("lite0"), settings)
    ov_side = FrameLocalizer(model, settings, forward=forward)
    assert (torch_side.runtime, ov_side.runtime) == ("torch", "openvino")
    for frame in _frames(photo, size):
        want, got = torch_side([frame])[0], ov_side([frame])[0]
        assert got.map_class_ids == want.map_class_ids
        ids = list(want.map_class_ids)
        a, b = _raw_maps(torch_side, frame, ids), _raw_maps(ov_side, frame, ids)
        assert a.shape == b.shape
        for j in range(3):
            span = float(a[j].max() - a[j].min())
            assert np.abs(a[j] - b[j]).max() <= 1e-3 * span
        assert [d.class_id for d in got.detections] == [d.class_id for d in want.detections]
        for da, db in zip(want.detections, got.detections):
            assert (da.box is None) == (db.box is None)
            if da.box is not None:
                assert iou(da.box, db.box) >= 0.98
        np.testing.assert_allclose([d.score for d in got.detections], [d.score for d in want.detections], atol=1e-4)
    if quality != "fast":  # the preset's sizes were compiled, beside the model's own
        assert len(forward.sizes) >= 2


def test_one_compiled_model_per_input_size_the_last_used_kept(tmp_path, openvino_lite0):
    """Each size converted at its own size (its own cache entry), compiled on first
    use; at most ``max_shapes`` kept, the least recently used dropped."""
    model, _ = openvino_lite0
    gen = torch.Generator().manual_seed(2)
    sizes = [(224, 224), (224, 288), (192, 320)]
    inputs = {s: torch.randn(1, 3, *s, generator=gen) for s in sizes}
    with torch.inference_mode():
        refs = {s: model.features(x) for s, x in inputs.items()}
    fw = ovrt.OpenVINOForward(model, sizes=sizes[:2], max_shapes=2)
    assert fw.sizes == sizes[:2] and all(ovrt.cached(model, size=s) for s in sizes[:2])
    assert ovrt.cache_entry(model, size=sizes[0]).key != ovrt.cache_entry(model, size=sizes[1]).key
    for s in (sizes[0], sizes[2], sizes[0]):  # the third size on first use; (224, 288) was used least recently
        got = fw(inputs[s])
        assert got.shape == refs[s].shape
        torch.testing.assert_close(got, refs[s], atol=1e-4, rtol=1e-4)
    assert fw.sizes == [sizes[2], sizes[0]]
    with pytest.raises(ValueError, match="size"):
        ovrt.OpenVINOForward(model, sizes=[(224,)])
    with pytest.raises(ValueError, match="max_shapes"):
        ovrt.OpenVINOForward(model, max_shapes=0)


def test_smoothing_boxes_and_overlay_need_no_change(openvino_lite0, forward, photo):
    model, _ = openvino_lite0
    settings = LocalizeSettings(topk=2, smoothing=SmoothingSettings())
    frames = [f for f in _frames(photo, (320, 240)) for _ in range(3)]
    want = FrameLocalizer(load_model("lite0"), settings)(frames)
    got = FrameLocalizer(model, settings, forward=forward)(frames)
    for a, b in zip(want, got):
        assert a.map_class_ids == b.map_class_ids
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-3)
        for da, db in zip(a.detections, b.detections):
            assert da.class_id == db.class_id and (da.box is None or iou(da.box, db.box) >= 0.98)


def test_features_come_back_without_a_copy_and_are_not_overwritten(openvino_lite0, forward):
    model, _ = openvino_lite0
    gen = torch.Generator().manual_seed(0)
    x1, x2 = (torch.randn(2, 3, 224, 224, generator=gen) for _ in range(2))
    with torch.inference_mode():
        ref1 = model.features(x1)
    first = forward(x1)
    assert first.dtype == torch.float32 and first.shape == (2, 1280, 7, 7)
    written = forward._shape((224, 224))._runner(2)._local.request.get_output_tensor(0).data  # what OpenVINO wrote into
    assert np.shares_memory(written, first.numpy())  # the tensor is that memory: no copy
    second = forward(x2)
    assert second.data_ptr() != first.data_ptr()  # a fresh array per call ...
    torch.testing.assert_close(first, ref1, atol=1e-4, rtol=1e-4)  # ... so the first one still holds x1's


def test_each_batch_runs_on_a_model_compiled_for_that_many_frames(openvino_lite0, tmp_path):
    """A batch of one frame (a file's or a window's) runs on a model compiled with
    its batch fixed at 1, kept in the cache; three frames compile a static batch of
    3 on first use, kept beside it; each gives torch's features and logits."""
    from camvideo.runtime import ovcache

    model, _ = openvino_lite0
    forward = ovrt.OpenVINOForward(model, cache=tmp_path)
    shape = forward._shape((224, 224))
    assert shape.compiled.inputs[0].get_partial_shape().is_static
    assert list(shape.compiled.inputs[0].get_shape()) == [1, 224, 224, 3]  # the frame's pixels
    assert shape.compiled.inputs[0].get_element_type() == ov.Type.u8
    assert list(shape._runners) == [(True, 1)]  # the float input, other batches: when such a batch comes
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 3, 224, 224, generator=gen)
    with torch.inference_mode():
        ref = model.features(x)
        logits = model.classify(ref)
    for batch in (x[:1], x):
        feats, got = forward.features_and_logits(batch)
        torch.testing.assert_close(feats, ref[: len(batch)], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(got, logits[: len(batch)], atol=1e-3, rtol=1e-3)
    assert sorted(shape._runners, key=str) == [(False, 1), (False, 3), (True, 1)]
    assert list(shape._runners[(False, 3)].compiled.inputs[0].get_shape()) == [3, 3, 224, 224]
    static, three = (ovcache._blob(shape.entry, "CPU", forward._config, None, b)[0] for b in (1, 3))
    assert static != three and static.exists() and three.exists()  # each its own blob, kept
    again = ovrt.OpenVINOForward(model, cache=tmp_path)  # imports the batch-1 blob
    torch.testing.assert_close(again(x[:1]), ref[:1], atol=1e-4, rtol=1e-4)


def test_a_partial_batch_runs_a_frame_at_a_time_with_the_same_bits(openvino_lite0, monkeypatch):
    """A batch smaller than one already compiled (a file run's last) runs each frame
    on the one-frame model: no compile, and the same outputs as in the full batch;
    past ``MAX_BATCHES`` sizes a batch runs on the free batch."""
    model, _ = openvino_lite0
    forward = ovrt.OpenVINOForward(model, mode="throughput", precision="auto")
    shape = forward._shape((224, 224))
    frames = [torch.from_numpy(np.full((1, 224, 224, 3), v, np.uint8)) for v in (10, 80, 150, 220)]
    full, full_logits = forward.features_and_logits(torch.cat(frames))
    part, part_logits = forward.features_and_logits(torch.cat(frames[:3]))
    assert sorted(shape._runners, key=str) == [(True, 1), (True, 4)]  # no static 3
    assert torch.equal(part, full[:3]) and torch.equal(part_logits, full_logits[:3])
    monkeypatch.setattr(ovrt, "MAX_BATCHES", 1)
    more = torch.cat(frames + frames)  # 8 frames: past the sizes kept
    feats, _ = forward.features_and_logits(more)
    assert (True, None) in shape._runners and (True, 8) not in shape._runners
    assert torch.equal(feats, torch.cat([full, full]))


def test_throughput_mode_from_many_threads_gives_each_caller_its_features(openvino_lite0):
    model, _ = openvino_lite0
    fast = ovrt.OpenVINOForward(model, mode="throughput")
    assert fast.jobs >= 1
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(1, 3, 224, 224, generator=gen) for _ in range(8)]
    with torch.inference_mode():
        refs = [model.features(x) for x in inputs]
    out: dict[int, torch.Tensor] = {}
    errors = []

    def work(i):
        try:
            out[i] = fast(inputs[i])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    fast.close()
    assert not errors and sorted(out) == list(range(8))
    for i, ref in enumerate(refs):
        torch.testing.assert_close(out[i], ref, atol=1e-4, rtol=1e-4)


def test_a_file_through_the_pipeline_on_throughput_mode_keeps_frame_order(tmp_path, openvino_lite0, photo):
    from clips import make_clip

    from camvideo.annotate import FrameAnnotator
    from camvideo.runtime.pipeline import Pipeline
    from camvideo.video.sources import open_source

    model, _ = openvino_lite0
    clip = tmp_path / "in.mp4"
    make_clip(clip, size=(160, 120), times=[i / 25 for i in range(10)])
    settings = LocalizeSettings(topk=2, smoothing=SmoothingSettings())
    results = {}
    for name, localizer in (("torch", FrameLocalizer(load_model("lite0"), settings)),
                            ("openvino", FrameLocalizer(model, settings,
                                                        forward=ovrt.OpenVINOForward(model, mode="throughput")))):
        seen = []

        class Keep:
            def write(self, item, seen=seen):
                seen.append(item.result)

            def close(self):
                pass

        with open_source(clip) as src, Pipeline(src, localizer, [FrameAnnotator()], [Keep()], batch_size=2) as pipe:
            pipe.start()
            assert pipe.wait(120) and pipe.error is None
        results[name] = seen
    assert [r.frame for r in results["openvino"]] == list(range(10))
    for a, b in zip(results["torch"], results["openvino"]):
        assert a.map_class_ids == b.map_class_ids
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-3)


def test_the_conversion_is_cached_found_again_and_rebuilt_when_corrupted(tmp_path, caplog):
    model = load_model("lite0")
    entry = ovrt.convert(model, tmp_path)
    assert entry.xml.is_file() and (entry.folder / "features.bin").is_file()
    assert entry.fields["model"] == "lite0" and entry.fields["input"] == [224, 224]
    assert entry.fields["openvino"] == ov.get_version()
    stamp = (entry.folder / "features.bin").stat().st_mtime_ns
    again = ovrt.convert(model, tmp_path)  # found: not converted again
    assert again == entry and (entry.folder / "features.bin").stat().st_mtime_ns == stamp
    good = (entry.folder / "features.bin").read_bytes()
    broken = bytearray(good)
    broken[len(broken) // 2 : len(broken) // 2 + 64] = bytes(64)  # a hole in the weights
    (entry.folder / "features.bin").write_bytes(bytes(broken))
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.openvino"):
        rebuilt = ovrt.convert(model, tmp_path)
    assert "does not match" in caplog.text
    assert rebuilt.folder == entry.folder and (entry.folder / "features.bin").read_bytes() == good
    (entry.folder / "manifest.json").write_text("{not json")  # a manifest cut short: rebuilt too
    assert ovrt.convert(model, tmp_path).folder == entry.folder and ovrt._valid(entry)
    # What was rebuilt runs and gives torch's features.
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        ref = model.features(x)
    torch.testing.assert_close(ovrt.OpenVINOForward(model, cache=tmp_path)(x), ref, atol=1e-4, rtol=1e-4)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    assert sys.modules.get("openvino_telemetry") is None  # OpenVINO sent no usage events (camvideo/__init__.py)
    # The compiled models kept beside the IR (the pixels' input, made at once; the float
    # input, on its first batch): imported next time, compiled again when damaged.
    from camvideo.runtime.ovcache import _blob

    prep, config = model.preprocessing, ovrt.OpenVINOForward(model, cache=tmp_path)._config
    blob = _blob(entry, "CPU", config, None, 1, (prep.mean, prep.std))[0]
    assert sorted(entry.folder.glob("compiled-*.blob")) == sorted([blob, _blob(entry, "CPU", config, None, 1)[0]])
    kept = blob.read_bytes()
    torch.testing.assert_close(ovrt.OpenVINOForward(model, cache=tmp_path)(x), ref, atol=1e-4, rtol=1e-4)
    assert blob.read_bytes() == kept  # imported, not compiled again
    damaged = bytearray(kept)
    damaged[len(damaged) // 2 : len(damaged) // 2 + 4096] = bytes(4096)
    blob.write_bytes(bytes(damaged))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.openvino"):
        again = ovrt.OpenVINOForward(model, cache=tmp_path)
    assert "does not match its digest" in caplog.text
    torch.testing.assert_close(again(x), ref, atol=1e-4, rtol=1e-4)  # not the damaged blob's features
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == (blob.with_suffix(".sha256")).read_text()
    assert not [p for p in entry.folder.iterdir() if p.name.startswith(".")]


def test_a_second_run_converting_at_once_keeps_the_first_runs_entry(tmp_path):
    """Two runs convert one model at once: the one that finishes second finds a whole
    entry in place, which the first compiles from and keeps its compiled models in.
    It keeps it (it removed it, then renamed its own into place)."""
    from camvideo.runtime.ovcache import _store

    model = load_model("lite0")
    entry = ovrt.convert(model, tmp_path)
    xml = entry.xml.stat().st_ino
    (entry.folder / "compiled-0.blob").write_bytes(b"the first run's compiled model")
    _store(entry, ov.Core().read_model(str(entry.xml)))  # the second run's conversion, done later
    assert entry.xml.stat().st_ino == xml and (entry.folder / "compiled-0.blob").is_file() and ovrt._valid(entry)
    assert [p.name for p in tmp_path.iterdir()] == [entry.folder.name]  # its staging folder gone


def test_the_cache_key_follows_weights_head_input_size_and_layer(tmp_path):
    model = load_model("lite0")
    key = ovrt.cache_entry(model, tmp_path).key
    assert ovrt.cache_entry(load_model("lite0"), tmp_path).key == key  # same model: same key
    other = load_model("lite0")
    with torch.no_grad():
        other.features.net.conv_stem.weight[0, 0, 0, 0] += 1.0
    assert ovrt.cache_entry(other, tmp_path).key != key
    assert ovrt.cache_entry(load_model("lite0", input_size=256), tmp_path).key != key
    head = load_model("lite0")  # the head is in the graph: its weights are in the key
    with torch.no_grad():
        head.fc.bias[0] += 1.0
    assert ovrt.cache_entry(head, tmp_path).key != key


def test_the_cache_lives_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CAMVIDEO_CACHE", str(tmp_path / "mine"))
    assert ovrt.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("CAMVIDEO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert ovrt.cache_root() == tmp_path / "xdg" / "camvideo"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert ovrt.cache_root().parts[-3:] == ("Library", "Caches", "camvideo")


class _Untraceable(nn.Module):
    """Fails as the conversion traces it, as a module with an op OpenVINO has no
    conversion for would; runs in eager torch."""

    def forward(self, x):
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            raise RuntimeError("this module cannot be traced")
        return x.relu()


def test_a_model_that_will_not_convert_runs_on_torch_with_one_warning(tmp_path, caplog):
    model = GapClassifier("odd", nn.Sequential(nn.Conv2d(3, 4, 3), _Untraceable()), nn.Linear(4, 3),
                          ["a", "b", "c"], Preprocessing(size=(16, 16))).eval()
    root = logging.getLogger()
    with caplog.at_level(logging.WARNING):
        handlers = list(root.handlers)
        forward = make_forward(model, "openvino", cache=tmp_path)
        # convert_model sets the root logger to ERROR: put back, or every later warning would vanish
        assert root.level == logging.WARNING and root.handlers == handlers
    assert forward is None
    # camvideo's own lines (torch may warn once on its first import of cpp_extension, in whichever test that is)
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("camvideo")]
    assert len(lines) == 1 and "running the forward pass on torch" in lines[0].getMessage()
    assert "odd" in lines[0].getMessage()
    result = FrameLocalizer(model, forward=forward)([np.zeros((16, 16, 3), np.uint8)])[0]
    assert len(result.detections) == 1


class _SquareOnly(nn.Module):
    """Traces at 16x16 only, as a model with an op OpenVINO cannot convert at one size."""

    def forward(self, x):
        if (torch.jit.is_tracing() or torch.compiler.is_compiling()) and x.shape[-1] != 16:
            raise RuntimeError("not at this size")
        return x.relu()


def test_a_size_that_will_not_convert_runs_on_torch_and_background_sizes_run_on_torch_meanwhile(tmp_path, caplog):
    model = GapClassifier("odd", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _SquareOnly()), nn.Linear(4, 3),
                          ["a", "b", "c"], Preprocessing(size=(16, 16))).eval()
    x = torch.rand(1, 3, 16, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model.features(x)
    fw = make_forward(model, "openvino", cache=tmp_path)
    assert fw is not None and fw.sizes == [(16, 16)]
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.openvino"):
        with torch.inference_mode():
            torch.testing.assert_close(fw(x), ref)  # torch at that size
            torch.testing.assert_close(fw(x), ref)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
             and r.name.startswith("camvideo")]
    assert len(lines) == 1 and "32x16" in lines[0] and "runs on torch" in lines[0]
    assert fw.sizes == [(16, 16)]
    # background: the first batch of a new size runs on torch while that size converts, then OpenVINO
    plain = GapClassifier("plain", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()), nn.Linear(4, 3),
                          ["a", "b", "c"], Preprocessing(size=(16, 16))).eval()
    bg = ovrt.OpenVINOForward(plain, cache=tmp_path, background=True)
    with torch.inference_mode():
        want = plain.features(x)
        torch.testing.assert_close(bg(x), want)  # at once, on torch
    deadline = time.monotonic() + 120
    while bg._pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bg._pending and bg.sizes == [(16, 16), (16, 32)]  # converted, no thread left
    with torch.inference_mode():
        torch.testing.assert_close(bg(x), want, atol=1e-5, rtol=1e-5)  # now on OpenVINO
    assert ovrt.cached(plain, tmp_path, (16, 32))


def test_auto_takes_openvino_for_exact_cam_on_the_cpu_only():
    lite0 = load_model("lite0")
    assert choose_runtime(lite0, "auto") == "openvino" and choose_runtime(lite0, "torch") == "torch"
    torch.manual_seed(0)
    gradcam = load_model("mobilenet_v3_small", pretrained=False, input_size=64)
    assert choose_runtime(gradcam, "auto") == "torch"
    with pytest.raises(CamvideoError, match="Grad-CAM"):
        choose_runtime(gradcam, "openvino")

    class OnGpu:  # what choose_runtime reads of a model on a GPU
        name = "lite0"
        device = torch.device("cuda")

    assert choose_runtime(OnGpu(), "auto") == "torch"
    with pytest.raises(CamvideoError, match="on the CPU"):
        choose_runtime(OnGpu(), "openvino")
    with pytest.raises(ValueError, match="runtime"):
        choose_runtime(lite0, "onnx")
    with pytest.raises(CamvideoError, match="openvino:GPU"):
        choose_runtime(lite0, "torch", openvino_device="GPU")
    assert choose_runtime(lite0, "auto", openvino_device="CPU") == "openvino"
    with pytest.raises(CamvideoError, match=r"^--device openvino:TPU: OpenVINO has no device TPU here; it has CPU"):
        choose_runtime(lite0, "auto", openvino_device="TPU")  # asked for outright: no quiet fallback


def test_bf16_compiles_its_own_blob_and_stays_near_f32(tmp_path, photo):
    """``precision="bf16"``: OpenVINO's hint set (and read back from the compiled model),
    its own compiled blob beside f32's over the one IR, and on the photos the same top-1,
    its probability within 0.05 and its box at IoU >= 0.9 (bf16 keeps 8 bits of mantissa:
    single features stray by up to 10% of their range)."""
    lite0 = load_model("lite0")
    f32 = ovrt.OpenVINOForward(lite0, cache=tmp_path)
    bf16 = ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="bf16")
    assert bf16.entry == f32.entry  # one conversion: the IR stays f32
    hint = bf16._shapes[(224, 224)].compiled.get_property("INFERENCE_PRECISION_HINT")
    assert str(hint).lower().endswith(("bfloat16'>", "bf16")) and bf16.precision == "bf16"
    assert len(list(f32.entry.folder.glob("compiled-*.blob"))) == 1  # bf16's: beside its own IR (test_quantize)
    assert len(list(f32.entry.folder.glob("bf16-*/compiled-*.blob"))) == 1
    settings = LocalizeSettings(topk=1)
    for name in PHOTOS:
        frame = photo(name)
        a = FrameLocalizer(lite0, settings, forward=f32)([frame])[0].detections[0]
        b = FrameLocalizer(lite0, settings, forward=bf16)([frame])[0].detections[0]
        assert a.class_id == b.class_id and abs(a.score - b.score) < 0.05
        assert iou(a.box, b.box) >= 0.9
    with pytest.raises(ValueError, match="precision"):
        ovrt.OpenVINOForward(lite0, cache=tmp_path, precision="fp8")


def test_a_precision_other_than_f32_needs_openvino(caplog):
    lite0 = load_model("lite0")
    assert choose_runtime(lite0, "auto", precision="bf16") == "openvino"
    with pytest.raises(CamvideoError, match="^--precision bf16: runs on OpenVINO; it cannot go with --runtime torch"):
        choose_runtime(lite0, "torch", precision="bf16")
    torch.manual_seed(0)
    gradcam = load_model("mobilenet_v3_small", pretrained=False, input_size=64)
    with caplog.at_level(logging.WARNING, logger="camvideo.runtime.runtimes"):
        assert choose_runtime(gradcam, "auto", precision="bf16") == "torch"
    assert "in f32" in caplog.text
    with pytest.raises(ValueError, match="precision"):
        choose_runtime(lite0, "auto", precision="fp8")
    assert choose_runtime(lite0, "auto", precision="int8") == "openvino"


def test_device_names_split_into_torch_and_openvino():
    assert parse_device("openvino:GPU") == parse_device("OpenVINO:gpu")
    assert (parse_device("openvino:GPU").torch, parse_device("openvino:GPU").openvino) == ("cpu", "GPU")
    assert (parse_device("cuda:1").torch, parse_device("cuda:1").openvino) == ("cuda:1", None)
    assert parse_device("mps").torch == "mps"
    with pytest.raises(ValueError, match="OpenVINO device"):
        parse_device("openvino:")
    with pytest.raises(TypeError):
        parse_device(0)  # type: ignore[arg-type]
    assert "CPU" in ovrt.devices()


@pytest.mark.skipif("GPU" not in (ovrt.devices() if ovrt.available() else []), reason="needs an OpenVINO GPU device")
def test_openvino_gpu_gives_the_cpu_classes(openvino_lite0, photo):
    model, _ = openvino_lite0
    frame = photo("chelsea")
    want = FrameLocalizer(model, LocalizeSettings(topk=3), forward=ovrt.OpenVINOForward(model))([frame])[0]
    got = FrameLocalizer(model, LocalizeSettings(topk=3), forward=ovrt.OpenVINOForward(model, device="GPU"))([frame])[0]
    assert got.map_class_ids[0] == want.map_class_ids[0]
    assert iou(got.detections[0].box, want.detections[0].box) >= 0.9


def test_the_stream_switches_to_openvino_when_the_conversion_is_done(openvino_lite0, photo):
    """The cold-start rule's core: start on torch, convert in the background, switch
    between two batches; the smoothing state carries over."""
    model, _ = openvino_lite0
    settings = LocalizeSettings(topk=2, smoothing=SmoothingSettings())
    frames = [f for f in _frames(photo, (320, 240)) for _ in range(2)]
    reference = FrameLocalizer(load_model("lite0"), settings)(frames)
    localizer = FrameLocalizer(load_model("lite0"), settings, fold=False)  # unfolded: the run's cached conversion
    ready = []
    future = convert_in_background(localizer.model, "auto", on_ready=ready.append)
    got = localizer(frames[:3])
    forward = future.result(300)
    assert ready == [forward] and forward.name == "openvino"
    localizer.use_forward(forward)
    assert localizer.runtime == "openvino"
    got += localizer(frames[3:])
    for a, b in zip(reference, got):
        assert a.map_class_ids == b.map_class_ids
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-3)
    localizer.use_forward(None)
    assert localizer.runtime == "torch" and len(localizer(frames[:1])[0].detections) >= 1


def test_a_request_starts_through_pyopenvinos_own_start_async_with_no_inputs():
    """The request's input and outputs are bound before it starts: pyopenvino's own
    ``start_async`` gets no inputs and the job (the Python subclass's indexes the
    queue again, a request wrapper a call); a queue without it gets its own method."""
    calls = []

    class Base:
        def start_async(self, inputs, userdata):
            calls.append(("base", inputs, userdata))

    class Queue(Base):
        def start_async(self, inputs=None, userdata=None):
            calls.append(("subclass", inputs, userdata))

    class Other:
        def start_async(self, inputs=None, userdata=None):
            calls.append(("other", inputs, userdata))

    Base.__module__ = "openvino._pyopenvino"
    ovrt._start_async(Queue())("job")
    ovrt._start_async(Other())("job 2")
    assert calls == [("base", {}, "job"), ("other", None, "job 2")]
    assert next(c for c in ov.AsyncInferQueue.__mro__[1:] if "start_async" in vars(c)).__module__ == \
        "openvino._pyopenvino"


def test_a_job_wakes_its_caller_with_what_the_callback_found():
    class Failed:
        def get_output_tensor(self, index):
            raise RuntimeError("inference failed")

    job = ovrt._Job()
    assert not job.done.acquire(timeout=0.01)  # taken until the callback runs
    threading.Thread(target=ovrt._job_done, args=(Failed(), job)).start()
    assert job.done.acquire(timeout=10) and isinstance(job.error, RuntimeError)


def test_the_size_used_last_is_the_last_kept(openvino_lite0):
    """``_shape`` answers the size used last without the lock: it is always the
    most recently used entry (what eviction keeps)."""
    model, _ = openvino_lite0
    fw = ovrt.OpenVINOForward(model, sizes=[(224, 224), (224, 288)], max_shapes=2)
    for size in ((224, 288), (224, 224), (192, 320), (192, 320), (224, 224)):
        shape = fw._shape(size)
        assert fw._last == (size, shape) and list(fw._shapes)[-1] == size and fw._shapes[size] is shape
    assert fw.sizes == [(192, 320), (224, 224)]
