"""The model names for the window's list, without torchvision in the window's process.

Listing torchvision's classifiers imports torchvision, which pulls in
``torch._dynamo``: seconds of CPU, and in a thread of the window's process
seconds of a held GIL (playback fell to ~7 fps). So the names, with the file
name of each model's default weights in torch's hub cache, are made once per
torchvision version by a child process (``python -m camvideo.app.catalogue``)
and kept in the user's cache folder (``catalogue_path``); each later window reads
them in a millisecond. Whether a model is ready offline is a look in the hub
cache (``ready_offline``), done each time: a download since the last run shows.

No Qt here: the child imports this module and torchvision only.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 300.0  # the child (torch + torchvision imports: seconds, more on a busy machine)
EMBEDDED = "embedded"  # the built-in models' "weights file": inside their packages


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


def list_in_child(started=lambda proc: None, timeout: float = LIST_TIMEOUT_S) -> list[tuple[str, str | None]]:
    """``catalogue_here`` in a child Python: its imports cost this process no GIL
    (the pipeline and the window keep running at speed), only CPU.
    ``started(proc)`` gets the child (to end it early)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the camvideo package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    with subprocess.Popen([sys.executable, "-m", "camvideo.app.catalogue"], stdout=subprocess.PIPE,
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
    """Write ``pairs`` to the cache file (a read-only home: made again next time)."""
    path = path or catalogue_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(pairs))
    except OSError as exc:
        log.info("cannot keep the model list in %s: %s", path, exc)


def catalogue(started=lambda proc: None) -> list[tuple[str, str | None]]:
    """Every (name, weights file): from the cache file, else from a child process (then kept)."""
    path = catalogue_path()
    try:
        pairs = json.loads(path.read_text())
        if isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs):
            return [(str(n), f) for n, f in pairs]
    except (OSError, ValueError):
        pass
    pairs = list_in_child(started)
    keep(pairs, path)
    return pairs


def ready_offline(pairs: list[tuple[str, str | None]]) -> list[str]:
    """The names whose weights are on this machine (torch's hub cache; lite0 is built in)."""
    import torch  # the window's model load has imported it already

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return [name for name, file in pairs if file == EMBEDDED or (file and (folder / file).is_file())]


if __name__ == "__main__":  # the child: one JSON line
    print(json.dumps(catalogue_here()))
