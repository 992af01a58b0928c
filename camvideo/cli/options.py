"""Options shared by several commands (model, what to localize, overlay) and the
settings built from them, so that they read the same everywhere.

Checked here, where they enter: a bad value is a ``CamvideoError`` naming the
option. Building the parser imports neither torch nor cv2 (``--help`` in 0.1 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools

from camvideo import DEFAULT_MODEL, is_exported
from camvideo.errors import CamvideoError
from camvideo.presets import DEFAULT_QUALITY, QUALITY_PRESETS, quality_maps, quality_rule

# The core's, named here for the commands that use them (image, tests): torch-free.
from camvideo.runtime.loading import memory_errors, out_of_memory  # noqa: F401
from camvideo.settings import (
    COLORMAP_NAMES,
    GATE,
    INPUT_SIZES,
    PRECISIONS,
    THRESHOLD_METHODS,
    IntensitySettings,
    LocalizeSettings,
    ModelOptions,
    OverlaySettings,
    SmoothingSettings,
)


def add_model_options(parser: argparse.ArgumentParser, *, precision: bool = True) -> None:
    """The model options; ``precision``: with ``--precision`` (the window runs f32)."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=DEFAULT_MODEL,
                       help=f"model name (default: {DEFAULT_MODEL}; see `camvideo models`), or your exported "
                       "classifier: FILE.onnx or an OpenVINO IR FILE.xml (with its .bin) ending in global average "
                       "pooling and one linear layer")
    group.add_argument("--weights", type=path_argument, metavar="PATH", help="local weights file (state dict) instead of the packaged or downloaded one")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N, mps, or openvino:NAME for an "
                       "OpenVINO device (openvino:GPU: an Intel GPU), or the device name of an installed torch device "
                       "extension (npu) (default: auto)")
    group.add_argument("--runtime", choices=("auto", "torch", "openvino"), default="auto",
                       help="what runs the forward pass: auto (OpenVINO for exact-CAM models on the CPU, torch on "
                       "a GPU and for Grad-CAM), torch or openvino (default: auto)")
    if precision:
        group.add_argument("--precision", choices=PRECISIONS, default="auto",
                           help="the forward pass's arithmetic on OpenVINO: auto (bf16 on a CPU that runs it "
                           "natively, AVX512_BF16 or AMX on Linux, else f32), f32, bf16 (its first layers in f32; agrees "
                           "with f32 on the development set) or int8 (NNCF post-training quantization, "
                           "calibrated once and cached; pip install 'camvideo[int8]'; not f32's maps) "
                           "(default: auto; see docs/measuring.md)")
    group.add_argument("--checkpoint", type=path_argument, metavar="PATH",
                       help="your own classifier: a state dict for the architecture --model, or a whole pickled "
                       "model (with --trust-checkpoint)")
    group.add_argument("--trust-checkpoint", action="store_true",
                       help="let --checkpoint be a whole pickled model: loading one runs code stored in the file, "
                       "so only for a file you made or trust (default: refused; a state dict needs no trust)")
    group.add_argument("--labels", type=path_argument, metavar="FILE", help="class names, one per line, in class order")
    group.add_argument("--layer", metavar="NAME",
                       help="the layer whose maps to use (default: found automatically; "
                       "`camvideo models --layers MODEL` lists them); not the CAM layer -> Grad-CAM")
    group.add_argument("--input-size", type=int, metavar="N",
                       help=f"model input N x N pixels, {INPUT_SIZES[0]}..{INPUT_SIZES[1]} "
                       "(default: the model's own; 224 for a pickled checkpoint)")
    group.add_argument("--mean", metavar="R,G,B", help="input normalization mean, on pixels scaled to 0..1 "
                       "(default: the model's; ImageNet's 0.485,0.456,0.406 for an exported graph, 0 for one whose input "
                       "is uint8)")
    group.add_argument("--std", metavar="R,G,B", help="input normalization std (default: the model's; ImageNet's "
                       "0.229,0.224,0.225 for an exported graph, 1/255 for one whose input is uint8: the pixels)")
    group.add_argument("--bgr", action="store_true",
                       help="an exported graph (.onnx, .xml) takes its colour channels in BGR order (default: RGB)")


