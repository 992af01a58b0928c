"""The localization development set: annotated photos and clips made from them.

The photos and their true boxes come from a JSON manifest (``camvideo eval``'s
format) whose entries may carry a ``split`` (``"tune"`` or ``"holdout"``): the
repository's set is ``tests/data/devset/manifest.json`` (sources and licences in
its SOURCES.md; ``devset_manifest`` finds it from any folder). The clips are made here, deterministically, from the photos of one
split that have a single true box: a 4:3 and a 16:9 clip per split, each a few
shots of pans and zooms through a moving window with hard cuts between photos, light
sensor noise, and the true box (the photo's box moved by the window) on every frame.
Frames where less than 60% of the true box is in view carry no box (they are not
scored). The true class changes only at the cuts.

``moving_clips`` makes the **moving-object clips** of a split (``devset_clips(...,
moving=True)``; ``camvideo eval --devset`` plays them): each photo's object (its
true box, cut out with an elliptic outline, so that its silhouette touches each
side of the box) slides across another photo of the split, large (0.4 of the
frame's width) and small (0.15) in turn: a 640x480 clip with a still camera and a
640x360 clip whose camera pans across the background while the object moves. Each
shot: still for 15% of its frames, eased motion, still again; the true box is the
object's on every frame.

``evaluate_devset_clips`` runs a ``FrameLocalizer`` through each clip, frame by
frame as a video, and scores it with ``camvideo.tools.clipeval``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camvideo.errors import InputError
from camvideo.tools.annotations import Annotation, load_annotations
from camvideo.tools.clipeval import ClipSummary, evaluate_clip

# The checkout camvideo runs from (as camvideo.runtime.quantize finds it): the set is
# test data, which an installed wheel does not carry.
ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "data" / "devset" / "manifest.json"
SPLITS = ("tune", "holdout", "all")
GROUND = (58, 58, 58)  # BGR grey around a photograph smaller than the window
VISIBLE = 0.6  # least fraction of the true box in view for a frame to be scored
CLIP_SIZES = ((640, 480), (640, 360))
MOVING_CLIPS = (("moving_640x480", (640, 480), False), ("moving_pan_640x360", (640, 360), True))
OBJECT_WIDTHS = (0.4, 0.15)  # the object's width, as a fraction of the frame's, large and small in turn


@dataclass(frozen=True)
class Shot:
    """One photo seen through a window that eases from ``start`` to ``end``:
    (centre x, centre y, width) as fractions of the photo's width and height."""

    photo: int  # index into the clip's photo list
    frames: int
    start: tuple[float, float, float]
    end: tuple[float, float, float]


@dataclass(frozen=True)
class ClipSpec:
    name: str
    width: int
    height: int
    shots: tuple[Shot, ...]


def devset_manifest(given: str | Path | None = None) -> Path:
    """The development set's manifest: ``given``, else the checkout's own (whatever
    the working folder); an ``InputError`` that says where the set lives when this
    camvideo runs from an installed package, which has none."""
    if given is not None:
        return Path(given)
    if not MANIFEST.is_file():
        raise InputError("the development set lives in a camvideo checkout (tests/data/devset/manifest.json), which "
                         "this installed camvideo is not: give the manifest of a clone's, camvideo eval --devset "
                         "PATH/tests/data/devset/manifest.json")
    return MANIFEST


def load_devset(manifest: str | Path, labels: Sequence[str], split: str = "all") -> list[Annotation]:
    """The manifest's annotations of one split (``"all"``: every entry)."""
    import json

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    annotations = load_annotations(manifest, labels)
    if split == "all":
        return annotations
    try:
        entries = json.loads(Path(manifest).read_text(encoding="utf-8"))["images"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise InputError(f"{manifest}: a split needs a JSON manifest with an images list") from None
    chosen = [a for a, e in zip(annotations, entries) if e.get("split", "tune") == split]
    if not chosen:
        raise InputError(f"{manifest}: no image has split {split!r}")
    return chosen


def ease(t: float) -> float:
    """Smoothstep: the camera starts and stops gently."""
    return t * t * (3.0 - 2.0 * t)


def window(photo_size: tuple[int, int], frame_size: tuple[int, int], cx: float, cy: float, w: float) -> np.ndarray:
    """The 2x3 affine matrix from photo pixels to frame pixels for a window of
    width ``w`` (a fraction of the photo's width) centred at (cx, cy), of the
    frame's aspect ratio; a window inside the photo is kept inside it."""
    pw, ph = photo_size
    fw, fh = frame_size
    win_w = w * pw
    win_h = win_w * fh / fw
    x0 = float(np.clip(cx * pw - win_w / 2, min(0, pw - win_w), max(0, pw - win_w)))
    y0 = float(np.clip(cy * ph - win_h / 2, min(0, ph - win_h), max(0, ph - win_h)))
    s = fw / win_w
    return np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], np.float64)


