"""camvideo.app.classes: what the panel's Class field picks, and what it says, without a window."""

from __future__ import annotations

from camvideo.app.classes import class_hint
from camvideo.classnames import find_class as chosen_class

LABELS = ["tench", "goldfish", "tabby cat", "tiger cat", "Persian cat", "Egyptian cat"]


def test_an_id_a_numbered_name_an_exact_name_or_a_unique_part_picks_a_class():
    assert chosen_class("3", LABELS) == 3
    assert chosen_class("5 Egyptian cat", LABELS) == 5
    assert chosen_class("egyptian CAT", LABELS) == 5  # case does not matter
    assert chosen_class("gold", LABELS) == 1  # the only one containing it
    assert chosen_class("cat", LABELS) is None  # four contain it: none picked
    assert chosen_class("  ", LABELS) is None


def test_the_hint_names_the_class_or_says_why_none_is_picked():
    assert class_hint("5", LABELS) == "showing 5 Egyptian cat"
    assert class_hint("cat", LABELS) == "“cat” matches 4 classes: pick one (until then: the top class)"
    assert class_hint("zebra", LABELS) == "no class matches “zebra” (until then: the top class)"
    assert "come with the model" in class_hint("Egyptian cat", [])  # before the model has loaded
    assert class_hint("", LABELS).startswith("type a name or a number")
