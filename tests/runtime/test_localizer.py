"""The inference stage's two halves: forward (evidence, no maps) and finish (in order,
against the state carried across frames)."""

import dataclasses

import numpy as np
import pytest
import torch

from camvideo.cam.evidence import Evidence
from camvideo.models import load_model
from camvideo.runtime.localizer import FrameLocalizer, StreamState
from camvideo.settings import LocalizeSettings, MapSettings, SmoothingSettings


@pytest.fixture(scope="module")
def model():
    return load_model("lite0", device="cpu")


@pytest.fixture(scope="module")
def clip(photo):
    """Six frames of the cat panning right, then six of the coffee cup: one cut."""
    cat, cup = photo("chelsea"), photo("coffee")
    frames = []
    for k in range(6):
        frame = np.full((300, 400, 3), 90, np.uint8)
        frame[:, 8 * k : 8 * k + 300] = cat[:, 60:360]
        frames.append(frame)
    frames += [np.ascontiguousarray(cv_resize(cup, (400, 300)))] * 6
    return frames


def cv_resize(image, size):
    import cv2

    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


SMOOTH = LocalizeSettings(topk=3, smoothing=SmoothingSettings())


def test_forward_gives_evidence_per_frame_and_never_maps(model, clip):
    localizer = FrameLocalizer(model, SMOOTH)
    found = localizer.forward(clip[:3])
    assert len(found) == 3 and all(isinstance(ev, Evidence) for ev in found)
    for ev, frame in zip(found, clip):
        assert ev.size == frame.shape[:2] and ev.settings is SMOOTH and ev.thumb is not None
        assert ev.probs.shape == (1000,) and ev.features.ndim == 3 and not ev.cut and ev.leader is None
        assert set(ev.timings) >= {"preprocess", "forward"}
    with pytest.raises(ValueError, match="topk"):
        FrameLocalizer(model, LocalizeSettings(topk=1001)).forward(clip[:1])


def test_batches_give_what_single_frames_give(model, clip):
    one, many = FrameLocalizer(model, SMOOTH), FrameLocalizer(model, SMOOTH)
    alone = [one([f], [i], [i / 30])[0] for i, f in enumerate(clip)]
    batched = []
    for start in range(0, len(clip), 4):
        frames = clip[start : start + 4]
        batched += many.finish(many.forward(frames), range(start, start + len(frames)),
                               [i / 30 for i in range(start, start + len(frames))])
    assert [r.to_dict() for r in batched] == [r.to_dict() for r in alone]
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-5)


def test_a_cut_starts_the_evidence_and_the_boxes_afresh(model, clip):
    localizer = FrameLocalizer(model, SMOOTH)
    steps = []
    step = localizer.state.evidence.step
    localizer.state.evidence.step = lambda ev, motion=None: steps.append(step(ev, motion)) or steps[-1]
    results = localizer(clip)
    cuts = [i for i, ev in enumerate(steps) if ev.cut]
    assert cuts == [6]  # the cup comes in
    assert results[5].detections[0].class_id != results[6].detections[0].class_id
    # after the cut the cup's frames are its own: the same as a fresh localizer on them
    fresh = FrameLocalizer(model, SMOOTH)(clip[6:])
    assert [r.to_dict()["detections"] for r in results[6:]] == [r.to_dict()["detections"] for r in fresh]


def test_the_shown_label_is_held_against_a_small_lead(model, clip):
    # margin 1 and hold 3: a challenger must lead for three frames in a row
    settings = dataclasses.replace(SMOOTH, topk=1, smoothing=SmoothingSettings(margin=1.0, hold=3, cut_distance=2.0))
    localizer = FrameLocalizer(model, settings)
    tops = [r.detections[0].class_id for r in localizer(clip)]
    alone = [FrameLocalizer(model, LocalizeSettings())([f])[0].detections[0].class_id for f in clip]
    assert tops[:6] == [tops[0]] * 6
    first_cup = alone[6]
    switch = tops.index(first_cup) if first_cup in tops else len(tops)
    assert switch >= 6 + 2  # held for at least two frames past the change (the probabilities average in too)


def test_the_motion_moves_the_average_and_reset_forgets_it(model, clip):
    localizer = FrameLocalizer(model, SMOOTH)
    seen = []
    measure = localizer.state.evidence.motion
    localizer.state.evidence.motion = lambda ev: seen.append(measure(ev)) or seen[-1]
    localizer(clip[:3])
    assert seen[0] is None and seen[1] is not None and seen[1].transform[0, 2] > 0  # the picture moves right
    localizer.reset()
    localizer(clip[3:4])
    assert seen[-1] is None  # nothing to compare with after a reset


def test_a_paused_frame_is_finished_against_a_fresh_state(model, clip):
    localizer = FrameLocalizer(model, SMOOTH)
    localizer(clip[:6])
    evidence = localizer.forward(clip[5:6])
    held = localizer.finish(evidence, [5], [0.0], state=localizer.fresh_state())[0]
    alone = FrameLocalizer(model, SMOOTH)(clip[5:6], [5], [0.0])[0]
    assert held.to_dict() == alone.to_dict()
    # the localizer's own state was not touched: the next frame continues the six played
    after = localizer(clip[6:7], [6], [0.2])[0]
    played = FrameLocalizer(model, SMOOTH)(clip[:7], range(7), [0.0] * 6 + [0.2])[-1]
    assert after.to_dict() == played.to_dict()


def test_class_maps_are_keyed_by_class(model, clip):
    result = FrameLocalizer(model, LocalizeSettings(topk=3))(clip[:1])[0]
    ids = [d.class_id for d in result.detections if d.rank <= 3]
    assert list(result.maps.class_ids) == list(dict.fromkeys(ids))
    for j, c in enumerate(result.maps.class_ids):
        assert result.maps[c] is not None and np.array_equal(result.maps[c], result.heatmaps[j])
        assert result.maps.opacity_of(c) == result.map_opacity[j]
    with pytest.raises(KeyError):
        result.maps[999 if 999 not in result.maps else 998]


def test_state_follows_new_settings(model):
    state = StreamState.fresh(LocalizeSettings())
    assert state.evidence.settings is None and state.boxes.settings is None
    state.follow(SMOOTH, smoothable=True)
    assert state.evidence.settings == SMOOTH.smoothing == state.boxes.settings
    state.follow(SMOOTH, smoothable=False)  # e.g. Grad-CAM: nothing averaged
    assert state.evidence.settings is None
    ev = Evidence(probs=torch.full((4,), 0.25), logits=torch.zeros(4), features=torch.ones(2, 3, 3))
    assert state.evidence.step(ev) is ev


def test_combined_maps_keep_the_class_pass_as_first(model, clip):
    settings = LocalizeSettings(maps=MapSettings(input="aspect", map_side=288, combine=True))
    (ev,) = FrameLocalizer(model, settings).forward(clip[:1])
    assert ev.first is not None and ev.first.features.shape[1:] == (7, 9) and ev.features.shape[1:] == (9, 12)
    torch.testing.assert_close(ev.probs, ev.first.probs)
