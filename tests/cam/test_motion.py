"""The camera's motion between frames, on a real photograph moved by known transforms."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from camvideo.cam import motion as motion_module
from camvideo.cam.motion import Lag, Motion, MotionEstimator, follow, move_box, normalized, thumbnail, warp_features

DATA = Path(__file__).resolve().parents[1] / "data"
W, H = 640, 480


@pytest.fixture(scope="module")
def photo():
    return cv2.imread(str(DATA / "chelsea.png"))


def view(photo, scale, tx, ty):
    """The photo through a camera: x' = scale * x + t (pixels)."""
    m = np.float32([[scale, 0, tx], [0, scale, ty]])
    return cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m


def step(m0, m1):
    """The true frame-to-frame transform, normalized."""
    a = np.vstack([m1, [0, 0, 1]]) @ np.linalg.inv(np.vstack([m0, [0, 0, 1]]))
    return normalized(a[:2], W, H)


@pytest.mark.parametrize("shape", [(480, 640, 3), (720, 1280, 3), (1080, 1920, 3), (479, 641, 3), (360, 640, 4), (96, 64)])
def test_the_thumbnail_is_one_area_resize_within_a_grey_level(photo, shape):
    """Halved by the fast path first, the thumbnail stays within 1 grey level of one
    INTER_AREA resize of the grey frame, at its size (160 on the long side)."""
    frame = cv2.resize(photo, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    if len(shape) == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    got = thumbnail(frame)
    assert got.dtype == np.uint8 and max(got.shape) == 160
    want = cv2.resize(grey, (got.shape[1], got.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(got.astype(int) - want).max() <= 1


@pytest.mark.parametrize("move", [(1.0, -6.0, 3.0), (1.03, -12.0, -8.0), (0.97, 9.0, 4.0)], ids=["pan", "zoom in", "zoom out"])
def test_a_pan_or_a_zoom_is_measured(photo, move):
    scale, dx, dy = move
    first, m0 = view(photo, 1.6, -60.0, -40.0)
    second, m1 = view(photo, 1.6 * scale, -60.0 * scale + dx, -40.0 * scale + dy)
    estimator = MotionEstimator()
    assert estimator(thumbnail(first)) is None  # nothing to compare with yet
    motion = estimator(thumbnail(second))
    assert isinstance(motion, Motion)
    # Within a third of a thumbnail pixel (2 px of the frame) everywhere in the frame.
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]])
    got = corners @ motion.transform[:, :2].T + motion.transform[:, 2]
    true = corners @ step(m0, m1)[:, :2].T + step(m0, m1)[:, 2]
    assert np.abs((got - true) * [W, H]).max() < 2.0


@pytest.mark.parametrize("predict", [True, False], ids=["from the last motion", "from the corner"])
def test_a_steady_pan_then_a_stop_is_measured_frame_by_frame(photo, predict, monkeypatch):
    monkeypatch.setattr(motion_module, "PREDICT", predict)
    steps = [(-8.0 * i, -3.0 * i) for i in range(6)] + [(-40.0, -15.0)] * 2  # a pan of 8 px a frame, then a stop
    views = [view(photo, 1.6, -60.0 + dx, -40.0 + dy) for dx, dy in steps]
    estimator = MotionEstimator()
    assert estimator(thumbnail(views[0][0])) is None
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]])
    for (_, m0), (frame, m1) in zip(views, views[1:]):  # the stop too: the guess 2 thumbnail px off
        motion = estimator(thumbnail(frame))
        got = corners @ motion.transform[:, :2].T + motion.transform[:, 2]
        true = corners @ step(m0, m1)[:, :2].T + step(m0, m1)[:, 2]
        assert np.abs((got - true) * [W, H]).max() < 2.0


