"""``camvideo models``: the model names, which give exact CAM, which need Grad-CAM,
and which have weights on this machine.

Each architecture is classified by tracing it with its parameters on the meta
device (``camvideo.models.inspect_model``): no weights, no download. The results
are cached per torchvision/timm version in ``~/.cache/camvideo`` (``--refresh``
redoes them); weights availability is checked every time.

``--fetch NAME ...`` downloads the weights of those models into their caches (on
a connected machine, to copy the caches to one that is not).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import os
import sys
from pathlib import Path

from camvideo.cli.parser import exit_status
from camvideo.errors import CamvideoError, describe

log = logging.getLogger(__name__)

TIMM_LIMIT = 60
DETAIL_WIDTH = 90  # an unsupported model's reason in the table (``shorten``)


def register(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list models: exact CAM or Grad-CAM, weights available offline",
        description="List the model names --model accepts: lite0, lite1, lite2 (built in), every torchvision image "
        "classifier, and timm models as timm:NAME. 'cam' = the head is GAP -> Linear, exact class "
        "activation maps; 'gradcam' = any other head, Grad-CAM on the last feature map; weights: "
        "'embedded', 'cached' (in the torch or Hugging Face cache: works offline) or 'download'.",
        epilog=exit_status(),
    )
    p.add_argument("--timm", metavar="PATTERN", help=f"list timm models matching PATTERN (e.g. 'resnet*'; at most {TIMM_LIMIT})")
    p.add_argument("--layers", metavar="MODEL", help="list MODEL's layers with feature maps (names for --layer)")
    p.add_argument("--cached", action="store_true", help="only models whose weights are on this machine")
    p.add_argument("--fetch", nargs="+", metavar="MODEL",
                   help="download the pretrained weights of these models into the torch / Hugging Face cache "
                   "and print where they are (on a connected machine; copy the cache to use them offline)")
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.add_argument("--refresh", action="store_true", help="inspect again instead of using the cache")
    p.set_defaults(func=run)


def _cache_file() -> Path:
    import timm
    import torchvision

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "camvideo"
    return base / f"models-tv{torchvision.__version__}-timm{timm.__version__}.json"


def _load_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return {}


def _save_cache(path: Path, cache: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=0, sort_keys=True))
    except OSError as exc:  # a read-only home is no reason to fail a listing
        log.info("cannot write %s: %s", path, exc)


def reports(names: list[str], refresh: bool = False):
    """A ModelReport per name, from the cache or by inspection."""
    import warnings

    from camvideo.models import ModelReport, inspect_model

    path = _cache_file()
    cache = {} if refresh else _load_cache(path)
    out, changed = [], False
    for name in names:
        if name not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    report = inspect_model(name)
                except Exception as exc:  # a CamvideoError's own line; an architecture that does not even build
                    report = ModelReport(name, "unsupported", "", describe(exc))
            cache[name] = [report.method, report.layer, report.detail]
            changed = True
        method, layer, detail = cache[name]
        out.append(ModelReport(name, method, layer, detail))
    if changed:
        _save_cache(path, cache)
    return out


def check_fetch(name: str) -> None:
    """``--fetch NAME`` where its weights are not cached and cannot be downloaded now:
    one line that says how to carry them from a connected machine (docs/offline.md),
    not to run this same command."""
    from camvideo.models.weights import network_problem, weights_source

    source = weights_source(name)  # an unknown name fails here
    if source is None or source.cached is not None:
        return
    problem = None
    if source.hf_hub:
        from huggingface_hub import constants

        problem = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else None
    problem = problem or network_problem(source.url)
    if problem is not None:
        home = "HF_HOME" if source.hf_hub else "TORCH_HOME"
        raise CamvideoError(f"{name}: its weights cannot be downloaded here ({problem}): run `camvideo models "
                            f"--fetch {name}` on a connected machine and copy its cache folder there to "
                            f"{source.cache_dir} here, or point {home} at the copy (docs/offline.md); or download "
                            f"{source.url} and pass it with --weights PATH")


# --fetch and --layers each do one thing; the other options choose what the list shows
ALONE = {"fetch": "downloads weights", "layers": "lists one model's layers"}
LIST_OPTIONS = ("timm", "cached", "json", "refresh")


def check_alone(args: argparse.Namespace) -> None:
    """``--fetch`` or ``--layers`` with each other or with the list's options: a
    ``CamvideoError`` naming those that would do nothing, before anything loads."""
    for alone, what in ALONE.items():
        if not getattr(args, alone):
            continue
        extra = [f"--{name}" for name in (*ALONE, *LIST_OPTIONS) if name != alone and getattr(args, name)]
        if extra:
            raise CamvideoError(f"--{alone} {what}: {', '.join(extra)} would do nothing with it; "
                                f"leave {'it' if len(extra) == 1 else 'them'} out")



def check_exported(args: argparse.Namespace) -> None:
    """``--fetch`` or ``--layers`` given an exported graph's file: one line, before
    torch loads (it has no weights to fetch, and its one layer is found in it)."""
    from pathlib import Path

    from camvideo import is_exported

    for option, names in (("--fetch", args.fetch or []), ("--layers", [args.layers] if args.layers else [])):
        for name in names:
            if is_exported(name):
                why = (", read from its file: nothing to fetch" if option == "--fetch" else
                       ": camvideo takes the feature maps its global average pooling averages, found in the graph "
                       "(--layer does not apply)")
                raise CamvideoError(f"{option}: {Path(name).name} is an exported graph{why}")


def run(args: argparse.Namespace) -> int:
    check_alone(args)
    check_exported(args)
    from camvideo.models import available_models, cached_weights, fetch_weights, layer_names

    if args.fetch:
        for name in args.fetch:
            check_fetch(name)
            print(f"{name}  {fetch_weights(name)}")
        return 0
    if args.layers:
        for name, shape in layer_names(args.layers):
            print(f"{name}  {'x'.join(str(s) for s in shape[1:])}")
        return 0
    if args.timm:
        import timm

        names = [f"timm:{n}" for n in timm.list_models() if fnmatch.fnmatch(n, args.timm)]
        if not names:
            raise CamvideoError(f"no timm model matches {args.timm!r}")
        if len(names) > TIMM_LIMIT:
            print(f"# {len(names)} timm models match {args.timm!r}; showing the first {TIMM_LIMIT}", file=sys.stderr)
            names = names[:TIMM_LIMIT]
    else:
        from camvideo.cli.inputs import keep_model_names

        names = available_models()
        keep_model_names()  # torchvision is imported: the list for --model's check before torch
    rows = []
    for report in reports(names, refresh=args.refresh):
        where = cached_weights(report.name)
        weights = "embedded" if where == "embedded" else "cached" if where else "download"
        if args.cached and weights == "download":
            continue
        rows.append((report, weights))
    if args.json:
        for report, weights in rows:
            print(json.dumps({"name": report.name, "method": report.method, "layer": report.layer,
                              "weights": weights, **({"detail": report.detail} if report.detail else {})}))
        return 0
    width = max((len(r.name) for r, _ in rows), default=4)
    print(f"{'NAME':{width}}  {'METHOD':11}  {'WEIGHTS':8}  LAYER")
    for report, weights in rows:
        layer = report.layer or shorten(report.detail)
        print(f"{report.name:{width}}  {report.method:11}  {weights:8}  {layer}")
    print(footer(rows, timm_listed=bool(args.timm)))
    return 0


def shorten(text: str, width: int = DETAIL_WIDTH) -> str:
    """``text`` in at most ``width`` characters: whole when it fits, else cut at the
    last space (a word cut only when it alone is longer than half of ``width``) and
    ended with "…" (``--json`` gives the whole reason)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def footer(rows, timm_listed: bool) -> str:
    """The table's last line: the counts by method, and how to list timm models
    (left out when the table is timm's already)."""
    exact = sum(r.method == "cam" for r, _ in rows)
    grad = sum(r.method == "gradcam" for r, _ in rows)
    line = f"# {len(rows)} models: {exact} exact CAM, {grad} Grad-CAM, {len(rows) - exact - grad} unsupported"
    return line if timm_listed else f"{line}; timm models: camvideo models --timm 'PATTERN'"