def add_box_options(group) -> None:
    """--quality, --threshold, --rule, --components, --inset: the model inputs (MapSettings)
    and how a map becomes boxes (BoxRule)."""
    group.add_argument("--quality", choices=QUALITY_PRESETS, default=DEFAULT_QUALITY,
                       help="fast: plain CAM (the frame squashed to 224x224); balanced (default): the frame's "
                       "aspect ratio kept (288x224 for 4:3), boxes inset by 4%%; best: a second, larger pass for the maps "
                       "(about 3x fast's cost; see docs/eval.md)")
    group.add_argument("--threshold", type=float, default=None, metavar="T",
                       help="box threshold: fraction of the map's maximum with --rule max, quantile with "
                       "percentile, multiple of the map's mean with mean (default: 0.2 of the maximum, the CAM "
                       "paper's)")
    group.add_argument("--rule", choices=THRESHOLD_METHODS, default=None,
                       help="threshold rule: fraction of max, percentile of the map, Otsu, or multiple of the "
                       "map's mean (default: the --quality preset's)")
    group.add_argument("--components", choices=("largest", "all"), default="largest",
                       help="box the largest region (default, the CAM paper's) or every region")
    group.add_argument("--inset", type=float, default=None, metavar="FRACTION",
                       help="move each side of a box inwards by this fraction of its width or height "
                       "(the upsampled map spills past the object; default: the --quality preset's, "
                       "0.04 for balanced and best, 0 for fast: the paper's box)")


def path_argument(text: str) -> str:
    """A file, folder, URL or camera argument: refused when empty (``Path("")`` is the
    current folder, so an unset shell variable would otherwise mean ".")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name: give a file, folder or URL")
    return text


def class_argument(text: str) -> int | str:
    """A ``--class`` value: an id, or a name that ``resolve_classes`` turns into one."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("give a class id or name, not an empty string")
    return int(text) if text.lstrip("-").isdigit() else text


def resolve_classes(args: argparse.Namespace) -> None:
    """``--class NAME`` values become ids, found in the ``--labels`` file when one is
    given, else in ImageNet's names (``classnames.find_class``); a name that picks
    no class or several is a ``CamvideoError`` that says which."""
    values = getattr(args, "class_ids", None) or []
    names = [v for v in values if isinstance(v, str)]
    if not names:
        return
    from camvideo.classnames import find_class, imagenet_labels, read_labels

    given = getattr(args, "labels", None)
    if given is None and is_exported(getattr(args, "model", "") or ""):
        raise CamvideoError(f"--class {names[0]!r}: an exported model's class names are read when it loads: "
                            "give the class id, or its names with --labels FILE")
    labels = read_labels(given) if given else imagenet_labels()
    ids = []
    for value in values:
        found = value if isinstance(value, int) else find_class(value, labels)
        if found is None:
            where = f"the names in {given}" if given else "ImageNet's class names"
            raise CamvideoError(f"--class {value!r} {_matches(value, labels)} of {where}: give a class id or a "
                                "whole name")
        ids.append(found)
    args.class_ids = ids


def _matches(value: str, labels: list[str], shown: int = 10) -> str:
    """What a ``--class`` name that picks no single class matches: ``matches 8
    classes (281 tabby cat, 282 tiger cat, ...)``, or ``matches none``."""
    found = [f"{i} {name}" for i, name in enumerate(labels) if value.lower() in name.lower()]
    if not found:
        return "matches none"
    more = f", ... {len(found) - shown} more" if len(found) > shown else ""
    return f"matches {len(found)} classes ({', '.join(found[:shown])}{more})"