def test_no_motion_without_a_fit():
    estimator = MotionEstimator()
    flat = np.full((H, W, 3), 128, np.uint8)
    assert estimator(thumbnail(flat)) is None
    assert estimator(thumbnail(flat)) is None  # no corners on a flat picture
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    other = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    estimator(thumbnail(noise))
    assert estimator(thumbnail(other)) is None  # a cut: nothing in common
    assert estimator(thumbnail(cv2.resize(noise, (320, 240)))) is None  # another size


def test_an_object_moving_on_a_still_picture_moves_its_own_box(photo):
    background = cv2.GaussianBlur(cv2.resize(cv2.imread(str(DATA / "coffee.png")), (W, H)), (0, 0), 2)
    patch = cv2.resize(photo[40:260, 60:380], (200, 140))
    frames = []
    for x in (100, 112):  # the patch moves 12 px right, the rest stands still
        f = background.copy()
        f[150:290, x:x + 200] = patch
        frames.append(f)
    estimator = MotionEstimator()
    estimator(thumbnail(frames[0]))
    motion = estimator(thumbnail(frames[1]))
    assert motion is not None
    assert abs(motion.transform[0, 2] * W) < 2.0  # most of the picture: still
    moved = move_box((100, 150, 300, 290), motion.within((100, 150, 300, 290), W, H), W, H)
    assert np.abs(moved - (112, 150, 312, 290)).max() < 3.0
    # A box with too few corners inside has no motion of its own; one holding nearly
    # all of them has the picture's.
    assert motion.within((0, 0, 5, 5), W, H) is None
    assert motion.within((0, 0, W, H), W, H) is motion.transform


def test_a_small_object_in_a_still_picture_keeps_its_velocity():
    # Too few corners on the object for a fit of its own, and the picture still: the
    # picture's (identity) motion must not stand for the object's: its track stays
    # unmoved and keeps the velocity that follows it.
    from camvideo.cam.tracking import BoxTracker
    from camvideo.settings import SmoothingSettings

    still = Motion(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.zeros((0, 2)), np.zeros((0, 2)))
    assert still.still
    lags = {}
    for motion in (None, still):
        tracker = BoxTracker(SmoothingSettings())
        for t in range(30):
            x = 100 + 6 * t  # 6 px a frame to the right
            box = tracker.update({1: [(x, 200, x + 60, 250)]}, (W, H), motion if t else None)[1][0]
        lags[motion is not None] = x - box[0]
    assert lags[True] == lags[False]


def test_the_motion_turned_off_and_on_again_spans_no_gap(photo):
    # Frames smoothed without the motion leave no old thumbnail behind: the first
    # measured motion after them is between two frames it has seen, not from frames back.
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import LocalizeSettings, SmoothingSettings

    frames = [view(photo, 1.6, -60.0 - 6 * t, -40.0)[0] for t in range(5)]  # 6 px a frame to the left
    on = LocalizeSettings(smoothing=SmoothingSettings())
    localizer = FrameLocalizer(load_model("lite0"), on)
    localizer([frames[0]])
    localizer.settings = LocalizeSettings(smoothing=SmoothingSettings(motion=False))
    localizer([frames[1]])
    localizer([frames[2]])
    localizer.settings = on
    state, seen = localizer.state.evidence, []
    measure = state.motion
    state.motion = lambda evidence: seen.append(measure(evidence)) or seen[-1]
    localizer([frames[3]])
    localizer([frames[4]])
    assert seen[0] is None  # nothing to compare with: frames 1-2 went by unmeasured
    assert seen[1] is not None and abs(seen[1].transform[0, 2] * W + 6.0) < 1.5


def test_a_rotation_moves_a_box_without_growing_it():
    turn = np.radians(1.0)
    c, s = np.cos(turn), np.sin(turn)
    box = np.array([220.0, 140.0, 420.0, 340.0])
    for k in range(20):  # a shaking hand: +1 degree, -1 degree, ...
        sign = 1 if k % 2 == 0 else -1
        rotation = np.array([[c, -sign * s, 0.0], [sign * s, c, 0.0]])
        box = move_box(box, rotation, W, H)
    assert np.allclose(box[2] - box[0], 200.0) and np.allclose(box[3] - box[1], 200.0)


