"""The model names for the window's list, without torchvision in the window's process.

Listing torchvision's classifiers imports torchvision, which pulls in
``torch._dynamo``: seconds of CPU, and in a thread of the window's process
seconds of a held GIL (playback fell to ~7 fps). So the names, with the file
name of each model's default weights in torch's hub cache, are made once per
torchvision version by a child process (``python -m camvideo.app.catalogue``)
and kept in the user's cache folder (``catalogue_path``); each later window reads
them in a millisecond. Whether a model is ready offline is a look in the hub
cache (``ready_offline``), done each time: a download since the last run shows.
Neither needs torch in this process: ``hub_checkpoints`` finds torch's hub cache by
torch's own rule, so a kept list shows at once, before torch's import is done.
A child the window starts by itself runs at the lowest CPU priority (``nice``): it
makes the list while the window plays without taking the stream's cores.

No Qt here: the child imports this module and torchvision only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 300.0  # the child (torch + torchvision imports: seconds, more on a busy machine)
EMBEDDED = "embedded"  # the built-in models' "weights file": inside their packages
NICE = "--nice"  # the child's argument: run at the lowest CPU priority


def catalogue_here() -> list[tuple[str, str | None]]:
    """(model name, its default weights' file name in torch's hub cache) for
    every model, in this process (imports torchvision)."""
    from torchvision.models import get_model_weights

    from camvideo.models.names import BUILTIN, available_models

    def weights_file(name: str) -> str | None:
        if name in BUILTIN:
            return EMBEDDED
        try:
            return Path(urllib.parse.urlsplit(get_model_weights(name).DEFAULT.url).path).name
        except Exception:  # noqa: BLE001 - a model without default weights: none to look for
            return None

    return [(name, weights_file(name)) for name in available_models()]


def list_models_here(models) -> tuple[list[str], list[str]]:
    """(every model name, those whose weights are on this machine), in this process
    (a load of a torchvision model imports torchvision anyway)."""
    from camvideo.models.weights import cached_weights

    names = models.available_models()
    return names, [n for n in names if cached_weights(n) is not None]


def list_in_child(started=lambda proc: None, timeout: float = LIST_TIMEOUT_S, *,
                  nice: bool = False) -> list[tuple[str, str | None]]:
    """``catalogue_here`` in a child Python: its imports cost this process no GIL
    (the pipeline and the window keep running at speed), only CPU, and with
    ``nice`` only the CPU nothing else wants. ``started(proc)`` gets the child (to end it early)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the camvideo package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    with subprocess.Popen([sys.executable, "-m", "camvideo.app.catalogue", *([NICE] if nice else [])],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        started(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"the model list took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit status {proc.returncode}"
        raise RuntimeError(f"the model list failed: {last}")
    return [(str(n), f) for n, f in json.loads(out.strip().splitlines()[-1])]


def catalogue_path() -> Path:
    """Where the names are kept: per torchvision version, in the user's cache folder
    (``models2``: the lists kept before lite1 and lite2 were built in are not read)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tv = version("torchvision")
    except PackageNotFoundError:
        tv = "none"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "camvideo"
    return base / f"gui-models2-tv{tv}.json"


def keep(pairs: list[tuple[str, str | None]], path: Path | None = None) -> None:
    """Write ``pairs`` to the cache file, whole or not at all (two windows, or two
    children of one, may write it at once; a read-only home: made again next time)."""
    path = path or catalogue_path()
    part = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=path.name, suffix=".tmp",
                                         delete=False) as out:
            part = Path(out.name)
            out.write(json.dumps(pairs))
        os.replace(part, path)
    except OSError as exc:
        log.info("cannot keep the model list in %s: %s", path, exc)
        if part is not None:
            part.unlink(missing_ok=True)


def catalogue(started=lambda proc: None, *, nice: bool = False) -> list[tuple[str, str | None]]:
    """Every (name, weights file): from the cache file, else from a child process
    (``list_in_child``, ``nice`` or not; then kept)."""
    path = catalogue_path()
    try:
        pairs = json.loads(path.read_text())
        if isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs):
            return [(str(n), f) for n, f in pairs]
    except (OSError, ValueError):
        pass
    pairs = list_in_child(started, nice=nice)
    keep(pairs, path)
    return pairs


def hub_checkpoints() -> Path:
    """torch's hub cache of weights files (``torch.hub.get_dir()/checkpoints``), by
    torch's rule (``$TORCH_HOME/hub``, ``$TORCH_HOME`` defaulting to
    ``$XDG_CACHE_HOME/torch``, that to ``~/.cache/torch``) while torch is not
    imported; torch's own answer once it is (``torch.hub.set_dir`` may have moved it)."""
    hub = sys.modules.get("torch.hub")
    if hub is not None and not getattr(getattr(hub, "__spec__", None), "_initializing", False):
        return Path(hub.get_dir()) / "checkpoints"
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def ready_offline(pairs: list[tuple[str, str | None]]) -> list[str]:
    """The names whose weights are on this machine (torch's hub cache; lite0 is built in)."""
    folder = hub_checkpoints()
    return [name for name, file in pairs if file == EMBEDDED or (file and (folder / file).is_file())]


def _lowest_priority() -> None:
    """This process yields the CPU to every other (POSIX ``nice``; elsewhere nothing)."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19)


if __name__ == "__main__":  # the child: one JSON line
    if NICE in sys.argv[1:]:
        _lowest_priority()
    print(json.dumps(catalogue_here()))
