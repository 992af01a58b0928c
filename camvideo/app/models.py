"""Which model the window runs, which it asked for, and what the Model box says.

``ModelState`` moves on three events (``asked``, ``ready``, ``failed``) and
answers every question the widgets ask about the model: what the list shows
(``shown``: always the model in use once one runs), the line under it
(``line``), which model "Weights file…" is for (``weights_for``: the model a
load just failed for, e.g. one offline without its weights, not the one still
running), and which failure message a later success makes old news
(``stale_message``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    """A load that failed: the model's name and the message in the window's words."""

    name: str
    message: str


class ModelState:
    """The model side of the window's state (GUI thread only)."""

    def __init__(self, default: str, chosen: str | None = None) -> None:
        if not default:
            raise ValueError("default must name the built-in model")
        self.default = default
        self.chosen = chosen or default  # what the list shows before any model ran
        self.in_use: str | None = None
        self.device: str | None = None
        self.loading: str | None = None
        self.failure: Failure | None = None  # the last failed load, until a load succeeds
        self._stale: str | None = None  # a failure message a success has made old
        self._instead = False  # the built-in model is loading in place of the one that failed

    def asked(self, name: str) -> None:
        """A load of ``name`` started."""
        self.loading = name
        self._instead = self._instead and name == self.default
        if self.in_use is None:
            self.chosen = name

    def ready(self, name: str, device: str) -> None:
        """``name`` runs now, on ``device``: any earlier failure is old news, except
        when ``name`` is the built-in model loaded in its place (the model asked for
        still could not load: its banner stays, and "Weights file…" is for it)."""
        self.in_use, self.device, self.loading, self.chosen = name, device, None, name
        instead, self._instead = self._instead and name == self.default, False
        if instead:
            return
        self._stale = self.failure.message if self.failure is not None else None
        self.failure = None

    def failed(self, name: str, message: str) -> str | None:
        """The load of ``name`` failed; the model to load instead (the built-in
        one, when nothing runs yet and ``name`` is not it), or None."""
        self.failure = Failure(name, message)
        self.loading, self._instead = None, False
        if self.in_use is None and name != self.default:
            self.chosen, self._instead = self.default, True
            return self.default
        return None

    @property
    def shown(self) -> str:
        """The name the model list shows: the one loading, else the one in use (a
        failed choice gives way to it)."""
        return self.loading or self.in_use or self.chosen

    @property
    def weights_for(self) -> str:
        """The model "Weights file…" loads: the one that just failed (its weights were
        not here), else the one the list shows."""
        if self.loading is None and self.failure is not None:
            return self.failure.name
        return self.shown

    @property
    def line(self) -> str:
        """The Model box's line: loading, ready, or what failed and what runs."""
        failure = self.failure
        if self.loading is not None:
            why = f"{failure.name} could not load; " if failure is not None and failure.name != self.loading else ""
            return f"{why}loading {self.loading}…"
        if failure is None:
            return f"{self.in_use} ready on {self.device}" if self.in_use else ""
        if self.in_use is not None:
            again = " from that file" if failure.name == self.in_use else ""
            return f"{failure.name} could not load{again}; still {self.in_use} on {self.device}"
        if failure.name != self.default:
            return f"{failure.name} could not load; loading {self.default}"
        return f"{failure.name} could not load"

    def stale_message(self) -> str | None:
        """Once, after a success: the failure message it made old (the banner hides it)."""
        message, self._stale = self._stale, None
        return message