def test_frames_that_are_not_8_bit_get_a_thumbnail():
    rng = np.random.default_rng(1)
    for frame in (rng.uniform(0, 255, (120, 160, 3)).astype(np.float32), rng.integers(0, 255, (90, 160), dtype=np.uint8),
                  rng.integers(0, 255, (40, 30, 4), dtype=np.uint8)):
        thumb = thumbnail(frame)
        assert thumb.dtype == np.uint8 and thumb.ndim == 2 and max(thumb.shape) == 160
    estimator = MotionEstimator()
    estimator(thumbnail(rng.uniform(0, 255, (480, 640, 3)).astype(np.float32)))


def test_move_box_and_warp_features_follow_the_transform():
    shift = np.array([[1.0, 0.0, 0.25], [0.0, 1.0, 0.0]])  # a quarter of the width to the right
    assert np.allclose(move_box((100, 50, 200, 150), shift, 400, 300), (200, 50, 300, 150))
    zoom = np.array([[2.0, 0.0, -0.5], [0.0, 2.0, -0.5]])  # x2 about the centre
    assert np.allclose(move_box((150, 100, 250, 200), zoom, 400, 300), (100, 50, 300, 250))
    feats = torch.zeros(2, 4, 8)
    feats[:, 1, 2] = 1.0
    moved, inside = warp_features(feats, shift)
    assert moved.shape == feats.shape and inside.dtype == torch.bool
    assert torch.equal(moved[:, 1, 4], torch.ones(2))  # 2 cells of 8 to the right
    assert float(moved[:, 1, 2].abs().max()) == 0.0
    assert not bool(inside[:, :2].any()) and bool(inside[:, 2:].all())  # the new left quarter had no past


def test_within_gives_a_box_whose_corners_all_moved_with_the_picture_the_pictures_motion(photo):
    first, _ = view(photo, 1.6, -60.0, -40.0)
    second, _ = view(photo, 1.62, -70.0, -38.0)  # a still photo panned and zoomed: every corner moves with it
    estimator = MotionEstimator()
    estimator(thumbnail(first))
    motion = estimator(thumbnail(second))
    assert motion.agreeing(160, 120).all()
    for box in [(100, 80, 400, 380), (300, 200, 640, 480)]:  # neither holds 90% of the corners
        assert motion.within(box, W, H) is motion.transform
    assert not motion._fits  # no fit of their own: the picture's motion is theirs


def test_within_fits_the_corners_of_an_object_moving_on_its_own_once_each():
    rng = np.random.default_rng(3)
    pan = np.array([[1.0, 0.0, 0.01], [0.0, 1.0, 0.0]])
    background, car = rng.uniform(0.0, 1.0, (80, 2)), rng.uniform([0.3, 0.4], [0.6, 0.7], (20, 2))
    keep = ~((background[:, 0] >= 0.25) & (background[:, 0] <= 0.65) & (background[:, 1] >= 0.35)
             & (background[:, 1] <= 0.75))  # the car's box holds the car's corners only
    background = background[keep]
    before = np.vstack([background, car])
    after = np.vstack([background + [0.01, 0.0], car + [0.04, 0.01]])  # the car drives on as the camera pans
    motion = Motion(pan, before, after)
    box = (0.25 * W, 0.35 * H, 0.65 * W, 0.75 * H)
    held = car * [W, H]
    boxes = [box, (*held.min(axis=0), *held.max(axis=0))]  # the same corners: one fit for both
    got = [motion.within(box, W, H) for box in boxes]
    assert got[0] is not None and got[1] is got[0] and len(motion._fits) == 1
    assert np.allclose(got[0], [[1.0, 0.0, 0.04], [0.0, 1.0, 0.01]], atol=1e-6)  # the car's own motion
    fresh = Motion(motion.transform, motion.before, motion.after)  # nothing kept: fitted anew, the same
    assert np.array_equal(fresh.within(box, W, H), got[0])
    assert motion.within((0, 0, W, 0.34 * H), W, H) is motion.transform  # the background's


