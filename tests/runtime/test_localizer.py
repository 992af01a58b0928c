"""The inference stage's two halves: forward (evidence, no maps) and finish (in order,
against the state carried across frames)."""

import dataclasses

import numpy as np
import pytest
import torch

from camvideo.cam.evidence import Chosen, Evidence, OwnMaps, choose_classes, evidence_maps
from camvideo.cam.multiscale import input_sizes
from camvideo.models import load_model
from camvideo.runtime.localizer import FrameLocalizer, StreamState, _video_rule
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings, SmoothingSettings


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
        assert ev.size == (frame.shape[1], frame.shape[0]) and ev.settings is SMOOTH and ev.thumb is not None
        assert ev.probs.shape == (1000,) and ev.features.ndim == 3 and not ev.cut and ev.leader is None
        assert set(ev.timings) >= {"preprocess", "forward"}
        assert ev.own is None  # smoothing: the classes come from the averages, in order
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


def test_without_smoothing_the_parallel_half_chooses_the_classes_and_makes_their_maps(model, clip):
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3))
    found = localizer.forward(clip[:4])
    for ev in found:
        chosen = choose_classes(ev.probs, ev.settings)
        assert ev.own.chosen == chosen and len(chosen.class_ids) == 3 and ev.own.valid_for(ev.settings)
        np.testing.assert_array_equal(ev.own.maps, evidence_maps(localizer.method, ev, chosen.class_ids))
    made = localizer.finish(found, range(4))
    again = FrameLocalizer(model, LocalizeSettings(topk=3)).finish([ev.but(own=None) for ev in found], range(4))
    assert [r.to_dict() for r in made] == [r.to_dict() for r in again]
    for a, b in zip(made, again):
        np.testing.assert_array_equal(a.heatmaps, b.heatmaps)


def test_classes_made_in_the_parallel_half_are_not_used_for_a_smoothed_frame_or_other_settings(model, clip):
    localizer = FrameLocalizer(model, SMOOTH)
    ev = localizer.forward(clip[:1])[0]
    stale = OwnMaps(SMOOTH, Chosen((0,), (1.0,)), np.zeros((1, *ev.features.shape[1:]), np.float32))
    result = localizer.finish([ev.but(own=stale)])[0]
    assert result.maps.class_ids == choose_classes(ev.probs, SMOOTH).class_ids != (0,)
    # A paused frame finished again under new settings (the window's held frame) chooses again.
    top3 = LocalizeSettings(topk=3)
    ev = FrameLocalizer(model, top3).forward(clip[:1])[0]
    top1 = dataclasses.replace(top3, topk=1)
    again = localizer.finish([dataclasses.replace(ev, settings=top1)], state=localizer.fresh_state(top1))[0]
    assert again.maps.class_ids == ev.own.chosen.class_ids[:1]


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


def test_the_shown_label_is_held_until_the_challenger_led_for_hold_frames(model, clip):
    # margin 1 (never reached) and no cut: only the streak can change the label
    tops = {}
    for hold in (1, 3):
        smoothing = SmoothingSettings(margin=1.0, hold=hold, cut_distance=2.0)
        tops[hold] = [r.detections[0].class_id for r in FrameLocalizer(model, LocalizeSettings(smoothing=smoothing))(clip)]
    cat, cup = tops[1][0], tops[1][-1]
    assert cat != cup and tops[3][0] == cat and tops[3][-1] == cup
    # the challenger leads the averaged probabilities from the same frame on; hold 3 shows it two frames later
    assert tops[3].index(cup) == tops[1].index(cup) + 2


def test_fixed_classes_leave_the_label_hysteresis_alone(model, clip):
    localizer = FrameLocalizer(model, dataclasses.replace(SMOOTH, topk=1, class_ids=(285, 967)))
    results = localizer(clip)
    assert all([d.class_id for d in r.detections][:2] == [285, 967] for r in results)
    assert localizer.state.evidence._labels.shown is None  # nothing shown by rank, nothing held


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


