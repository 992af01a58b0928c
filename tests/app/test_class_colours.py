"""camvideo.app.class_colours: a class keeps its colour while a source plays, without a window."""

from __future__ import annotations

import threading

import pytest

from camvideo.annotate import PALETTE, FrameAnnotator, rank_colors
from camvideo.app.class_colours import ClassColours
from camvideo.results import Detection, FrameResult
from camvideo.runtime.scan import ScoreTrack

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


def test_the_cause_the_timeline_order_turns_as_the_track_fills_in():
    """Live play drops frames (the model warming up drops the cat's first second):
    espresso leads; replayed or scanned, the cat's frames fill in and lead. The
    strip coloured its lines by that order, so the two swapped colours."""
    first_pass = clip_track(range(45, 225))
    filled = clip_track(range(0, 225))
    assert [c for c, _ in first_pass.top_classes(2)] == [ESPRESSO, CAT]
    assert [c for c, _ in filled.top_classes(2)] == [CAT, ESPRESSO]
    colours = ClassColours()
    before = dict(zip([CAT, ESPRESSO], colours.colors([c for c, _ in first_pass.top_classes(2)][::-1])))
    after = colours.colors(c for c, _ in filled.top_classes(2))
    assert after == [before[CAT], before[ESPRESSO]]  # the order turned, the colours did not


def test_first_appearance_gives_rank_colours_then_a_class_keeps_its_own():
    colours = ClassColours()
    first = result(0, (CAT, 0.6), (ESPRESSO, 0.3), (TIGER, 0.1))
    assert colours.of_result(first) == rank_colors(first) == list(PALETTE[:3])
    swapped = result(1, (ESPRESSO, 0.7), (TIGER, 0.2), (CAT, 0.1))
    assert colours.of_result(swapped) == [PALETTE[1], PALETTE[2], PALETTE[0]]
    assert colours.colors([CAT, CAT]) == [PALETTE[0], PALETTE[0]]  # a class with two boxes
    new = result(2, (7, 0.5), (CAT, 0.5))
    assert colours.of_result(new) == [PALETTE[3], PALETTE[0]]  # a newcomer: the first colour nobody holds


def test_a_frame_never_shares_a_colour_and_only_the_least_recently_seen_class_loses_its_own():
    colours = ClassColours()
    colours.colors(range(10))  # the palette is full
    colours.colors([0, 1])  # 0 and 1 seen again: 2 is now the least recently seen
    assert colours.colors([0, 100]) == [PALETTE[0], PALETTE[2]]  # 100 takes 2's colour, not 0's
    assert len(set(colours.colors(range(3, 10)) + colours.colors([0, 100]))) == 9
    assert colours.colors([2]) == [PALETTE[1]]  # 2 is new again: it takes 1's (now the least recently seen)
    many = colours.colors(range(200, 212))  # more classes at once than colours: still one each, in turn
    assert len(many) == 12 and len(set(many[:10])) == 10


def test_clear_starts_again_and_the_palette_is_checked():
    colours = ClassColours()
    colours.colors([ESPRESSO, CAT])
    colours.clear()
    assert len(colours) == 0 and colours.colors([CAT]) == [PALETTE[0]]
    with pytest.raises(ValueError, match="palette"):
        ClassColours(())


def test_threads_asking_at_once_get_one_colour_per_class():
    colours = ClassColours()
    seen: list[list] = []

    def ask(offset: int) -> None:
        seen.append(colours.colors([(offset + i) % 6 for i in range(6)]))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_class = colours.colors(range(6))
    assert len(set(by_class)) == 6
    assert len(seen) == 8 and all(sorted(got) == sorted(by_class) for got in seen)


def test_the_annotator_draws_a_box_in_the_colour_its_class_kept():
    import numpy as np

    from camvideo.settings import OverlaySettings

    colours = ClassColours()
    overlay = FrameAnnotator(OverlaySettings(heatmap=False, labels=False), colours.of_result)
    overlay.annotate(np.zeros((48, 64, 3), np.uint8), result(0, (CAT, 0.6), (ESPRESSO, 0.3)))
    frame = overlay.annotate(np.zeros((48, 64, 3), np.uint8), result(1, (ESPRESSO, 0.7), (CAT, 0.2), boxed=True))
    # both boxes lie on one rectangle: the top class (espresso) is drawn last, in gold, its first colour
    assert tuple(int(v) for v in frame[4, 20]) == PALETTE[1]
    plain = FrameAnnotator(OverlaySettings(heatmap=False, labels=False)).annotate(
        np.zeros((48, 64, 3), np.uint8), result(1, (ESPRESSO, 0.7), (CAT, 0.2), boxed=True))
    assert tuple(int(v) for v in plain[4, 20]) == PALETTE[0]  # the command line: rank colours, as before