def add_localize_options(parser: argparse.ArgumentParser, topk: int = 1, smooth: bool | None = None) -> None:
    """``smooth``: None for commands on single images (no --smooth option), else
    the default of --smooth/--no-smooth (True for video)."""
    group = parser.add_argument_group("localization")
    group.add_argument("--topk", type=int, default=topk, metavar="K", help=f"localize the K most likely classes (default: {topk})")
    group.add_argument("--class", dest="class_ids", type=class_argument, action="append", metavar="ID|NAME",
                       help="localize this class instead of the top-k (repeatable): an id, or a name as the "
                       "labels spell it (--labels, else ImageNet's: 285 or 'Egyptian cat'; any case, or a "
                       "part only one name contains)")
    add_box_options(group)
    group.add_argument("--min-area", type=float, default=0.0, metavar="FRACTION",
                       help="with --components all: least region area, a fraction of the frame (default: 0)")
    group.add_argument("--gate", type=float, default=IntensitySettings.gate, metavar="MIN_PROB",
                       help=f"a class below this probability gets no box and a faint map (default: "
                       f"{IntensitySettings.gate:g}, off: every class keeps its box; the window uses {GATE:g})")
    group.add_argument("--scale", choices=("minmax", "running", "fixed"), default="minmax",
                       help="heat-map scale: each map to its own min-max (default), a running maximum "
                       "comparable across frames, or a fixed maximum (--scale-max)")
    group.add_argument("--scale-max", type=float, default=25.0, metavar="VALUE",
                       help="raw map value shown at full colour with --scale fixed (default: 25)")
    if smooth is not None:
        group.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=smooth,
                           help=f"smooth maps, labels and boxes across frames (default: {'on' if smooth else 'off'})")
        group.add_argument("--smooth-strength", type=float, default=0.75, metavar="S",
                           help="0 (off) .. 0.95 (very steady, slower to follow): weight of the past frames "
                           "in the map average (default: 0.75)")
        group.add_argument("--motion", action=argparse.BooleanOptionalAction, default=True,
                           help="with --smooth: move the averaged maps and boxes with the picture's measured "
                           "motion, so that they follow pans, zooms and moving objects without lag (default: on)")
        group.add_argument("--extent", action=argparse.BooleanOptionalAction, default=True,
                           help="with --smooth --motion: fit a class's box to the region that moves against the "
                           "camera where the map agrees (a moving object's own extent; docs/smoothing.md; default: on)")


def add_overlay_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("overlay")
    group.add_argument("--alpha", type=float, default=0.45, metavar="A", help="heat-map opacity, 0..1 (default: 0.45)")
    group.add_argument("--colormap", default="jet", metavar="NAME", help="jet, turbo, inferno, viridis or hot (default: jet)")
    group.add_argument("--no-heatmap", action="store_true", help="do not draw the heat map")
    group.add_argument("--no-boxes", action="store_true", help="do not draw boxes")
    group.add_argument("--no-labels", action="store_true", help="do not draw labels")
    group.add_argument("--heatmap-rank", type=int, default=1, metavar="N",
                       help="draw the heat map of the class ranked N (default: 1, the top class; "
                       "with --topk K, 1..K: e.g. --topk 3 --heatmap-rank 2 shows where the second "
                       "class's evidence lies)")


def _three_floats(text: str | None, option: str) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise CamvideoError(f"{option} must be three numbers R,G,B (e.g. 0.485,0.456,0.406), got {text!r}")
    if option == "--std" and min(values) <= 0:
        raise CamvideoError(f"--std must be three positive numbers, got {text!r}")
    return values


def model_options_from_args(args: argparse.Namespace) -> ModelOptions:
    """The ``ModelOptions`` of ``args``' model options (``--model``, ``--weights``,
    ``--device``, ``--runtime``, ...; with ``--class`` and ``--topk`` where the
    command has them), checked where they enter: the input size first, then the
    mean and the std."""
    get = functools.partial(getattr, args)
    ids = get("class_ids", None)
    options = ModelOptions(
        model=get("model", None) or DEFAULT_MODEL, weights=get("weights", None), device=get("device", None) or "auto",
        runtime=get("runtime", None) or "auto", checkpoint=get("checkpoint", None), labels=get("labels", None),
        layer=get("layer", None), input_size=get("input_size", None),
        class_ids=tuple(ids) if ids is not None else None, topk=get("topk", None), bgr=bool(get("bgr", False)),
        trust_checkpoint=bool(get("trust_checkpoint", False)), precision=get("precision", None) or "f32")  # the window: f32
    return dataclasses.replace(options, mean=_three_floats(get("mean", None), "--mean"),
                               std=_three_floats(get("std", None), "--std"))