class Frozen:
    """A box filter that keeps each track where it started (a custom BoxFilter)."""

    def start(self, box):
        from camvideo.cam.tracking import Track

        return Track(box, np.zeros(4))

    def update(self, track, box):
        return track


def test_a_box_filter_plugs_into_the_localizer(model, clip):
    localizer = FrameLocalizer(model, dataclasses.replace(SMOOTH, topk=1, smoothing=SmoothingSettings(motion=False)))
    localizer.state.boxes.box_filter = Frozen()
    boxes = [r.detections[0].box for r in localizer(clip[:6])]
    assert boxes[0] is not None and all(b == boxes[0] for b in boxes)  # matched every frame, never moved


def test_gradcam_runs_every_preset(photo):
    """Grad-CAM's evidence keeps the chosen classes' gradients, so the presets' passes
    (the aspect kept, a map pass, combined maps) work for it as for exact CAM."""
    from camvideo.presets import quality_settings

    torch.manual_seed(0)
    mobilenet = load_model("mobilenet_v3_small", pretrained=False, input_size=64)
    frame = cv_resize(photo("chelsea"), (160, 120))
    shapes = set()
    for quality in ("fast", "balanced", "best"):
        settings = quality_settings(quality, LocalizeSettings(topk=2))
        result = FrameLocalizer(mobilenet, settings)([frame])[0]
        assert result.method == "gradcam" and len(result.maps) == 2, quality
        maps_input = input_sizes(160, 120, (64, 64), settings.maps)[-1]  # the pass the maps come from
        assert result.heatmaps.shape[1:] == tuple(side // 32 for side in maps_input), quality
        shapes.add(result.heatmaps.shape[1:])
        assert all(d["method"] == "gradcam" for d in result.to_dict()["detections"])
    assert len(shapes) > 1  # the presets' inputs were used
    with pytest.raises(ValueError, match="flip"):
        FrameLocalizer(mobilenet, LocalizeSettings(maps=MapSettings(flip=True)))([frame])


def test_the_square_class_view_classifies_at_224_and_maps_the_aspect_kept_pass(model, clip):
    square = LocalizeSettings(maps=MapSettings(input="aspect", class_view="square"))
    (ev,) = FrameLocalizer(model, square).forward(clip[:1])
    (plain,) = FrameLocalizer(model, LocalizeSettings(maps=MapSettings())).forward(clip[:1])
    (aspect,) = FrameLocalizer(model, LocalizeSettings(maps=MapSettings(input="aspect"))).forward(clip[:1])
    torch.testing.assert_close(ev.probs, plain.probs)  # the 224x224 view's classes
    torch.testing.assert_close(ev.features, aspect.features)  # the aspect-kept pass's maps
    assert ev.first is None and input_sizes(400, 300, (224, 224), square.maps) == [(224, 224), (224, 288)]
    with pytest.raises(ValueError, match="class_view"):
        MapSettings(input="squash", class_view="square")


def test_every_box_lists_its_maps_regions_the_box_first(model, clip):
    results = FrameLocalizer(model, SMOOTH)(clip)
    listed = [d for r in results for d in r.detections if d.box is not None]
    assert listed and all(d.regions and d.regions[0] == d.box for d in listed)
    for r in results:
        for det, obj in zip(r.detections, r.to_dict()["detections"]):
            assert obj.get("regions", []) == [list(b) for b in det.regions]


def test_a_smoothed_videos_boxes_are_found_on_a_map_of_the_smoothings_box_side():
    rule = BoxRule(threshold=0.3)
    assert _video_rule(rule, None) is rule  # a frame on its own: the rule's 320 pixels
    assert _video_rule(rule, SmoothingSettings()) == dataclasses.replace(rule, max_side=160)
    assert _video_rule(rule, SmoothingSettings(box_side=640)) is rule  # never more than the rule's
    with pytest.raises(ValueError, match="box_side"):
        SmoothingSettings(box_side=4)
