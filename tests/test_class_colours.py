"""camvideo.class_colours: a class's colour from its id, the same for every front end."""

from __future__ import annotations

import itertools
import json
import random

import cv2
import numpy as np

from camvideo.annotate import FrameAnnotator
from camvideo.class_colours import PALETTE, class_colors, own_slot, result_colors
from camvideo.results import Detection, FrameResult
from camvideo.runtime.scan import ScoreTrack
from camvideo.settings import OverlaySettings

CAT, ESPRESSO, TIGER = 285, 967, 282
NAMES = {CAT: "Egyptian cat", ESPRESSO: "espresso", TIGER: "tiger cat"}


def result(frame: int, *ranked: tuple[int, float], boxed: bool = False) -> FrameResult:
    """A frame whose classes are ``ranked`` (class id, score), top first."""
    dets = tuple(Detection(rank, c, NAMES.get(c, str(c)), s, (4, 4, 40, 30) if boxed else None)
                 for rank, (c, s) in enumerate(ranked, 1))
    return FrameResult(frame=frame, time=frame / 30, width=64, height=48, detections=dets)


def clip_track(frames: range) -> ScoreTrack:
    """The demo clip's shape: a cat (0.6) for 135 frames, then espresso (0.9) for 90."""
    track = ScoreTrack("demo.mp4")
    for f in frames:
        track.add(result(f, (CAT, 0.6), (TIGER, 0.1)) if f < 135 else result(f, (ESPRESSO, 0.9), (CAT, 0.05)))
    return track


def test_a_class_has_its_own_colour_whatever_its_rank():
    own = {c: PALETTE[c % len(PALETTE)] for c in (CAT, ESPRESSO, TIGER)}
    first = result(0, (CAT, 0.6), (ESPRESSO, 0.3), (TIGER, 0.1))
    assert result_colors(first) == [own[CAT], own[ESPRESSO], own[TIGER]]
    swapped = result(1, (ESPRESSO, 0.7), (TIGER, 0.2), (CAT, 0.1))
    assert result_colors(swapped) == [own[ESPRESSO], own[TIGER], own[CAT]]
    assert class_colors([CAT, CAT]) == [own[CAT], own[CAT]]  # a class with two boxes
    assert class_colors([]) == []


def test_the_timeline_order_turns_the_colours_do_not():
    """Live play drops frames (the model warming up drops the cat's first second):
    espresso leads; replayed or scanned, the cat's frames fill in and lead. The
    strip's lines keep their classes' colours (issue 23 follow-up)."""
    first_pass, filled = clip_track(range(45, 225)), clip_track(range(0, 225))
    before = [c for c, _ in first_pass.top_classes(2)]
    after = [c for c, _ in filled.top_classes(2)]
    assert before == [ESPRESSO, CAT] and after == [CAT, ESPRESSO]
    assert class_colors(after) == class_colors(before)[::-1]


def test_classes_less_than_20_apart_never_share_an_own_colour():
    """ImageNet's neighbours (the cats 281-285, the dogs) often share a frame."""
    for start in range(0, 1000):
        assert len({own_slot(c) for c in range(start, start + len(PALETTE))}) == len(PALETTE)


def test_a_clash_goes_to_the_higher_id_in_any_order():
    """5 and 25 share an own colour: 5 keeps it, 25 takes the next free slot
    (past 26's, which 26 holds when shown too); the order they come in changes nothing."""
    assert class_colors([25, 5]) == [PALETTE[6], PALETTE[5]]
    assert class_colors([5, 25]) == [PALETTE[5], PALETTE[6]]
    assert class_colors([26, 25, 5]) == [PALETTE[6], PALETTE[7], PALETTE[5]]  # 26 keeps its own
    assert class_colors([19, 39]) == [PALETTE[19], PALETTE[0]]  # past the end: round to the start
    assert class_colors([25]) == [PALETTE[5]]  # alone, 25 has its own


