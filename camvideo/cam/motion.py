"""Camera motion between consecutive frames: motion-compensated smoothing.

The temporal smoothing (``camvideo.cam.smoothing``) averages the features and the
boxes over a few frames. While the camera pans or zooms, the average lags: the map
and its box trail the object by about ``1 / alpha`` frames, and the box then goes on
moving after the camera has stopped (jitter, by the eval's measure: box motion that
is not the object's). Trackers solve this with global motion compensation (BoT-SORT's
"camera motion compensation", after the sparse optical flow of Shi-Tomasi corners and
pyramidal Lucas-Kanade): estimate how the picture moved between two frames and move
the state with it before averaging in the new frame. Here the state is the averaged
feature map (warped on its grid of cells, so the map no longer lags) and the box
tracks (their corners moved by the same transform).

The transform is a similarity (scale, rotation, translation) fitted with RANSAC to
the flow of up to ``CORNERS`` corners on a small grey thumbnail (``THUMB_SIDE``
pixels on its long side): about a millisecond a frame. The flow's search starts where
the last frame's motion takes each corner (a pan goes on much as it went), over one
pyramid level instead of two from the corner itself; after a motion under a thumbnail
pixel (a still camera) or a fit that its guess came within half a pixel of (a steady
pan), on the thumbnail alone, searched again over the pyramid when
that finds no fit or a corner that moved on its own (an object: its corners are then
tracked as far as the pyramid reaches). It is the motion of most of the picture:
the camera's. An object that moves on its own in a still scene is followed by the
average as before (the fit is then close to the identity). When the fit is poor (a
flat picture, a cut, too few corners) there is no transform and the frame is
smoothed as before. Transforms are in *normalized* frame coordinates (0..1 across
the width and the height), so they apply to a map of any resolution and to boxes in
pixels alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache, cached_property

import cv2
import numpy as np
import torch

THUMB_SIDE = 160  # pixels on the long side; the flow needs texture, not detail
CORNERS = 60  # most corners tracked a frame (120 measured no better, at twice the flow's cost)
MIN_INLIERS = 12  # fewer inliers of the fit: no transform
MAX_ZOOM = 1.25  # a larger scale change between two frames is not camera motion
REFRESH = 10  # frames a set of corners is tracked before new ones are detected
STILL = 1e-3  # a transform moving no point of the frame further (normalized: 0.6 px of 640) is no motion
LEVELS = 2  # pyramid levels above the thumbnail the flow searches (``_flow``)
PREDICTED_LEVELS = 1  # ... when it starts from the last motion's guess
SMALL = 1.0  # thumbnail pixels: after a motion moving no corner further, the flow searches ...
STEADY = 0.5  # thumbnail pixels: a fit this close to its guess (a steady pan) is followed as SMALL is
SMALL_LEVELS = 0  # ... this many pyramid levels from the guess (again over PREDICTED_LEVELS where that fails)
WINDOW = (9, 9)  # the flow's window, thumbnail pixels
PREDICT = True  # the flow starts where the last motion takes each corner (``_flow``)
REFINE = True  # the RANSAC fit's inliers refitted in the least squares (``_least_squares``)
LAG = 0.05  # cells of its grid an average may trail the picture by before it is moved (``Lag``)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A BGR (or grey) frame -> the small grey uint8 picture the motion is measured on
    (``THUMB_SIDE`` pixels on its long side): grey, then halved (INTER_AREA by exactly
    2, OpenCV's fast path) while the halves still reach twice the size, then INTER_AREA
    to the size (within 1 grey level of one INTER_AREA, at less cost). A new array,
    never ``frame`` itself."""
    given = frame
    height, width = frame.shape[:2]
    scale = THUMB_SIDE / max(width, height)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    if frame.dtype != np.uint8:  # the flow wants 8 bits; frames are uint8 from every source
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 3:
        code = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(frame.shape[2])
        frame = cv2.cvtColor(frame, code) if code is not None else np.ascontiguousarray(frame[..., 0])
    while frame.shape[1] % 2 == 0 and frame.shape[0] % 2 == 0 and frame.shape[1] >= 4 * size[0] \
            and frame.shape[0] >= 4 * size[1]:  # the last step stays a reduction by 2 or more
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (frame.shape[1], frame.shape[0]) == size:
        return frame.copy() if frame is given else frame  # never the caller's own array
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True, eq=False)
class Motion:
    """How the picture moved from the previous frame to this one.

    ``transform``: the 2x3 similarity (normalized coordinates) of most of the
    picture, the camera's; ``before`` / ``after``: the tracked corners (N, 2,
    normalized) in the previous frame and in this one, for the motion of one region
    (``within``)."""

    transform: np.ndarray
    before: np.ndarray
    after: np.ndarray
    _fits: dict = field(default_factory=dict, init=False, repr=False)  # ``within``'s fits by the corners they used
    _agree: dict = field(default_factory=dict, init=False, repr=False)  # ``agreeing``'s masks by thumbnail size

    @cached_property  # asked by the feature average, the first pass's and every box track
    def still(self) -> bool:
        """Whether the picture as a whole stood still (nothing to move the map average by)."""
        return _largest_shift(self.transform, 1.0, 1.0) < STILL

    def agreeing(self, width: float, height: float) -> np.ndarray:
        """Which tracked corners moved as the picture did: (N,) bool, True where
        ``transform`` takes the corner to within a pixel of where it was found, in
        pixels of a ``width`` x ``height`` thumbnail (worked out once a size)."""
        key = (width, height)
        agree = self._agree.get(key)
        if agree is None:
            moved = self.before @ self.transform[:, :2].T + self.transform[:, 2]
            apart = (moved - self.after) * (width, height)
            # np.linalg.norm's sums, squared: a square root is below 1 exactly where its square is
            agree = self._agree[key] = np.add.reduce(apart * apart, axis=1) < 1.0
        return agree

    def within(self, box, width: int, height: int) -> np.ndarray | None:
        """The similarity of the corners inside ``box`` (pixels of a ``width`` x
        ``height`` frame, where it was in the previous frame): an object that moves on
        its own moves its box with it. The picture's ``transform`` when the box holds
        nearly all the corners; None when too few lie inside or their fit is poor (a
        small object: the caller decides whether the picture's motion stands for it).
        The picture's ``transform`` too when every corner inside moved as the picture
        did (``agreeing``): a box on the background, or on an object the camera
        follows, moves as the picture (a fit of those corners alone differs from it
        by the noise of fewer points)."""
        left, top, right, bottom = box.tolist() if isinstance(box, np.ndarray) else box
        x1, y1, x2, y2 = left / width, top / height, right / width, bottom / height
        u, v = self.before[:, 0], self.before[:, 1]
        inside = (u >= x1) & (u <= x2) & (v >= y1) & (v <= y2)
        count = np.count_nonzero(inside)
        if count < MIN_INLIERS:
            return None
        if count >= 0.9 * len(inside):
            return self.transform
        # Pixels of the thumbnail's scale (the RANSAC threshold, and the agreement's, is a pixel).
        longest = max(width, height)
        scale = (width * THUMB_SIDE / longest, height * THUMB_SIDE / longest)
        if np.count_nonzero(inside & self.agreeing(*scale)) == count:  # every corner inside agrees
            return self.transform
        # The same corners give the same fit (RANSAC's seed is fixed): boxes of several
        # classes on one object (the tracks, the moving extent's) often hold the same.
        key = (width, height, inside.tobytes())
        if key not in self._fits:
            fit = _fit(self.before[inside] * scale, self.after[inside] * scale, MIN_INLIERS // 2)
            self._fits[key] = None if fit is None else normalized(fit, *scale)
        return self._fits[key]


class MotionEstimator:
    """Thumbnails in frame order -> the motion from each one's previous frame."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._previous: np.ndarray | None = None
        self._corners: np.ndarray | None = None  # the last frame's tracked corners, tracked on
        self._age = 0  # frames since the corners were detected
        self._last: np.ndarray | None = None  # the last motion's fit (thumbnail pixels), the next flow's guess
        self._steady = False  # whether the last fit was within STEADY of its guess

    def skip(self, thumb: np.ndarray) -> None:
        """Take ``thumb`` without measuring its motion (a cut: nothing is moved by it);
        the next frame's motion is measured from it on corners detected afresh."""
        self._previous, self._corners, self._age, self._last, self._steady = thumb, None, 0, None, False

    def __call__(self, thumb: np.ndarray) -> Motion | None:
        """The motion from the previous thumbnail to this one, or None (the first
        frame, another size, a poor fit: a flat picture, a cut)."""
        previous, self._previous = self._previous, thumb
        corners, self._corners = self._corners, None
        last, self._last = self._last, None
        if previous is None or previous.shape != thumb.shape:
            return None
        # The corners found last time are tracked on (as a KLT tracker does; detecting
        # costs as much as tracking) until too few are left or they are REFRESH frames old.
        if corners is None or len(corners) < CORNERS // 2 or self._age >= REFRESH:
            corners, self._age = cv2.goodFeaturesToTrack(previous, CORNERS, 0.01, 5, blockSize=5), 0
        if corners is None or len(corners) < MIN_INLIERS:
            return None
        steady, self._steady = self._steady, False
        near = last is not None and PREDICT and (steady or _shift_px(last, *thumb.shape[::-1]) < SMALL)
        levels = SMALL_LEVELS if near else None  # the guess is near: the thumbnail alone first
        tracked = _tracked(previous, thumb, corners, last, levels)
        if tracked is None and levels is not None:  # the picture moved other than guessed, or an object in it
            tracked = _tracked(previous, thumb, corners, last, None)
        if tracked is None:
            return None
        fit, corners, moved = tracked
        self._corners, self._age = moved, self._age + 1
        before, after = corners.reshape(-1, 2), moved.reshape(-1, 2)
        if fit is None:
            return None
        self._last = fit
        height, width = thumb.shape
        self._steady = last is not None and _apart(fit, last, width, height) < STEADY
        size = np.array([width, height], np.float64)
        return Motion(normalized(fit, width, height), before / size, after / size)


def _tracked(previous: np.ndarray, thumb: np.ndarray, corners: np.ndarray, guess: np.ndarray | None,
             levels: int | None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray] | None:
    """The flow of ``corners`` (``_flow``) and its fit (``_fit``; None when poor): the fit,
    the corners found and where they went; None when too few were found. With ``levels``
    (a search near the last motion's guess) also None unless the fit takes every corner
    where it went (``_fits_every_point``): the caller then searches again over the pyramid."""
    moved, status = _flow(previous, thumb, corners, guess, levels)
    found = status.ravel().view(bool)  # status is 0 or 1 a corner
    count = np.count_nonzero(found)
    if count < MIN_INLIERS:
        return None
    if count < len(found):
        moved, corners = moved[found], corners[found]
    before, after = corners.reshape(-1, 2), moved.reshape(-1, 2)
    fit = _fit(before, after, MIN_INLIERS)
    if levels is not None and (fit is None or not _fits_every_point(fit, before, after)):
        return None
    return fit, corners, moved


def _fits_every_point(fit: np.ndarray, before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``fit`` (2x3, pixels) takes every point of ``before`` (N, 2) to less than a
    pixel (Euclidean) from its point in ``after``: nothing in the picture moved on its own."""
    missed_by = before @ fit[:, :2].T + fit[:, 2] - after  # (N, 2): where the fit takes each point, less where it went
    return bool(((missed_by * missed_by).sum(axis=1) < 1.0).all())


def _flow(previous: np.ndarray, thumb: np.ndarray, corners: np.ndarray,
          guess: np.ndarray | None, levels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas-Kanade: where ``corners`` (N, 1, 2) of ``previous`` went in
    ``thumb``, and their status (N, 1: 1 where found). With ``guess`` (the last
    frame's fit, 2x3 pixels) and ``PREDICT``, the search starts where that takes each
    corner and spans ``levels`` pyramid levels (default ``PREDICTED_LEVELS``: the
    picture's motion rarely changes much from one frame to the next); otherwise at
    the corner, ``LEVELS``."""
    if guess is None or not PREDICT:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, thumb, corners, None, winSize=WINDOW, maxLevel=LEVELS)
        return moved, status
    start = cv2.transform(corners, guess)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, thumb, corners, start, winSize=WINDOW,
                                                maxLevel=PREDICTED_LEVELS if levels is None else levels,
                                                flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    return moved, status


def _apart(first: np.ndarray, second: np.ndarray, width: float, height: float) -> float:
    """How far apart two 2x3 transforms (pixels of a ``width`` x ``height`` picture) take
    the furthest of its four corners, along an axis (pixels)."""
    (a, b, e), (c, d, f) = (first - second).tolist()
    across = max(abs(e), abs(a * width + e), abs(b * height + e), abs(a * width + b * height + e))
    down = max(abs(f), abs(c * width + f), abs(d * height + f), abs(c * width + d * height + f))
    return max(across, down)


_IDENTITY = np.eye(2, 3)


def _shift_px(fit: np.ndarray, width: float, height: float) -> float:
    """How far a 2x3 ``fit`` in pixels of a ``width`` x ``height`` picture moves the
    furthest of its four corners along an axis (pixels)."""
    return _apart(fit, _IDENTITY, width, height)


def _fit(before: np.ndarray, after: np.ndarray, least: int) -> np.ndarray | None:
    """The similarity (2x3, in the points' pixels) taking ``before`` to ``after``: the
    least-squares one of the inliers of RANSAC's (``_least_squares``; with ``REFINE``
    false, RANSAC's own); None unless at least ``least`` and half the points agree with
    RANSAC's and the scale change is one a camera (or an object) can make between two
    frames."""
    fit, inliers = cv2.estimateAffinePartial2D(before, after, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                               maxIters=200, refineIters=0)
    if fit is None:
        return None
    kept = inliers.ravel().view(bool)  # 0 or 1 a point
    count = np.count_nonzero(kept)
    if count < max(least, 0.5 * len(before)):
        return None
    if REFINE:
        fit = _least_squares(before[kept], after[kept]) if count < len(kept) else _least_squares(before, after)
    return fit if fit is not None and 1.0 / MAX_ZOOM <= _zoom(fit) <= MAX_ZOOM else None


def _least_squares(before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """The similarity (2x3) taking ``before`` (N, 2) nearest to ``after`` in the least
    squares, in closed form (the minimum OpenCV's Levenberg-Marquardt refinement
    converges to); None for points all in one place. From one product of the points'
    (N, 4) array with itself and their sums, in plain floats."""
    points = np.concatenate((before, after), axis=1, dtype=np.float64)  # bx, by, ax, ay
    (sbx, sby, sax, say), gram = points.sum(axis=0).tolist(), (points.T @ points).tolist()
    n = len(points)
    mbx, mby, max_, may = sbx / n, sby / n, sax / n, say / n
    spread = gram[0][0] + gram[1][1] - n * (mbx * mbx + mby * mby)  # sum |b - mean b|^2
    if spread <= 1e-9:
        return None
    p = (gram[0][2] + gram[1][3] - n * (mbx * max_ + mby * may)) / spread  # scale * cos
    q = (gram[0][3] - gram[1][2] - n * (mbx * may - mby * max_)) / spread  # scale * sin
    return np.array([[p, -q, max_ - p * mbx + q * mby], [q, p, may - q * mbx - p * mby]])


def _zoom(motion: np.ndarray) -> float:
    """The scale factor of a 2x3 similarity: the square root of its linear part's
    determinant (in plain floats: cheaper than NumPy's ``det`` on a 2x2)."""
    (a, b, _), (c, d, _) = motion.tolist()
    return math.sqrt(abs(a * d - b * c))


def _largest_shift(motion: np.ndarray, width: float, height: float) -> float:
    """How far a normalized 2x3 ``motion`` moves the furthest of the frame's four
    corners along an axis, the shifts across scaled by ``width`` and those down by
    ``height``: in plain floats (arrays for four points cost more than the sums)."""
    (a, b, e), (c, d, f) = motion.tolist()
    across = max(abs(e), abs((a + e) - 1.0), abs(b + e), abs(((a + b) + e) - 1.0))
    down = max(abs(f), abs(c + f), abs((d + f) - 1.0), abs(((c + d) + f) - 1.0))
    return max(across * width, down * height)


def normalized(fit: np.ndarray, width: float, height: float) -> np.ndarray:
    """A 2x3 transform in pixels of a ``width`` x ``height`` picture -> the same in
    normalized coordinates (0..1 across each side)."""
    (a, b, e), (c, d, f) = fit.tolist()  # plain floats, in the order of diag(1 / size) @ linear @ diag(size)
    across, down = 1.0 / width, 1.0 / height
    width, height = float(width), float(height)
    return np.array([[across * a * width, across * b * height, across * e],
                     [down * c * width, down * d * height, down * f]])


def move_box(box, motion: np.ndarray, width: int, height: int) -> np.ndarray:
    """A box [x1, y1, x2, y2] in pixels of a ``width`` x ``height`` frame, moved by a
    normalized ``motion``: its centre moved, its sides scaled by the motion's zoom. A
    rotation turns the object, not the box: taking the box around the turned corners
    would grow it at every frame of a shaking hand, whichever way it turns."""
    x1, y1, x2, y2 = (float(v) for v in box)
    (a, b, e), (c, d, f) = motion.tolist()  # plain floats: no arrays for one point
    u, v = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    zoom = math.sqrt(abs(a * d - b * c))
    half_w, half_h = zoom * (x2 - x1) / 2, zoom * (y2 - y1) / 2
    cx, cy = (u * a + v * b + e) * width, (u * c + v * d + f) * height
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])


