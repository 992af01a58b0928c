import numpy as np
import pytest
import torch

from camvideo.cam.methods import CamEngine, class_maps
from camvideo.cam.preprocess import preprocess


def test_topk_maps_from_one_pass_equal_single_class_maps(lite0, photo):
    engine = CamEngine(lite0)
    x = preprocess([photo("chelsea")], lite0)
    top = engine(x, topk=4)
    for j, class_id in enumerate(top.class_ids[0].tolist()):
        single = engine(x, class_ids=[class_id])
        torch.testing.assert_close(single.maps[0, 0], top.maps[0, j])
        assert single.scores[0, 0].item() == pytest.approx(top.scores[0, j].item())


def test_batch_equals_frame_by_frame(lite0, photo):
    engine = CamEngine(lite0)
    frames = [photo("chelsea"), photo("coffee")]
    batch = engine(preprocess(frames, lite0), topk=2)
    for b, frame in enumerate(frames):
        one = engine(preprocess([frame], lite0), topk=2)
        assert one.class_ids[0].tolist() == batch.class_ids[b].tolist()
        torch.testing.assert_close(one.maps[0], batch.maps[b], rtol=1e-4, atol=1e-4)


def test_chosen_classes_keep_their_order_and_scores_are_probabilities(lite0, photo):
    engine = CamEngine(lite0)
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
    engine = CamEngine(lite0)
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