def test_classes_shown_together_never_share_a_colour():
    rng = random.Random(7)
    for _ in range(2000):
        ids = rng.sample(range(1000), rng.randint(2, 10))  # Top-k goes up to 10
        colors = class_colors(ids)
        assert len(set(colors)) == len(ids)
        assert class_colors(sorted(ids)) == [colors[ids.index(c)] for c in sorted(ids)]
    assert len(set(class_colors(range(0, 400, 20)))) == 20  # 20 classes on one slot: all 20 colours
    many = class_colors(range(0, 420, 20))  # more classes at once than colours: the 21st shares
    assert len(many) == 21 and len(set(many)) == 20


def test_the_palette_s_neighbours_differ_clearly():
    """Slots 1 to 4 apart (classes a few ids apart) differ by at least 30 CIELAB
    units (ΔE); any two slots by at least 15."""
    rgb = np.array([[c[::-1] for c in PALETTE]], np.float32) / 255.0
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0]
    n = len(PALETTE)
    assert n == 20 and len(set(PALETTE)) == n
    near = min(np.linalg.norm(lab[i] - lab[(i + s) % n]) for i in range(n) for s in range(1, 5))
    assert near >= 30
    assert min(np.linalg.norm(lab[i] - lab[j]) for i, j in itertools.combinations(range(n), 2)) >= 15
    assert all(max(c) >= 128 for c in PALETTE)  # none vanishes on the boxes' black outline
    luma = [0.114 * b + 0.587 * g + 0.299 * r for b, g, r in PALETTE]
    assert min(luma) >= 75  # nor as a line on the timeline's dark ground


def test_the_annotator_draws_a_box_in_its_class_colour():
    overlay = FrameAnnotator(OverlaySettings(heatmap=False, labels=False))
    frame = overlay.annotate(np.zeros((48, 64, 3), np.uint8), result(1, (ESPRESSO, 0.7), (CAT, 0.2), boxed=True))
    # both boxes lie on one rectangle: the top class (espresso) is drawn last, in its own colour
    assert tuple(int(v) for v in frame[4, 20]) == PALETTE[ESPRESSO % 20]
    frame = overlay.annotate(np.zeros((48, 64, 3), np.uint8), result(2, (CAT, 0.7), (ESPRESSO, 0.2), boxed=True))
    assert tuple(int(v) for v in frame[4, 20]) == PALETTE[CAT % 20]


def test_camvideo_image_draws_the_top_box_in_its_class_colour(tmp_path, data_dir):
    """End to end: the command line's pictures (lossless PNG, the real lite0 on real
    photos, Top-3) have the top class's box (drawn last, over the others) in its
    class's colour: the cat's white, the espresso's magenta, not a rank's."""
    from camvideo.cli import main

    for name, class_id in (("chelsea", 285), ("coffee", 967)):
        out, data = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
        assert main(["image", str(data_dir / f"{name}.png"), "-o", str(out), "--json", str(data), "--topk", "3",
                     "--no-heatmap", "--no-labels"]) == 0
        detections = json.loads(data.read_text())["detections"]
        top = detections[0]
        assert top["class_id"] == class_id and top["box"]
        colour = class_colors(d["class_id"] for d in detections)[0]
        assert colour == PALETTE[own_slot(class_id)]  # no clash among these three
        x1, y1, x2, _ = top["box"]
        edge = cv2.imread(str(out))[y1, x1 + 2: x2 - 2]  # the top edge, inside the corners
        assert np.all(edge == colour, axis=1).mean() > 0.9


def test_remembered_colours_come_as_a_new_list_each_time():
    first = class_colors([281, 285, 3])
    first[0] = (1, 2, 3)  # a caller's list is its own: the remembered colours stay
    assert class_colors([281, 285, 3]) != first
    assert class_colors([281, 285, 3]) == class_colors(iter([281, 285, 3]))
