"""slide_target: ◀ / ▶ in a slideshow step over the images that cannot be read."""

from __future__ import annotations

import pytest

from camvideo.app.slides import slide_target


def test_unreadable_images_are_stepped_over_both_ways():
    lost = {1}
    assert slide_target(2, -1, 4, lost) == 0  # ◀ from the image after it: past it, not onto it again
    assert slide_target(0, 1, 4, lost) == 2
    assert slide_target(3, 1, 4, lost) is None and slide_target(0, -1, 4, lost) is None  # the ends
    assert slide_target(2, -1, 4, {0, 1}) is None  # nothing readable before it
    assert slide_target(1, 1, 3) == 2


@pytest.mark.parametrize("args", [(0, 2, 3), (3, 1, 3), (0, 1, 0)])
def test_arguments_are_checked(args):
    with pytest.raises(ValueError):
        slide_target(*args)