def test_features_moved_wholly_in_view_are_the_moved_features():
    rng = torch.Generator().manual_seed(0)
    average, feats = torch.rand(3, 7, 9, generator=rng), torch.rand(3, 7, 9, generator=rng)
    nudge = np.array([[1.0, 0.0, 0.01], [0.0, 1.0, -0.02]])  # every cell's source still in the frame
    moved, inside = warp_features(average, nudge)
    assert bool(inside.all())
    motion = Motion(nudge, np.zeros((0, 2)), np.zeros((0, 2)))
    assert torch.equal(follow(average, feats, motion), torch.where(inside, moved, feats))
    pan = np.array([[1.0, 0.0, 0.2], [0.0, 1.0, 0.0]])  # the left fifth is new: this frame's features there
    out = follow(average, feats, Motion(pan, np.zeros((0, 2)), np.zeros((0, 2))))
    assert torch.equal(out[:, :, 0], feats[:, :, 0]) and not torch.equal(out[:, :, 5], feats[:, :, 5])


def test_bf16_features_follow_a_pan_as_float32_ones_do():
    rng = torch.Generator().manual_seed(1)
    average, feats = torch.rand(3, 7, 9, generator=rng), torch.rand(3, 7, 9, generator=rng)
    pan = Motion(np.array([[1.0, 0.0, 0.2], [0.0, 1.0, 0.0]]), np.zeros((0, 2)), np.zeros((0, 2)))
    half = follow(average.bfloat16(), feats.bfloat16(), pan)  # numpy has no bf16: torch's path
    assert half.dtype == torch.bfloat16
    assert torch.allclose(half.float(), follow(average, feats, pan), atol=0.02)


def test_the_thumbnail_is_never_the_callers_own_array():
    small = np.full((120, 160), 7, np.uint8)  # grey and already at the thumbnail's size
    thumb = thumbnail(small)
    assert thumb is not small and np.array_equal(thumb, small)


def test_a_slow_drift_is_gathered_and_the_average_moved_by_all_of_it_at_once():
    none = np.zeros((0, 2))
    drift = Motion(np.array([[1.0, 0.0, 0.002], [0.0, 1.0, 0.0]]), none, none)  # 0.018 of a cell of 9 a frame
    lag = Lag()
    due = [lag.take(drift, (7, 9)) for _ in range(3)]
    assert due[0] is None and due[1] is None  # 0.036 cells: the average may trail by that
    assert np.allclose(due[2], [[1.0, 0.0, 0.006], [0.0, 1.0, 0.0]]) and lag.transform is None  # 0.054: all of it
    assert lag.take(Motion(np.eye(2, 3), none, none), (7, 9)) is None and lag.transform is None  # still: nothing
    pan = np.array([[1.0, 0.0, 0.02], [0.0, 1.0, 0.0]])  # 0.18 cells: at once
    assert np.array_equal(lag.take(Motion(pan, none, none), (7, 9)), pan)
    lag.take(drift, (7, 9))
    assert np.allclose(lag.take(None, (7, 9)), drift.transform) and lag.transform is None  # the chain broke
    rng = torch.Generator().manual_seed(1)
    average, feats = torch.rand(3, 7, 9, generator=rng), torch.rand(3, 7, 9, generator=rng)
    assert follow(average, feats, drift, Lag()) is average  # not moved yet
    assert torch.equal(follow(average, feats, Motion(pan, none, none), Lag()),
                       follow(average, feats, Motion(pan, none, none)))


