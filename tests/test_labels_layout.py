"""The one label layout both renderers use (camvideo/labels_layout.py): box-less
classes listed in rank order in the corner that covers the subject least; the
frame renderer (annotate) through it on a real Top-k 10 result of lite0."""

import numpy as np
import pytest

from camvideo.annotate import LabelAnnotator
from camvideo.class_colours import result_colors
from camvideo.labels_layout import TagSize, overlaps, place_labels

AREA = (0.0, 0.0, 640.0, 360.0)


def inside(rect, area=AREA):
    return area[0] <= rect[0] and rect[2] <= area[2] + 1e-9 and area[1] <= rect[1] and rect[3] <= area[3] + 1e-9


def no_overlaps(rects):
    return not any(overlaps(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_boxless_tags_of_any_width_are_listed_in_rank_order():
    # wide tags hit the boxed tag at x=100, narrow ones do not: first-fit put rank 3 above rank 2
    widths = [150, 60, 140, 50, 120, 70, 90]
    tags = [TagSize(180, 20, (100, 0))] + [TagSize(w, 20) for w in widths]
    rects = place_labels(tags, AREA)
    free = rects[1:]
    assert [r[1] for r in free] == sorted(r[1] for r in free) and len({r[1] for r in free}) == len(free)
    assert all(b[1] == a[3] for a, b in zip(free, free[1:]))  # one list, no gaps
    assert no_overlaps(rects) and all(map(inside, rects))
    assert rects[0][:2] == (100, 0)  # the boxed tag at its box's corner


@pytest.mark.parametrize("subject, corner", [
    ((0, 0, 200, 360), "right"),  # subject on the left: the list goes right
    ((420, 0, 640, 200), "bottom-left"),  # subject top-right, nothing at the bottom-left... top-left is free too
    ((0, 0, 300, 200), "top-right"),
])
def test_the_list_goes_where_it_covers_the_subject_least(subject, corner):
    tags = [TagSize(subject[2] - subject[0], 20, subject[:2])] + [TagSize(110, 20) for _ in range(7)]
    rects = place_labels(tags, AREA, [subject])
    free = rects[1:]
    covered = sum(max(0, min(r[2], subject[2]) - max(r[0], subject[0])) * max(0, min(r[3], subject[3]) - max(r[1], subject[1]))
                  for r in free)
    assert covered == 0
    if "right" in corner:
        assert all(r[2] == 640 for r in free)
    assert no_overlaps(rects) and all(map(inside, rects))


def test_a_list_taller_than_the_picture_goes_on_beside_it():
    tags = [TagSize(100 + 10 * (i % 2), 50) for i in range(10)]  # 500 px of tags in a 360 px picture
    rects = place_labels(tags, AREA)
    assert no_overlaps(rects) and all(map(inside, rects))
    assert rects[7][0] >= 110 and rects[7][1] == 0  # the 8th starts the second column, at the top


def test_boxed_tags_keep_their_corners_and_move_down_when_the_list_is_in_the_way():
    # the subject covers everything: the list leaves the top-left to the boxed tag at (0, 0)
    tags = [TagSize(120, 20, (0, 0))] + [TagSize(80, 20) for _ in range(3)]
    rects = place_labels(tags, AREA, [AREA])
    assert rects[0][:2] == (0, 0) and all(r[2] == 640 for r in rects[1:])
    # boxed tags in all four corners: one of them moves down past the list, none covers another
    corners = [(0, 0), (520, 0), (0, 340), (520, 340)]
    tags = [TagSize(120, 20, c) for c in corners] + [TagSize(80, 20) for _ in range(3)]
    rects = place_labels(tags, AREA, [AREA])
    assert no_overlaps(rects) and all(map(inside, rects))


def test_topk_10_on_the_cat_photo_labels_in_rank_order_off_the_subject(lite0, photo):
    """lite0 at Top-k 10 with the window's gate on a real photo: the frame
    renderer's tags (found by their classes' colours) are in rank order, and the
    box-less ones do not cover the top class's box."""
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import GATE, IntensitySettings, LocalizeSettings

    cat = photo("chelsea")  # 451x300, the cat fills it: put it on the left of a wide frame, as in a video
    image = np.zeros((cat.shape[0], 2 * cat.shape[1], 3), np.uint8)
    image[:, : cat.shape[1]] = cat
    settings = LocalizeSettings(topk=10, intensity=IntensitySettings(gate=GATE))  # the window's gate
    result = FrameLocalizer(lite0, settings)([image])[0]
    free = [d for d in result.detections if d.box is None]
    assert len(result.detections) == 10 and len(free) >= 3 and result.detections[0].box is not None
    scale = 0.5
    frame = LabelAnnotator(font_scale=scale).annotate(np.full_like(image, 40), result)  # dark: tags stand out
    tops = []
    colors = dict(zip(result.detections, result_colors(result)))
    for det in free:
        ys, xs = np.nonzero(np.all(frame == colors[det], axis=2))
        assert len(ys), f"rank {det.rank}'s tag is not drawn"
        tops.append(ys.min())
        x1, y1, x2, y2 = result.detections[0].box
        inside_box = (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
        assert not inside_box.any(), f"rank {det.rank}'s tag covers the subject"
    assert tops == sorted(tops)


def test_the_legend_panel_keeps_off_a_box_outline_and_stays_bottom_left_when_free():
    from camvideo.labels_layout import panel_corner

    area = (0.0, 0.0, 640.0, 480.0)
    assert panel_corner(200, 40, area, (), margin=10) == (10, 430, 210, 470)  # nothing to hide: bottom-left
    assert panel_corner(200, 40, area, [(300, 50, 600, 300)], margin=10) == (10, 430, 210, 470)
    cat = (90, 60, 620, 470)  # a box whose bottom-left corner the bottom-left panel would cover
    x1, y1, x2, y2 = panel_corner(200, 40, area, [cat], margin=10)
    assert (x1, y1) == (10, 10)  # top-left: over the picture, off the box's edges
    whole = (0, 0, 640, 480)  # a box the size of the frame: every corner alike, bottom-left
    assert panel_corner(200, 40, area, [whole], margin=10) == (10, 430, 210, 470)


def test_a_boxed_tag_goes_down_past_a_blocked_rect_the_legend():
    """The window's legend in the top-left corner: a box's tag there goes below it."""
    legend = (0.0, 0.0, 200.0, 40.0)
    tag = TagSize(100.0, 16.0, anchor=(10.0, 5.0))
    (rect,) = place_labels([tag], (0.0, 0.0, 640.0, 480.0), blocked=[legend])
    assert not overlaps(rect, legend)
    assert rect[0] == 10.0 and rect[1] >= 40.0  # straight down from its corner
    assert place_labels([tag], (0.0, 0.0, 640.0, 480.0)) == [(10.0, 5.0, 110.0, 21.0)]  # nothing blocked: at its box
