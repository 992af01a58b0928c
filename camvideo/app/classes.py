"""What the panel's Class field says about what the user typed (the search itself:
``camvideo.classnames.find_class``, which ``--class NAME`` uses too).

Plain functions of the text and the label list: the panel asks them what the
field picks and what to say about it.
"""

from __future__ import annotations

from camvideo.classnames import find_class


def class_hint(text: str, labels: list[str]) -> str:
    """What "One class" localizes for ``text``, or why it picks no class."""
    chosen = find_class(text, labels)
    text = text.strip()
    if chosen is not None:
        name = labels[chosen] if chosen < len(labels) else ""
        return f"showing {chosen} {name}".rstrip()
    if not text:
        return "type a name or a number (until then: the top class)"
    if not labels:
        return f"“{text}”: the class names come with the model (until then: the top class)"
    lowered = text.lower()
    matches = sum(lowered in name.lower() for name in labels)
    if matches:
        return f"“{text}” matches {matches} classes: pick one (until then: the top class)"
    return f"no class matches “{text}” (until then: the top class)"