def test_the_corners_shift_and_the_zoom_in_floats_are_the_arrays_figures():
    # ``Motion.still`` and ``Lag`` ask how far a transform moves the frame's corners and
    # ``move_box`` its zoom, in plain floats: the same numbers as with arrays.
    from camvideo.cam.motion import _largest_shift, _zoom

    rng = np.random.default_rng(5)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    for _ in range(500):
        angle, scale = rng.normal(0.0, 0.05), 1.0 + rng.normal(0.0, 0.05)
        rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        transform = np.hstack([rotation, rng.normal(0.0, 0.02, (2, 1))])
        moved = corners @ transform[:, :2].T + transform[:, 2]
        assert _largest_shift(transform, 9, 7) == float((np.abs(moved - corners) * [9, 7]).max())
        assert _largest_shift(transform, 1.0, 1.0) == float(np.abs(moved - corners).max())
        assert _zoom(transform) == pytest.approx(float(np.sqrt(abs(np.linalg.det(transform[:, :2])))), rel=1e-14)


def test_the_cells_new_in_view_take_this_frames_features_as_torch_where_gives():
    rng = torch.Generator().manual_seed(1)
    average, feats = torch.rand(16, 7, 9, generator=rng), torch.rand(16, 7, 9, generator=rng)
    for pan in ([[1.0, 0.0, 0.2], [0.0, 1.0, -0.15]], [[0.9, 0.02, 0.05], [-0.02, 0.9, 0.05]]):
        pan = np.array(pan)
        moved, inside = warp_features(average, pan)
        assert not bool(inside.all())
        out = follow(average, feats, Motion(pan, np.zeros((0, 2)), np.zeros((0, 2))))
        assert torch.equal(out, torch.where(inside, moved, feats))


def test_normalized_and_agreeing_give_numpys_own_arithmetic():
    rng = np.random.default_rng(4)
    for _ in range(50):
        fit = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) + rng.normal(0, 0.02, (2, 3)) * [1, 1, 100]
        width, height = int(rng.integers(8, 200)), int(rng.integers(8, 200))
        inverse = np.array([[1.0 / width], [1.0 / height]])  # the array version, element for element
        want = np.hstack([inverse * fit[:, :2] * np.array([width, height], np.float64), inverse * fit[:, 2:]])
        assert np.array_equal(normalized(fit, width, height), want)
        before = rng.random((30, 2))
        after = before + rng.normal(0, 0.004, (30, 2))
        motion = Motion(want, before, after)
        moved = before @ want[:, :2].T + want[:, 2]
        near = np.linalg.norm((moved - after) * [width, height], axis=1) < 1.0
        assert np.array_equal(motion.agreeing(width, height), near)


def test_the_fit_is_the_least_squares_similarity_of_ransacs_inliers():
    # RANSAC's inliers refitted in closed form: OpenCV's Levenberg-Marquardt refinement
    # converges to the same similarity; outliers are left out; coincident points fit nothing.
    rng = np.random.default_rng(1)
    before = rng.uniform(0, 160, (60, 2)).astype(np.float32)
    angle, scale = 0.02, 1.03
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    after = (before @ linear.T + (2.5, -1.5) + rng.normal(0, 0.2, (60, 2))).astype(np.float32)
    after[:6] += 20.0  # outliers
    fit = motion_module._fit(before, after, 12)
    refined, inliers = cv2.estimateAffinePartial2D(before, after, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                                   maxIters=200, refineIters=100)
    assert not inliers[:6].any()
    corners = np.array([[0, 0, 1], [160, 0, 1], [0, 120, 1], [160, 120, 1]], float)
    assert np.abs(corners @ fit.T - corners @ refined.T).max() < 1e-3
    assert motion_module._least_squares(np.ones((5, 2)), np.ones((5, 2))) is None


def _levels_used(monkeypatch) -> list:
    """The pyramid levels of each ``_flow`` call from now on (None: the default's)."""
    calls, flow = [], motion_module._flow

    def counted(previous, thumb, corners, guess, levels=None):
        calls.append(levels if guess is not None else "from the corner")
        return flow(previous, thumb, corners, guess, levels)

    monkeypatch.setattr(motion_module, "_flow", counted)
    return calls