def model_options(args: argparse.Namespace) -> dict:
    """What the model options of ``args`` give ``load_model`` besides the name and
    the device (weights, checkpoint, labels, layer, input size, mean, std, bgr), checked
    where they enter; only those given. The window loads its first model with them."""
    return model_options_from_args(args).load_kwargs()


def load_model_from_args(args: argparse.Namespace):
    """The model of ``args`` (``camvideo.runtime.loading.load_model_from``). A load that
    fails (a ``--model`` typo) keeps the model list for the next command's name check
    when none was kept (``inputs.keep_model_names``)."""
    from camvideo.runtime.loading import load_model_from

    try:
        return load_model_from(model_options_from_args(args))
    except CamvideoError:
        from camvideo.cli.inputs import keep_model_names

        keep_model_names()
        raise


def localizer_from_args(args: argparse.Namespace, settings, *, model=None, live: bool = True,
                        frame_size: tuple[int, int] | None = None):
    """A FrameLocalizer for the model of ``args`` (``load_model_from_args``, or
    ``model``) on the runtime ``--runtime`` and ``--device`` pick: OpenVINO in
    latency mode (``live``: cameras, streams, single images) or throughput mode
    (files); torch when OpenVINO cannot run the model (one warning says why).
    Latency mode is one stream over every core (``live_openvino_threads``): a
    live source's one frame in flight gets the forward pass in about half the
    time of one core. Memory that runs out while it is made is one line. ``frame_size``: the source's (width, height) when known: only the
    input sizes its frames need are compiled (``loading.frame_sizes``)."""
    from camvideo.runtime.loading import frame_sizes
    from camvideo.runtime.localizer import FrameLocalizer

    if model is None:
        model = load_model_from_args(args)
    with memory_errors(args):
        forward = forward_from_args(args, model, live=live, sizes=frame_sizes(model, settings, frame_size))
        return FrameLocalizer(model, settings, forward=forward)


def forward_from_args(args: argparse.Namespace, model, *, live: bool = True, sizes=None):
    """The forward pass ``--runtime`` and ``--device`` pick (None: torch's), with
    ``sizes`` made ready now; see ``localizer_from_args``."""
    from camvideo.runtime.loading import forward_for
    from camvideo.runtime.workers import live_openvino_threads

    return forward_for(model, model_options_from_args(args), mode="latency" if live else "throughput",
                       threads=live_openvino_threads() if live else None, sizes=sizes)


def still_from_args(args: argparse.Namespace, model):
    """The photos' analysis (``camvideo.cam.still``) of ``--quality`` on ``model``:
    None (the preset's own pass) unless ``best``, and for models without exact CAM; a
    ``--threshold`` or ``--rule`` given replaces its coarse box's level. Memory that
    runs out while the class models load is one line."""
    from camvideo.cam.still import still_analysis
    from camvideo.presets import still_settings

    own = any(getattr(args, name, None) for name in ("checkpoint", "labels", "weights", "layer"))
    settings = still_settings(getattr(args, "quality", DEFAULT_QUALITY))
    if settings is not None and any(getattr(args, name, None) is not None for name in ("threshold", "rule")):
        settings = dataclasses.replace(settings, level=None)  # the user's threshold or rule, not the photos' level
    with memory_errors(args):
        return still_analysis(model, settings, own_classes=own)


# The settings' fields that an option sets, for a ValueError of camvideo.settings
# ("topk must be at least 1") to name the option instead ("--topk must be ...").
FIELD_OPTIONS = {"topk": "--topk", "threshold": "--threshold", "method": "--rule", "components": "--components",
                 "min_area": "--min-area", "inset": "--inset", "gate": "--gate", "fixed_max": "--scale-max",
                 "scale": "--scale", "alpha": "--alpha", "colormap": "--colormap", "heatmap_rank": "--heatmap-rank",
                 "quality": "--quality"}


