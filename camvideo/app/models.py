"""Which model the window runs, which it asked for, and what the Model box says.

``ModelState`` moves on three events (``asked``, ``ready``, ``failed``) and
answers every question the widgets ask about the model: what the list shows
(``shown``: always the model in use once one runs), the line under it
(``line``), which model "Weights file…" is for (``weights_for``: the model a
load just failed for, e.g. one offline without its weights, not the one still
running), and which failure message a later success makes old news
(``stale_message``).

``chosen_file`` says what a file picked with "Weights file…" loads: an exported
graph (``.onnx``, OpenVINO IR ``.xml``) is a model of its own, named by its path,
with the labels file picked for it (else the graph's own labels); any other file
is weights for the model the button is for. ``listed`` keeps such a model (and a
``timm:`` one) in the list the window shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from camvideo import is_exported  # noqa: F401 - the window's modules take it from here


def short_name(name: str) -> str:
    """The name the window says: an exported graph's file name, else the model name."""
    return Path(name).name if is_exported(name) else name


@dataclass(frozen=True)
class Choice:
    """What a picked file loads: the model ``name`` with ``options`` (``load_model``'s)."""

    name: str
    options: dict = field(default_factory=dict)


def chosen_file(path: str, weights_for: str, kept: dict | None = None) -> Choice:
    """The load a file picked with "Weights file…" asks for: an exported graph is
    the model itself (by its absolute path; its labels come with ``labels_for``);
    any other file is ``weights`` for ``weights_for`` (its other ``kept`` options
    stay, e.g. the command line's ``--input-size``)."""
    if not path:
        raise ValueError("path must name the file picked")
    if is_exported(path):
        return Choice(str(Path(path).absolute()))
    return Choice(weights_for, {**(kept or {}), "weights": path})


def labels_for(choice: Choice, labels: str | None) -> Choice:
    """``choice`` (an exported graph) with the labels file picked for it (None:
    the graph's own labels, from its metadata, else class numbers)."""
    return Choice(choice.name, {**choice.options, "labels": labels}) if labels else choice


def listed(names: list[str], wanted: str) -> list[str]:
    """The model list with ``wanted`` kept in it when it is a model no list names:
    a ``timm:`` model (thousands: not listed) or an exported graph's file."""
    if wanted and wanted not in names and (wanted.startswith("timm:") or is_exported(wanted)):
        return [*names, wanted]
    return names


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
        failed = short_name(failure.name) if failure is not None else ""
        in_use = short_name(self.in_use) if self.in_use is not None else None
        if self.loading is not None:
            why = f"{failed} could not load; " if failure is not None and failure.name != self.loading else ""
            return f"{why}loading {short_name(self.loading)}…"
        if failure is None:
            return f"{in_use} ready on {self.device}" if in_use else ""
        if in_use is not None:
            again = " from that file" if failure.name == self.in_use else ""
            return f"{failed} could not load{again}; still {in_use} on {self.device}"
        if failure.name != self.default:
            return f"{failed} could not load; loading {self.default}"
        return f"{failed} could not load"

    def stale_message(self) -> str | None:
        """Once, after a success: the failure message it made old (the banner hides it)."""
        message, self._stale = self._stale, None
        return message