def _measured_within_2px(photo, steps) -> None:
    """Views of ``photo`` shifted by ``steps`` (pixels of 640x480), one estimator along
    them: each motion within 2 pixels of the true one at the picture's corners and centre."""
    views = [view(photo, 1.6, -60.0 + dx, -40.0 + dy) for dx, dy in steps]
    estimator = MotionEstimator()
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]])
    assert estimator(thumbnail(views[0][0])) is None
    for (_, m0), (frame, m1) in zip(views, views[1:]):
        motion = estimator(thumbnail(frame))
        got = corners @ motion.transform[:, :2].T + motion.transform[:, 2]
        true = corners @ step(m0, m1)[:, :2].T + step(m0, m1)[:, 2]
        assert np.abs((got - true) * [W, H]).max() < 2.0


def test_after_a_still_frame_the_flow_searches_one_level_and_a_pan_that_starts_is_measured(photo, monkeypatch):
    calls = _levels_used(monkeypatch)
    # Still for three frames, then a pan of 24 px of 640 (6 thumbnail px: past the window without a pyramid).
    steps = [(0.0, 0.0)] * 3 + [(-24.0, -9.0), (-48.0, -18.0)]
    _measured_within_2px(photo, steps)
    # The first motion from the corners; the still picture's next from its guess on the thumbnail
    # alone (SMALL_LEVELS); the pan's start is not found so, and is searched again over the pyramid
    # (PREDICTED_LEVELS); the pan's next frame follows a motion over SMALL: the pyramid at once.
    assert calls == ["from the corner", motion_module.SMALL_LEVELS, motion_module.SMALL_LEVELS, None, None]


def test_an_object_moving_in_a_still_picture_is_tracked_over_the_pyramid(monkeypatch):
    """Corners that moved on their own (some disagree with the picture's fit) are tracked
    again over the pyramid: an object's own motion (``Motion.within``) as before."""
    from test_extent import _scene

    calls = _levels_used(monkeypatch)
    estimator, motions = MotionEstimator(), []
    for index in range(4):
        frame, _ = _scene(index, pan=0, speed=12)
        motions.append(estimator(thumbnail(frame)))
    # Each still fit's next frame tried without the pyramid, then again over it (the object's corners).
    assert calls == ["from the corner"] + [motion_module.SMALL_LEVELS, None] * 2
    with monkeypatch.context() as patched:
        patched.setattr(motion_module, "SMALL", 0.0)  # never without the pyramid
        plain = MotionEstimator()
        for index, want in enumerate(motions):
            got = plain(thumbnail(_scene(index, pan=0, speed=12)[0]))
            assert (got is None) == (want is None)
            if got is not None:
                np.testing.assert_array_equal(got.transform, want.transform)
                np.testing.assert_array_equal(got.after, want.after)


def test_a_steady_pan_is_followed_on_the_thumbnail_alone_once_its_guess_held(photo, monkeypatch):
    calls = _levels_used(monkeypatch)
    steps = [(-8.0 * i, -3.0 * i) for i in range(6)]  # 2 thumbnail px a frame: over SMALL
    _measured_within_2px(photo, steps)
    # The second motion's guess (the first's) held within STEADY: from then on the thumbnail alone.
    assert calls == ["from the corner", None] + [motion_module.SMALL_LEVELS] * 3


def test_a_steady_pan_that_speeds_up_is_searched_again_over_the_pyramid(photo, monkeypatch):
    """A pan followed on the thumbnail alone (its guess held) that then moves 8 thumbnail
    pixels more than guessed: not found so, it is searched again over the pyramid, and measured."""
    calls = _levels_used(monkeypatch)
    steps = [(-8.0 * i, -3.0 * i) for i in range(4)] + [(-56.0, -21.0)]
    _measured_within_2px(photo, steps)
    small = motion_module.SMALL_LEVELS
    assert calls == ["from the corner", None, small, small, None]
