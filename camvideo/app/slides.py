"""Where ◀ / ▶ go in a slideshow: the next image that can be shown.

A folder or pattern of images may hold one that cannot be read: the source
skips it (a ``Damage`` naming the file) and shows the one after it. Stepping
back onto it would show the one after it again, and ◀ would never get past it;
``slide_target`` steps over the images known to be unreadable.
"""

from __future__ import annotations

from collections.abc import Collection


def slide_target(current: int, delta: int, count: int, lost: Collection[int] = ()) -> int | None:
    """The image ``delta`` (+1 next, -1 previous) from ``current`` of ``count``,
    stepping over the ``lost`` ones; None at either end (nothing readable there)."""
    if delta not in (-1, 1):
        raise ValueError(f"delta must be 1 or -1, got {delta}")
    if count < 1 or not 0 <= current < count:
        raise ValueError(f"current must be an image of the {count}, got {current}")
    target = current + delta
    while 0 <= target < count and target in lost:
        target += delta
    return target if 0 <= target < count else None
