"""One class out of the model's labels, from what the user typed (the panel's Class field).

Plain functions of the text and the label list: the panel asks them what the
field picks and what to say about it.
"""

from __future__ import annotations


def chosen_class(text: str, labels: list[str]) -> int | None:
    """The class id ``text`` picks: an id, ``"id name"`` or a name (exact, or the
    only one containing it); None when it picks none or several."""
    text = text.strip()
    if not text:
        return None
    head = text.split(" ", 1)[0]
    if head.isdigit() and 0 <= int(head) < max(1000, len(labels)):
        return int(head)
    lowered = text.lower()
    exact = [i for i, name in enumerate(labels) if name.lower() == lowered]
    if exact:
        return exact[0]
    partial = [i for i, name in enumerate(labels) if lowered in name.lower()]
    return partial[0] if len(partial) == 1 else None


def class_hint(text: str, labels: list[str]) -> str:
    """What "One class" localizes for ``text``, or why it picks no class."""
    chosen = chosen_class(text, labels)
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