def option_message(exc: ValueError, fields: dict[str, str] = FIELD_OPTIONS) -> CamvideoError:
    """A settings ``ValueError`` as the command line words it: its field named as
    the option that sets it (``--min-area must be in [0, 1), got 2.0``); ``fields``:
    field -> option."""
    text = str(exc)
    field, _, rest = text.partition(" ")
    if field in fields:
        text = f"{fields[field]} {rest}".replace("with method 'mean'", "with --rule mean")
    return CamvideoError(text)


def localize_settings_from_args(args: argparse.Namespace):

    try:
        quality = getattr(args, "quality", DEFAULT_QUALITY)
        maps = quality_maps(quality)[0]
        rule = quality_rule(quality, threshold=args.threshold, method=args.rule, inset=getattr(args, "inset", None),
                            components=args.components, min_area=getattr(args, "min_area", 0.0))
        ids = tuple(args.class_ids) if args.class_ids else None
        if ids is not None and any(c < 0 for c in ids):
            raise ValueError(f"--class must be a class id (0 or more), got {', '.join(str(c) for c in ids if c < 0)}")
        if not 0.0 <= getattr(args, "gate", IntensitySettings.gate) <= 1.0:
            raise ValueError(f"--gate must be a probability between 0 and 1, got {args.gate}")
        if getattr(args, "scale_max", 25.0) <= 0:
            raise ValueError(f"--scale-max must be positive, got {args.scale_max}")
        intensity = IntensitySettings(scale=getattr(args, "scale", "minmax"), fixed_max=getattr(args, "scale_max", 25.0),
                                      gate=getattr(args, "gate", IntensitySettings.gate))
        smoothing = None
        strength = getattr(args, "smooth_strength", 0.75)
        if not 0.0 <= strength <= 0.95:
            raise ValueError(f"--smooth-strength must be between 0 and 0.95, got {strength}")
        if getattr(args, "smooth", False) and strength > 0.0:
            default = SmoothingSettings()
            # the map average sets the pace; probabilities and boxes keep their ratio to it
            factor = (1.0 - strength) / default.map_alpha
            smoothing = SmoothingSettings(
                map_alpha=1.0 - strength,
                prob_alpha=min(1.0, default.prob_alpha * factor),
                box_alpha=min(1.0, default.box_alpha * factor),
                moved_box_alpha=min(1.0, default.moved_box_alpha * factor),
                motion=getattr(args, "motion", True),
                extent=getattr(args, "extent", True),
            )
        return LocalizeSettings(topk=args.topk, class_ids=ids, box_rule=rule, smoothing=smoothing, intensity=intensity,
                                maps=maps)
    except ValueError as exc:
        raise option_message(exc) from None


def overlay_settings_from_args(args: argparse.Namespace):

    if not 0.0 <= args.alpha <= 1.0:
        raise CamvideoError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.colormap not in COLORMAP_NAMES:
        import difflib

        close = difflib.get_close_matches(args.colormap.lower(), COLORMAP_NAMES, n=1, cutoff=0.6)
        raise CamvideoError(f"--colormap must be one of {', '.join(COLORMAP_NAMES)}, got {args.colormap!r}"
                            + (f"; did you mean {close[0]}?" if close else ""))
    rank = getattr(args, "heatmap_rank", 1)
    if rank < 1:
        raise CamvideoError(f"--heatmap-rank must be at least 1 (1 = the top class), got {rank}")
    # Each localized class has one map: --topk K gives K, --class (repeated) one per id.
    ids = getattr(args, "class_ids", None)
    maps = len(ids) if ids else getattr(args, "topk", 1)
    if rank > maps:
        if ids:
            raise CamvideoError(f"--heatmap-rank {rank} needs {rank} localized classes, but --class "
                                f"gives {maps} (one map per --class): give {rank} or use a rank of 1..{maps}")
        raise CamvideoError(f"--heatmap-rank {rank} needs --topk {rank} or more (--topk {maps} "
                            f"localizes {maps} class{'es' if maps > 1 else ''})")
    try:
        return OverlaySettings(heatmap=not args.no_heatmap, boxes=not args.no_boxes, labels=not args.no_labels,
                               alpha=args.alpha, colormap=args.colormap, heatmap_rank=rank)
    except ValueError as exc:
        raise option_message(exc) from None

