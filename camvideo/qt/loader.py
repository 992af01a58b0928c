"""Model loading off the GUI thread: the newest request wins, the list comes once.

torch (1.5 s to import on two cores, with timm and torchvision more) is never
imported on the GUI thread before the window shows: the first load imports the
core in its thread, then ``core_ready()`` comes on the GUI thread, before that
load's result. ``models_listed(names)`` follows once: listing every model imports
torchvision (~1.2 s), which lite0 does not need, so for lite0 it costs this
process nothing: the names and their weights files are made once per torchvision
version in a child process (importing torchvision pulls in ``torch._dynamo``:
seconds that, in a thread here, held the GIL and dropped playback to ~7 fps) and
kept in the user's cache folder (``camvideo.app.catalogue``); whether each is
ready offline is a look in torch's hub cache, done each time without torch. The
window asks for the list at its start (``request_list(urgent=False)``: a kept list
shows at once; the first time, the child runs at the lowest CPU priority) and
again when the model box opens (``urgent``: a child at normal priority if the list
is not made yet). A load of another model lists in its own thread (it imports
torchvision anyway), and a load that fails lists too (the user will want another
model). With each name comes whether its weights are on this machine
(``camvideo.models.weights.cached_weights``): those models work offline.

Each load is a task in one lane (``camvideo.qt.tasks``): a newer ``load``
supersedes the one in flight, whose model is dropped unseen. A load cannot be
interrupted, so ``close`` waits for it, bounded.
"""

from __future__ import annotations

import logging
import subprocess
import threading

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.app.catalogue import catalogue, list_models_here, ready_offline
from camvideo.qt.tasks import Tasks

log = logging.getLogger(__name__)

LOADER_JOIN_S = 60.0  # a model load cannot be interrupted; closing waits for it
LANE = "model"
class ModelLoader(QObject):
    """Loads models and lists them in background threads, for one window."""

    loading = pyqtSignal(str)  # model name: a load started
    loaded = pyqtSignal(str, object)  # model name, the GapClassifier (the newest request only)
    failed = pyqtSignal(str, str)  # model name, one-line message (the newest request only)
    core_ready = pyqtSignal()  # torch and the core are imported (once)
    models_listed = pyqtSignal(list, list)  # every model name, those ready offline (once)

    def __init__(self, device: str = "auto", parent: QObject | None = None, *, in_child: bool = True) -> None:
        super().__init__(parent)
        self.device = device
        self.in_child = in_child  # request_list makes the list in a child process
        self.core_loaded = False  # core_ready came: the core's modules are imported
        self._tasks = Tasks(parent=self)
        self._listed = False  # the model names were listed (and sent) already
        self._listing: set[str] = set()  # the lists being made: "background", "urgent", "here"
        self._children: list[subprocess.Popen] = []  # the children making the list
        self._list_lock = threading.Lock()
        self._closed = False

    @property
    def busy(self) -> bool:
        """A load or the list is still running (a superseded load included)."""
        return bool(self._tasks.running())

    def load(self, name: str, weights: str | None = None, **options) -> None:
        """Load ``name`` (from a local ``weights`` file when given; ``options``: the
        rest of ``load_model``'s) in the background; ``loaded`` or ``failed``
        follow, unless a newer load comes first."""
        if self._closed:
            return
        self.loading.emit(name)
        self._tasks.start(lambda: self._load(name, weights, options), name=f"camvideo-load:{name}", lane=LANE,
                          done=lambda model: self.loaded.emit(name, model),
                          failed=lambda message: self.failed.emit(name, message))

    def _load(self, name: str, weights: str | None, options: dict):
        from camvideo import models  # torch, off the GUI thread
        from camvideo.runtime.localizer import FrameLocalizer

        if name != models.DEFAULT_MODEL:  # it imports torchvision anyway: list first
            self._list(models)
        self._tasks.post(self._on_core_imported)  # before this load's outcome (same thread, same queue)
        try:
            given = {**options, **({"weights": weights} if weights else {})}
            model = models.load_model(name, device=self.device, **given)
            # One pass here, off the stream: the first frames are not slow.
            FrameLocalizer(model)([np.zeros((64, 64, 3), np.uint8)])
        except Exception:
            self._list(models)  # the user will want another model
            raise
        return model

    def request_list(self, urgent: bool = True) -> None:
        """List every model in the background, once. ``urgent`` (the model box
        opens): made at once, in a child at normal priority, also when a child in
        the background is still at it; not ``urgent`` (the window's start): in a
        child at the lowest CPU priority, which the stream does not feel (an
        import of torchvision in this process would cost the first second of
        playback ~20 dropped frames on two cores). The first list made is shown."""
        kind = "urgent" if urgent else "background"
        with self._list_lock:
            if self._listed or self._closed or kind in self._listing or (not urgent and self._listing):
                return
            self._listing.add(kind)

        def run() -> None:
            if self.in_child:
                self._list(None, kind)
            else:
                from camvideo import models

                self._list(models, kind)

        self._tasks.start(run, name=f"camvideo-list-models:{kind}")

    def _list(self, models, kind: str = "here") -> None:
        """Every model name, once per window (in a loader thread; not after close,
        which would wait for torchvision's import). ``models`` None: in a child,
        at the lowest priority for ``kind`` "background"."""
        with self._list_lock:
            if self._listed or self._closed:
                self._listing.discard(kind)
                return
            self._listing.add(kind)
        try:
            if models is None:
                pairs = catalogue(self._started, nice=kind == "background")
                names, ready = [n for n, _f in pairs], ready_offline(pairs)
            else:
                names, ready = list_models_here(models)
        except Exception:  # noqa: BLE001 - the list is a convenience: the panel keeps its names
            if not (self._closed or self._listed):  # (closing, or another list made, ends the child: no news)
                log.warning("could not list the models", exc_info=True)
            return
        finally:
            with self._list_lock:
                self._listing.discard(kind)
        with self._list_lock:
            first, self._listed = not self._listed, True
            children = list(self._children)
        if first:
            self._tasks.post(self._on_names, names, ready)
            _end(children)  # another child still at it makes a list nobody will see

    def _started(self, proc: subprocess.Popen) -> None:
        with self._list_lock:
            self._children.append(proc)
            closed = self._closed
        if closed:
            proc.kill()

    def _on_core_imported(self) -> None:
        if not self.core_loaded and not self._closed:
            self.core_loaded = True
            self.core_ready.emit()

    def _on_names(self, names: list, ready: list) -> None:
        if not self._closed:
            self.models_listed.emit(names, ready)

    def close(self, timeout: float = LOADER_JOIN_S) -> None:
        """Drop the results still to come and wait (bounded) for the threads."""
        with self._list_lock:
            self._closed = True
            children = list(self._children)
        _end(children)  # a list nobody will see: closing does not wait for its imports
        self._tasks.close()
        self._tasks.join(timeout)


def _end(children: list[subprocess.Popen]) -> None:
    """Kill the children still running."""
    for child in children:
        if child.poll() is None:
            child.kill()
