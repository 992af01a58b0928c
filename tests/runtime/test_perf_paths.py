"""The fast paths give what the plain paths give (maps, classes, boxes), on the CPU;
the CUDA path (pinned memory, non-blocking copy, autocast) where a GPU exists."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from oneshot import cams
from torch import nn

from camvideo.cam.boxes import boxes_from_cam, iou, mask_boxes, normalize, threshold_mask, upsample
from camvideo.cam.methods import cam_method, class_maps
from camvideo.cam.preprocess import preprocess, resize_for_model
from camvideo.models import GapClassifier, Preprocessing, load_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import BoxRule, IntensitySettings, LocalizeSettings, MapSettings

DATA = Path(__file__).resolve().parents[1] / "data"


def plain_preprocess(frames, model):
    """The reference: INTER_AREA straight to the input size, then torch ops."""
    height, width = model.preprocessing.size
    resized = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])
    x = torch.from_numpy(resized).permute(0, 3, 1, 2)[:, [2, 1, 0]].float() / 255.0
    mean = torch.tensor(model.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.preprocessing.std).view(1, 3, 1, 1)
    return (x - mean) / std


def plain_mask_boxes(mask, rule):
    """The reference: label every pixel, sort by area."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    regions = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    if rule.components == "largest":
        regions = regions[:1]
    else:
        least = rule.min_area * mask.shape[0] * mask.shape[1]
        regions = [i for i in regions if stats[i, cv2.CC_STAT_AREA] >= least] or regions[:1]
    return [(int(s[0]), int(s[1]), int(s[0] + s[2]), int(s[1] + s[3])) for s in (stats[i] for i in regions)]


def test_blob_normalization_equals_torch_ops(lite0):
    """One OpenCV pass == RGB flip + scale + shift in torch, for lite0's and ImageNet's constants."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(2)]
    for prep in (lite0.preprocessing, type(lite0.preprocessing)(size=(224, 224))):
        model = type("M", (), {"preprocessing": prep, "device": torch.device("cpu")})()
        got = preprocess(frames, model)
        assert got.shape == (2, 3, 224, 224) and got.dtype == torch.float32 and got.is_contiguous()
        torch.testing.assert_close(got, plain_preprocess(frames, model), atol=1e-5, rtol=0)


def test_resize_matches_area_and_skips_when_sized():
    frame = cv2.resize(cv2.imread(str(DATA / "astronaut.png")), (640, 480))
    fast = resize_for_model(frame, 224, 224).astype(np.float32)
    area = cv2.resize(frame, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert fast.shape == area.shape
    assert np.abs(fast - area).mean() < 2.0  # grey levels, out of 255
    same = np.zeros((224, 224, 3), np.uint8)
    assert resize_for_model(same, 224, 224) is same
    small = np.zeros((100, 120, 3), np.uint8)  # upscaling and small frames: plain INTER_AREA
    assert resize_for_model(small, 224, 224).shape == (224, 224, 3)


@pytest.mark.parametrize("name,size", [("chelsea", (640, 480)), ("coffee", (1280, 720)), ("astronaut", (640, 480))])
def test_fast_stage_equals_plain_path(lite0, name, size):
    """Same top-3 classes, maps within 0.07 after min-max, boxes IoU >= 0.95."""
    frame = cv2.resize(cv2.imread(str(DATA / f"{name}.png")), size, interpolation=cv2.INTER_AREA)
    engine = cam_method(lite0)
    ref = cams(engine, plain_preprocess([frame], lite0), topk=3)
    # The stage's speed-ups (resize, blob, folding, channels_last) on plain CAM's
    # squashed input and box, which the plain path makes (the default preset keeps
    # the aspect and insets its boxes).
    ungated = IntensitySettings(gate=0.0)  # the plain path has no confidence gate
    result = FrameLocalizer(lite0, LocalizeSettings(topk=3, maps=MapSettings(), box_rule=BoxRule(),
                                                    intensity=ungated))([frame])[0]
    assert list(result.map_class_ids) == ref.class_ids[0].tolist()
    w, h = size
    for j, ref_map in enumerate(ref.maps[0].numpy()):
        assert np.abs(result.heatmaps[j] - normalize(ref_map)).max() < 0.07
        ref_box = boxes_from_cam(ref_map, w, h)[0]
        box = next(d.box for d in result.detections if d.rank == j + 1)
        assert iou(box, ref_box) >= 0.95


def test_mask_boxes_fast_path_equals_labelling():
    """Border following for one blob, labelling otherwise: same boxes as labelling
    every pixel, on thresholded smooth maps and on noise (many blobs, holes)."""
    rng = np.random.default_rng(1)
    singles = 0
    for i in range(600):
        s, w, h = int(rng.integers(2, 9)), int(rng.integers(8, 80)), int(rng.integers(8, 80))
        heat = upsample(rng.random((s, s)).astype(np.float32) ** rng.uniform(0.3, 4), w, h)
        for rule in (BoxRule(threshold=float(rng.uniform(0, 1))),
                     BoxRule(threshold=float(rng.uniform(0, 1)), components="all", min_area=0.01)):
            mask = threshold_mask(heat, rule) if i % 3 else (rng.random((h, w)) < rng.uniform(0, 1)).astype(np.uint8)
            expected = plain_mask_boxes(mask, rule)
            singles += len(expected) == 1
            assert mask_boxes(mask, rule) == expected
    assert singles > 300  # the fast path was taken often
    ring = np.zeros((40, 40), np.uint8)
    cv2.rectangle(ring, (5, 5), (34, 34), 1, 1)
    ring[15:25, 15:25] = 1  # a blob inside a hole: two components
    assert mask_boxes(ring, BoxRule(components="all")) == plain_mask_boxes(ring, BoxRule(components="all"))


def test_class_maps_stay_float32_under_autocast(lite0):
    """Maps are summed in float32 even when the forward pass runs in bfloat16."""
    x = preprocess([cv2.imread(str(DATA / "chelsea.png"))], lite0)
    with torch.inference_mode():
        feats = lite0(x)
        ids = torch.tensor([[285, 281]])
        ref = class_maps(feats, lite0.weight, ids)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = class_maps(feats, lite0.weight, ids)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref)


def _tiny_model(seed: int = 0) -> GapClassifier:
    torch.manual_seed(seed)
    features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
    return GapClassifier("tiny", features, nn.Linear(16, 5), [f"c{i}" for i in range(5)], Preprocessing(size=(32, 32))).eval()


def _frames(n=2, size=(48, 64)):
    return [np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8) for i in range(n)]


def test_the_optimized_path_gives_the_plain_maps(photo):
    """channels_last + folded batch norms (the defaults) against neither."""
    frame = cv2.resize(photo("coffee"), (640, 480))
    plain = FrameLocalizer(load_model("lite0", device="cpu"), LocalizeSettings(topk=3), channels_last=False, fold=False)
    fast = FrameLocalizer(load_model("lite0", device="cpu"), LocalizeSettings(topk=3), channels_last=True)
    assert fast.model.features.net.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    a, b = plain([frame])[0], fast([frame])[0]
    assert a.map_class_ids == b.map_class_ids
    np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-4)
    assert [d.box for d in a.detections] == [d.box for d in b.detections]


def test_batched_frames_equal_single_frames():
    """File processing batches frames; each frame's result is the one it gets alone."""
    localizer = FrameLocalizer(_tiny_model(), LocalizeSettings(topk=2))
    frames = _frames(3)
    batched = localizer(frames)
    for frame, got in zip(frames, batched):
        alone = localizer([frame])[0]
        np.testing.assert_allclose(got.heatmaps, alone.heatmaps, atol=1e-5)
        assert [d.box for d in got.detections] == [d.box for d in alone.detections]