@cache
def _cell_centres(h: int, w: int) -> np.ndarray:
    """The centres (h * w, 2; normalized, row by row) of a grid of ``h`` x ``w`` cells."""
    u, v = np.meshgrid((np.arange(w) + 0.5) / w, (np.arange(h) + 0.5) / h)
    points = np.stack([u.ravel(), v.ravel()], axis=1)
    points.flags.writeable = False  # shared by every call
    return points


def warp_features(feats: torch.Tensor, motion: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (K, h, w) of the previous frame moved by ``motion`` onto this frame's
    grid of cells (bilinear), and a (h, w) mask of the cells whose source lay inside
    the previous frame (1) or outside it (0: new picture, nothing to average with)."""
    moved, inside = _warp(feats, motion)
    return moved, torch.from_numpy(inside).to(feats.device)


def _warp(feats: torch.Tensor, motion: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """``warp_features`` with the mask as a NumPy (h, w) bool array."""
    _, h, w = feats.shape
    # Each cell centre of this frame, normalized, taken back to where it was.
    linear, shift = motion[:, :2], motion[:, 2]
    back = (_cell_centres(h, w) - shift) @ np.linalg.inv(linear).T
    inside = ((back >= 0.0) & (back <= 1.0)).all(axis=1).reshape(h, w)
    grid = torch.from_numpy((2.0 * back - 1.0).reshape(1, h, w, 2).astype(np.float32))
    if not feats.is_cpu:
        grid = grid.to(feats.device)
    source = feats.unsqueeze(0) if feats.dtype is torch.float32 else feats.unsqueeze(0).float()
    # grid_sample(mode="bilinear", padding_mode="border", align_corners=False) without its wrapper's checks
    moved = torch.grid_sampler(source, grid, 0, 1, False)[0]
    return (moved if moved.dtype is feats.dtype else moved.to(feats.dtype)), inside


class Lag:
    """The picture's motion that a running average has not been moved by yet.

    Moving 1280 maps costs ~0.3 ms; a slow drift (a hand-held camera: a few
    hundredths of a cell a frame) is gathered here until it moves some cell of the
    average's grid by ``LAG`` (then the average is moved by all of it at once), so the
    average trails the picture by less than ``LAG`` cells."""

    def __init__(self) -> None:
        self.transform: np.ndarray | None = None  # normalized 2x3, since the average was last moved

    def reset(self) -> None:
        self.transform = None

    def take(self, motion: Motion | None, grid: tuple[int, int]) -> np.ndarray | None:
        """The transform to move an average of ``grid`` (h, w) cells by now, with
        ``motion`` (this frame's) gathered; None: not now. A frame without a motion
        measured breaks the chain: what was gathered is given (the average is moved
        by what is known)."""
        if motion is None:
            due, self.transform = self.transform, None
            return due
        if motion.still:
            return None
        total = motion.transform if self.transform is None else _compose(motion.transform, self.transform)
        h, w = grid
        if _largest_shift(total, w, h) < LAG:
            self.transform = total
            return None
        self.transform = None
        return total


def _compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 transform of ``first`` then ``second``."""
    return np.concatenate((second[:, :2] @ first[:, :2], second[:, :2] @ first[:, 2:] + second[:, 2:]), axis=1)


def follow(average: torch.Tensor, feats: torch.Tensor, motion: Motion | None, lag: Lag | None = None) -> torch.Tensor:
    """A running average of features (K, h, w) moved with the picture onto the grid of
    this frame's ``feats``, before they join it: cells new in view start from this
    frame. Unchanged without a motion or for a still picture. With ``lag``, motions
    are gathered there and the average is moved once they add up to ``LAG`` cells."""
    if lag is not None:
        transform = lag.take(motion, tuple(average.shape[1:]))
    else:
        transform = None if motion is None or motion.still else motion.transform
    if transform is None:
        return average
    moved, inside = _warp(average, transform)
    if inside.all() and moved.dtype == feats.dtype:  # every cell was in view: nothing new to take
        return moved
    if (moved.device.type != "cpu" or moved.dtype != feats.dtype or feats.device.type != "cpu"
            or moved.dtype not in (torch.float32, torch.float64, torch.float16)):  # numpy has no bf16
        return torch.where(torch.from_numpy(inside).to(moved.device), moved, feats)
    # The cells new in view take this frame's features, in place: a few columns of a
    # (K, h * w) array (cheaper than torch.where over every cell).
    new = np.flatnonzero(~inside)
    moved.numpy().reshape(moved.shape[0], -1)[:, new] = feats.numpy().reshape(feats.shape[0], -1)[:, new]
    return moved