def _shot(rng: np.random.Generator, photo: int, size: tuple[int, int], box, frame: tuple[int, int], frames: int) -> Shot:
    """A pan or a zoom (in or out) that keeps the box in view."""
    pw, ph = size
    fw, fh = frame
    bw, bh = box[2] - box[0], box[3] - box[1]
    bcx, bcy = (box[0] + box[2]) / 2 / pw, (box[1] + box[3]) / 2 / ph
    w_min = max(1.15 * bw, 1.15 * bh * fw / fh) / pw  # the tightest window that holds the box
    w_max = max(1.3, 1.6 * w_min)
    kind = ("pan", "zoom in", "zoom out")[int(rng.integers(3))]
    if kind == "pan":
        w = float(rng.uniform(w_min, min(w_max, 1.5 * w_min)))
        slack = max(0.0, (w * pw - bw) / 2 / pw) * 0.8  # how far the centre may move with the box in view
        d = float(rng.choice([-1.0, 1.0]))
        start = (bcx - d * slack, bcy + float(rng.uniform(-0.03, 0.03)), w)
        end = (bcx + d * slack, bcy + float(rng.uniform(-0.03, 0.03)), w)
    else:
        near = (bcx + float(rng.uniform(-0.03, 0.03)), bcy + float(rng.uniform(-0.03, 0.03)), w_min * float(rng.uniform(1.0, 1.2)))
        far = (float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6)), w_max * float(rng.uniform(0.8, 1.0)))
        start, end = (far, near) if kind == "zoom in" else (near, far)
    return Shot(photo, frames, start, end)


def clip_specs(photos: Sequence[tuple[str, tuple[int, int], tuple]], split: str, shots: int = 5,
               frames: int = 40) -> list[ClipSpec]:
    """The clips of one split: per size in CLIP_SIZES, ``shots`` shots of
    ``frames`` frames, each on the next photo (in a rotation fixed by the clip's
    name), from ``photos`` = (name, (width, height), main box)."""
    if not photos:
        raise ValueError("photos must not be empty")
    specs = []
    for fw, fh in CLIP_SIZES:
        name = f"{split}_{fw}x{fh}"
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        order = rng.permutation(len(photos))
        chosen = [int(order[k % len(order)]) for k in range(shots)]
        specs.append(ClipSpec(name, fw, fh, tuple(
            _shot(rng, p, photos[p][1], photos[p][2], (fw, fh), frames) for p in chosen)))
    return specs