def test_autocast_argument_is_checked():
    with pytest.raises(ValueError, match="autocast"):
        FrameLocalizer(_tiny_model(), autocast="fp8")
    assert FrameLocalizer(_tiny_model()).autocast_dtype is None  # "auto" on the CPU: float32


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="torch.compile needs a C++ compiler")
def test_compiled_maps_equal_eager_maps():
    """torch.compile (opt-in, inductor) gives the eager maps and boxes."""
    eager, compiled = _tiny_model(), _tiny_model()
    frames = _frames(2)
    want = FrameLocalizer(eager, LocalizeSettings(topk=2), channels_last=False, fold=False)(frames)
    got = FrameLocalizer(compiled, LocalizeSettings(topk=2), compile=True)(frames)  # warm-up = first call
    for a, b in zip(want, got):
        assert a.map_class_ids == b.map_class_ids
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-5)
        assert [d.box for d in a.detections] == [d.box for d in b.detections]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_equals_cpu_path():
    """Pinned memory + non-blocking copy + normalization on the GPU, channels_last,
    fp16 autocast (the CUDA default) with maps in float32: same classes, close
    maps and boxes."""
    frame = cv2.resize(cv2.imread(str(DATA / "chelsea.png")), (640, 480))
    cpu = load_model("lite0", device="cpu")
    gpu = load_model("lite0", device="cuda")
    x_cpu, x_gpu = preprocess([frame], cpu), preprocess([frame], gpu)
    assert x_gpu.device.type == "cuda"
    torch.testing.assert_close(x_gpu.cpu(), x_cpu, atol=1e-5, rtol=0)
    ref = FrameLocalizer(cpu, LocalizeSettings(topk=3), channels_last=False, fold=False)([frame])[0]
    localizer = FrameLocalizer(gpu, LocalizeSettings(topk=3))
    assert localizer.autocast_dtype == torch.float16
    got = localizer([frame, frame])[1]
    assert got.map_class_ids[0] == ref.map_class_ids[0]
    assert got.heatmaps.dtype == np.float32
    assert np.abs(got.heatmaps[0] - ref.heatmaps[0]).max() < 0.05
    assert iou(got.detections[0].box, ref.detections[0].box) >= 0.9