def render_clip(spec: ClipSpec, images: Sequence[np.ndarray], boxes: Sequence, classes: Sequence[tuple[int, ...]],
                noise: float = 2.0) -> tuple[list[np.ndarray], dict[int, dict]]:
    """The clip's BGR frames and its truth (by frame index, the shape
    ``evaluate_clip`` reads: one detection with the true box and the accepted
    ``class_ids``; no box where the box is mostly out of view)."""
    import cv2

    rng = np.random.default_rng(zlib.crc32(spec.name.encode()) + 1)
    frames, truth = [], {}
    for shot in spec.shots:
        photo = images[shot.photo]
        ph, pw = photo.shape[:2]
        x1, y1, x2, y2 = boxes[shot.photo]
        for i in range(shot.frames):
            t = ease(i / max(1, shot.frames - 1))
            cx, cy, w = (a + (b - a) * t for a, b in zip(shot.start, shot.end))
            m = window((pw, ph), (spec.width, spec.height), cx, cy, w)
            image = cv2.warpAffine(photo, m, (spec.width, spec.height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=GROUND)
            if noise > 0:
                image = np.clip(image + rng.normal(0.0, noise, image.shape), 0, 255).astype(np.uint8)
            s, ox, oy = m[0, 0], m[0, 2], m[1, 2]
            full = (x1 * s + ox, y1 * s + oy, x2 * s + ox, y2 * s + oy)
            seen = (max(0.0, full[0]), max(0.0, full[1]), min(float(spec.width), full[2]), min(float(spec.height), full[3]))
            area = (full[2] - full[0]) * (full[3] - full[1])
            inside = max(0.0, seen[2] - seen[0]) * max(0.0, seen[3] - seen[1])
            box = [round(v, 2) for v in seen] if area > 0 and inside / area >= VISIBLE else None
            index = len(frames)
            truth[index] = {"frame": index, "detections": [{"box": box, "class_ids": list(classes[shot.photo])}]}
            frames.append(image)
    return frames, truth


def devset_clips(annotations: Sequence[Annotation], split: str, moving: bool = False, **kwargs):
    """(spec, frames, truth) for each clip made from the photos of ``annotations``
    that have one true box; ``moving``: the moving-object clips after them."""
    from camvideo.video.sources import read_image

    singles = [a for a in annotations if len(a.boxes) == 1]
    if not singles:
        raise InputError(f"no photo of split {split!r} has a single true box to make clips from")
    images = [read_image(a.file) for a in singles]
    photos = [(a.file.name, (im.shape[1], im.shape[0]), a.boxes[0]) for a, im in zip(singles, images)]
    out = []
    for spec in clip_specs(photos, split, **kwargs):
        frames, truth = render_clip(spec, images, [a.boxes[0] for a in singles], [a.classes for a in singles])
        out.append((spec, frames, truth))
    if moving:
        out += moving_clips(images, [a.boxes[0] for a in singles], [a.classes for a in singles], split, **kwargs)
    return out


def moving_clips(images: Sequence[np.ndarray], boxes: Sequence, classes: Sequence[tuple[int, ...]], split: str,
                 shots: int = 5, frames: int = 40) -> list[tuple[ClipSpec, list[np.ndarray], dict[int, dict]]]:
    """The moving-object clips of a split (see the module's docstring): (spec, frames,
    truth), the spec's shots naming the photos (their windows unused)."""
    out = []
    for name, (fw, fh), pan in MOVING_CLIPS:
        name = f"{split}_{name}"
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        order = rng.permutation(len(images))
        chosen = [int(order[k % len(order)]) for k in range(shots)]
        clip, truth = [], {}
        for k, p in enumerate(chosen):
            ground = images[int(order[(k + len(order) // 2) % len(order)])]
            if ground is images[p] and len(images) > 1:
                ground = images[int(order[(k + 1) % len(order)])]
            _moving_shot(rng, images[p], boxes[p], classes[p], ground, (fw, fh), pan, OBJECT_WIDTHS[k % 2], frames,
                         clip, truth)
        spec = ClipSpec(name, fw, fh, tuple(Shot(p, frames, (0.5, 0.5, 1.0), (0.5, 0.5, 1.0)) for p in chosen))
        out.append((spec, clip, truth))
    return out


def _moving_shot(rng, photo, box, classes, ground, size, pan: bool, width: float, frames: int, clip, truth) -> None:
    """One shot of an object sliding across ``ground``, appended to ``clip`` and ``truth``."""
    import cv2

    fw, fh = size
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    crop = photo[y1:y2, x1:x2]
    s = min(width * fw / crop.shape[1], 0.8 * fh / crop.shape[0])
    cw, ch = max(8, round(crop.shape[1] * s)), max(8, round(crop.shape[0] * s))
    crop = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((ch, cw), np.float32)
    cv2.ellipse(alpha, (cw // 2, ch // 2), (cw // 2, ch // 2), 0, 0, 360, 1.0, -1)
    alpha = alpha[..., None]
    back = cv2.GaussianBlur(cv2.resize(ground, (int(fw * 1.4), int(fh * 1.4))), (0, 0), 1.5)
    direction = float(rng.choice([-1.0, 1.0]))
    xs = (0.05 * fw, 0.95 * fw - cw)[:: int(direction)]
    y0 = int(np.clip((fh - ch) / 2 + rng.uniform(-0.15, 0.15) * fh, 0, fh - ch))
    dy = float(rng.uniform(-0.1, 0.1)) * fh
    still = max(1, round(0.15 * frames))
    for i in range(frames):
        u = ease(min(1.0, max(0.0, (i - still) / max(1, frames - 2 * still))))
        ox = int(round(xs[0] + (xs[1] - xs[0]) * u))
        oy = int(np.clip(round(y0 + dy * u), 0, fh - ch))
        gx = int(round((0.4 * fw) * (ease(i / max(1, frames - 1)) if pan else 0.5)))
        frame = back[int(0.2 * fh): int(0.2 * fh) + fh, gx: gx + fw].astype(np.float32)
        patch = frame[oy:oy + ch, ox:ox + cw]
        frame[oy:oy + ch, ox:ox + cw] = alpha * crop + (1.0 - alpha) * patch
        frame = np.clip(frame + rng.normal(0.0, 2.0, frame.shape), 0, 255).astype(np.uint8)
        index = len(clip)
        truth[index] = {"frame": index, "detections": [{"box": [ox, oy, ox + cw, oy + ch], "class_ids": list(classes)}]}
        clip.append(frame)


@dataclass(frozen=True)
class ClipRun:
    name: str
    summary: ClipSummary
    ms_per_frame: float  # the localizer's own time (preprocess, forward, maps, boxes)


def evaluate_devset_clips(localize: Callable[[np.ndarray], object], reset: Callable[[], None], clips,
                          progress: Callable[[int], None] | None = None) -> list[ClipRun]:
    """Each clip through ``localize`` (one BGR frame -> FrameResult, in order;
    ``reset`` between clips), scored against its truth; ``progress(frames)``: the
    frames of all clips done so far, after each frame."""
    runs, done = [], 0
    for spec, frames, truth in clips:
        reset()
        pred, spent = {}, 0.0
        for index, frame in enumerate(frames):
            t0 = time.perf_counter()
            result = localize(frame)
            spent += time.perf_counter() - t0
            pred[index] = {**result.to_dict(), "frame": index}
            done += 1
            if progress is not None:
                progress(done)
        runs.append(ClipRun(spec.name, evaluate_clip(pred, truth), 1000.0 * spent / len(frames)))
    return runs
