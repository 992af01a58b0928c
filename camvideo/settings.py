"""Every setting of the pipeline, as frozen dataclasses validated where they are made.

This module imports neither torch nor numpy nor Qt: the window builds and pushes
settings before the core has loaded, and the command line checks its options
before it pays for torch. Each dataclass raises ``ValueError``/``TypeError`` naming
the field and the allowed values; a setting that exists is a valid one.

- ``BoxRule``: how a class map becomes boxes (``camvideo.cam.boxes``);
- ``SmoothingSettings``, ``IntensitySettings``: steadiness on video and map scaling
  (``camvideo.cam.smoothing``);
- ``MapSettings``: the model inputs the classes and maps come from
  (``camvideo.cam.multiscale``); the named speed/quality presets that combine
  them, and the photos' analysis, are in ``camvideo.presets``;
- ``LocalizeSettings``: what to localize, composing the four above
  (``camvideo.runtime.localizer``);
- ``OverlaySettings``: what the overlay draws (``camvideo.annotate``);
- ``ModelOptions``: which model to load and what runs it
  (``camvideo.runtime.loading.load_model_from``), for every front end.

See docs/architecture.md for where each one is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from camvideo import DEFAULT_MODEL
from camvideo.errors import CamvideoError, Hint

# The colour maps the overlay offers (names of OpenCV's COLORMAP_* constants; the
# mapping to cv2 lives in camvideo.annotate, which imports cv2).
COLORMAP_NAMES = ("jet", "turbo", "inferno", "viridis", "hot")

THRESHOLD_METHODS = ("max", "percentile", "otsu", "mean")


COMPONENT_RULES = ("largest", "all")


@dataclass(frozen=True)
class BoxRule:
    """How a map becomes boxes.

    - ``method="max"``: keep pixels >= ``threshold`` x the map's maximum (paper: 0.2);
    - ``method="percentile"``: keep pixels at or above the ``threshold`` quantile
      (0.8 keeps the top 20% of the frame);
    - ``method="otsu"``: Otsu's threshold on the map (``threshold`` unused);
    - ``method="mean"``: keep pixels >= ``threshold`` x the map's mean (a level that
      follows how spread out the evidence is: 1.0 keeps what is above average;
      ``threshold`` up to 10).
    ``components="largest"`` boxes the largest region (paper); ``"all"`` boxes every
    region of at least ``min_area`` (a fraction of the frame).
    ``max_side`` caps the working resolution: boxes are found on the map upsampled to
    at most this many pixels on the long side, then scaled to the frame (error below
    one working pixel, and a 640x480 frame costs a quarter).
    ``inset`` moves each side of a box inwards by this fraction of the box's width
    (left, right) or height (top, bottom): the map is 7x9 cells upsampled, so the
    region above the level spills past the object (the boxes of plain CAM on the
    development set are 1.4x the true box's area at the median); 0 is the paper's box.
    """

    threshold: float = 0.2
    method: str = "max"
    components: str = "largest"
    min_area: float = 0.0
    max_side: int = 320
    inset: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in THRESHOLD_METHODS:
            raise ValueError(f"method must be one of {THRESHOLD_METHODS}, got {self.method!r}")
        if self.components not in COMPONENT_RULES:
            raise ValueError(f"components must be one of {COMPONENT_RULES}, got {self.components!r}")
        if self.method == "mean":
            if not 0.0 < self.threshold <= 10.0:
                raise ValueError(f"threshold must be in (0, 10] with method 'mean' (a multiple of the map's mean), got {self.threshold}")
        elif not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if not 0.0 <= self.min_area < 1.0:
            raise ValueError(f"min_area must be in [0, 1), got {self.min_area}")
        if self.max_side < 8:
            raise ValueError(f"max_side must be at least 8, got {self.max_side}")
        if not 0.0 <= self.inset < 0.5:
            raise ValueError(f"inset must be in [0, 0.5) (a fraction of the box's side), got {self.inset}")



SCALES = ("minmax", "running", "fixed")
CLASS_VIEWS = ("same", "square")


@dataclass(frozen=True)
class SmoothingSettings:
    """How strongly frames are smoothed. Alphas are the weight of the newest frame
    (1.0 = no smoothing for that quantity)."""

    map_alpha: float = 0.25  # EMA of the features, hence of every class map
    prob_alpha: float = 0.2  # EMA of the class probabilities (0.3 before the dev-set tuning: docs/eval.md)
    box_alpha: float = 0.2  # EMA of matched box corners, for a track the picture's motion did not move
    trend_alpha: float = 0.1  # EMA of such a track's corner velocity (0 = plain EMA, lags on motion)
    trend_damping: float = 0.9  # the velocity fades by this factor a frame (no overshoot on a stop)
    margin: float = 0.2  # a challenger leading the shown class by this much takes over at once (was 0.15)
    hold: int = 8  # ... or after leading for this many frames in a row (was 4)
    match_iou: float = 0.3  # least IoU for a box to continue the previous frame's box
    cut_distance: float = 0.25  # cosine distance of pooled features that counts as a cut
    motion: bool = True  # move the averages with the picture's measured motion (camvideo.cam.motion)
    moved_box_alpha: float = 0.1  # EMA of a track's corners once moved with the picture (no velocity term)
    extent: bool = True  # fit a box to the region that moves against the camera, where the map agrees (cam.extent)
    box_side: int = 160  # the long side of the map a video's boxes are found on, at most BoxRule.max_side (the tracks average them)

    def __post_init__(self) -> None:
        for name in ("trend_alpha", "trend_damping"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for name in ("map_alpha", "prob_alpha", "box_alpha", "moved_box_alpha"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"margin must be in [0, 1], got {self.margin}")
        if self.hold < 1:
            raise ValueError(f"hold must be at least 1 frame, got {self.hold}")
        if not 0.0 <= self.match_iou <= 1.0:
            raise ValueError(f"match_iou must be in [0, 1], got {self.match_iou}")
        if not 0.0 < self.cut_distance <= 2.0:
            raise ValueError(f"cut_distance must be in (0, 2], got {self.cut_distance}")
        if not isinstance(self.extent, bool):
            raise TypeError(f"extent must be a bool, got {self.extent!r}")
        if self.box_side < 8:
            raise ValueError(f"box_side must be at least 8, got {self.box_side}")


# The window's confidence gate (the command line's is 0, off, unless --gate: its data keep every box;
# `camvideo process --gate 0.05` writes what the window's Save as JSONL writes).
GATE = 0.05


@dataclass(frozen=True)
class IntensitySettings:
    """How raw maps become heat maps, and the confidence gate.

    ``scale``: ``"minmax"`` (each map to [0, 1] on its own: the default, pulses on
    video), ``"running"`` (divided by a running maximum per class that decays by
    ``decay`` a frame, so a weaker frame looks weaker) or ``"fixed"`` (divided by
    ``fixed_max``, in raw map units: about 20-40 for Lite0's confident classes).
    ``gate``: a class whose probability is below it gets no box and its map drawn at
    ``faint`` opacity (0 = off, the default: every class keeps its box). The window
    uses ``GATE``: a map is scaled to its own maximum, so a class that is not in the
    picture (rank 3 at 0.01, or One class "tabby" over an espresso) would look as
    sure as one that is.
    """

    scale: str = "minmax"
    decay: float = 0.98
    fixed_max: float = 25.0
    gate: float = 0.0
    faint: float = 0.25

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")
        if not self.fixed_max > 0.0:
            raise ValueError(f"fixed_max must be positive, got {self.fixed_max}")
        if not 0.0 <= self.gate <= 1.0:
            raise ValueError(f"gate must be a probability in [0, 1], got {self.gate}")
        if not 0.0 <= self.faint <= 1.0:
            raise ValueError(f"faint must be in [0, 1], got {self.faint}")



INPUT_SHAPES = ("squash", "aspect")


@dataclass(frozen=True)
class MapSettings:
    """Which model inputs the classes and the maps come from.

    - ``input="squash"``: the whole frame resized to the model's input (224x224;
      the CAM paper's way, which squashes a 4:3 or 16:9 frame); ``"aspect"``: the
      frame's aspect ratio kept at the model's short side, with at most
      ``max_pixels`` times the model's pixels (288x224 for 4:3, 320x192 for 16:9);
    - ``map_side``: None (the maps come from the pass that chooses the classes) or
      the short side of a second pass, aspect kept, whose features make the maps of
      the classes the first pass chose (288: 9x12 map cells for 4:3 instead of 7x7);
    - ``combine``: with ``map_side``, the map is the mean of the two passes'
      min-max normalized maps (at the second pass's resolution) instead of the
      second pass's alone: steadier boxes on video. Such maps are already in
      [0, 1], so ``IntensitySettings.scale`` "running" and "fixed" see values <= 1;
    - ``flip``: each pass also runs on the mirrored frame and the features are
      averaged (the mirror's flipped back);
    - ``class_view``: ``"same"`` (the classes from the first pass) or ``"square"``:
      the classes from a pass at the model's own input (224x224, the geometry it
      was trained on), the maps from the ``input`` pass (one pass more).
    Any choice but the default costs more than one forward pass at the model's size.
    """

    input: str = "squash"
    max_pixels: float = 1.3
    map_side: int | None = None
    combine: bool = False
    flip: bool = False
    class_view: str = "same"

    def __post_init__(self) -> None:
        if self.class_view not in CLASS_VIEWS:
            raise ValueError(f"class_view must be one of {CLASS_VIEWS}, got {self.class_view!r}")
        if self.class_view == "square" and (self.input != "aspect" or self.map_side is not None):
            raise ValueError("class_view 'square' needs input 'aspect' and no map_side (its maps come from that pass)")
        if self.input not in INPUT_SHAPES:
            raise ValueError(f"input must be one of {INPUT_SHAPES}, got {self.input!r}")
        if not 0.5 <= self.max_pixels <= 4.0:
            raise ValueError(f"max_pixels must be in [0.5, 4], got {self.max_pixels}")
        if self.map_side is not None and (isinstance(self.map_side, bool) or not isinstance(self.map_side, int)
                                          or not 32 <= self.map_side <= 1024):
            raise ValueError(f"map_side must be None or a side of 32..1024 pixels, got {self.map_side!r}")
        for name in ("flip", "combine"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.combine and self.map_side is None:
            raise ValueError("combine needs a second pass: give map_side")

    @property
    def plain(self) -> bool:
        """True for the single squashed pass of plain CAM."""
        return self == MapSettings()


def _default_preset() -> tuple[MapSettings, BoxRule]:
    """The default preset's map inputs and box rule (``camvideo.presets``, which builds on this module)."""
    from camvideo.presets import DEFAULT_QUALITY, quality_maps

    return quality_maps(DEFAULT_QUALITY)


@dataclass(frozen=True)
class LocalizeSettings:
    """What to localize: the ``topk`` best classes, or the fixed ``class_ids``.

    ``smoothing``: None (each frame on its own: images, the default) or the temporal
    smoothing of a video. ``intensity``: how maps are scaled for display and the
    confidence gate below which a class gets no box. ``maps``: the model inputs the
    classes and maps come from (see ``quality_settings`` for the named presets).
    """

    topk: int = 1
    class_ids: tuple[int, ...] | None = None
    box_rule: BoxRule = field(default_factory=lambda: _default_preset()[1])
    smoothing: SmoothingSettings | None = None
    intensity: IntensitySettings = field(default_factory=IntensitySettings)
    maps: MapSettings = field(default_factory=lambda: _default_preset()[0])

    def __post_init__(self) -> None:
        if self.topk < 1:
            raise ValueError(f"topk must be at least 1, got {self.topk}")
        if self.class_ids is not None and not self.class_ids:
            raise ValueError("class_ids must be None or a non-empty tuple of class ids")
        if self.class_ids is not None:  # each class once, in the order given
            object.__setattr__(self, "class_ids", tuple(dict.fromkeys(self.class_ids)))



@dataclass(frozen=True)
class OverlaySettings:
    """What the overlay draws. ``heatmap_rank``: whose map the heat map is (1 = the
    top class; 2 shows where the evidence for the second class lies, and so on)."""

    heatmap: bool = True
    boxes: bool = True
    labels: bool = True
    alpha: float = 0.45
    colormap: str = "jet"
    heatmap_rank: int = 1

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAP_NAMES:
            raise ValueError(f"colormap must be one of {COLORMAP_NAMES}, got {self.colormap!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if isinstance(self.heatmap_rank, bool) or not isinstance(self.heatmap_rank, int):
            raise TypeError(f"heatmap_rank must be an int (1 = the top class), got {self.heatmap_rank!r}")
        if self.heatmap_rank < 1:
            raise ValueError(f"heatmap_rank must be at least 1 (1 = the top class), got {self.heatmap_rank}")



# --- the model -------------------------------------------------------------------

# The input sizes a model accepts (``load_model``, ``--input-size``): the maps need a
# few pixels; at 2048 lite0's activations take ~2 GB (100000 asked torch for 120 GB).
INPUT_SIZES = (8, 2048)
# --device's values as the messages name them (models.registry.resolve_device, cli.inputs.check_device)
DEVICES = "auto, cpu, cuda, cuda:N, mps or openvino:NAME (openvino:GPU: an Intel GPU)"
RUNTIMES = ("auto", "torch", "openvino")  # what runs the forward pass (camvideo.runtime.runtimes)
# The forward pass's arithmetic on OpenVINO's CPU device (INFERENCE_PRECISION_HINT):
# auto (the default: bf16 for camvideo's Lite models where the CPU runs it natively,
# else f32; camvideo.runtime.quantize.auto_precision), f32, bf16 (its first layers in f32; about
# 1.7x faster where the CPU has native bf16: it earned the default, docs/measuring.md,
# Precision) or int8 (NNCF post-training quantization, camvideo.runtime.quantize; ~2.3x;
# it did not).
PRECISIONS = ("auto", "f32", "bf16", "int8")
MAX_WORKERS = 8  # forward passes side by side in one run (--workers; camvideo.runtime.workers)


@dataclass(frozen=True)
class ModelOptions:
    """Which model to load, on which device, and what runs its forward pass: what
    the command line's model options give, what a batch's workers load, as one
    picklable value. ``runtime.loading.load_model_from(options)`` loads it.

    ``model``: a name (``lite0``, a torchvision classifier, ``timm:NAME``) or an
    exported graph's file (``.onnx``, OpenVINO IR ``.xml``; ``bgr``: it takes BGR);
    ``weights``, ``checkpoint``, ``labels``: files (see ``camvideo.models.load_model``);
    ``layer``: the layer whose maps to use; ``input_size``, ``mean``, ``std``: the
    preprocessing (None: the model's own); ``device``: auto, cpu, cuda[:N], mps or
    openvino:NAME; ``runtime``: one of ``RUNTIMES``; ``precision``: one of
    ``PRECISIONS``, the forward pass's arithmetic on OpenVINO (``auto``: bf16 on a CPU
    that runs it natively, else f32; bf16 and int8 need OpenVINO: torch runs f32). ``class_ids`` and ``topk``,
    when given, are checked against the loaded model's class count. A value out of
    range is a ``CamvideoError`` naming the option (a ``Hint``). ``trust_checkpoint``:
    a ``checkpoint`` that is a whole pickled model may be unpickled, which runs code
    stored in the file (off: such a file is refused; a state dict always loads).
    """

    model: str = DEFAULT_MODEL
    weights: str | None = None
    device: str = "auto"
    runtime: str = "auto"
    checkpoint: str | None = None
    labels: str | None = None
    layer: str | None = None
    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    class_ids: tuple[int, ...] | None = None
    topk: int | None = None
    bgr: bool = False
    trust_checkpoint: bool = False
    precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("bgr", "trust_checkpoint"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        for name in ("model", "device", "runtime"):
            _check_type(name, getattr(self, name), str)
        for name in ("weights", "checkpoint", "labels"):  # paths: kept as text
            value = getattr(self, name)
            if value is not None:
                _check_type(name, value, (str, os.PathLike))
                object.__setattr__(self, name, os.fspath(value))
        if self.layer is not None:
            _check_type("layer", self.layer, str)
        if self.runtime not in RUNTIMES:
            raise CamvideoError(Hint("runtime"), f" must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.precision not in PRECISIONS:
            raise CamvideoError(Hint("precision"), f" must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        self._check_size()
        for name in ("mean", "std"):
            self._check_three(name)
        if self.class_ids is not None:
            ids = tuple(self.class_ids)
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in ids):
                raise TypeError(f"class_ids must be ints, got {ids!r}")
            object.__setattr__(self, "class_ids", ids)
        if self.topk is not None and (not isinstance(self.topk, int) or self.topk < 1):
            raise CamvideoError(Hint("topk"), f" must be at least 1, got {self.topk!r}")

    def _check_size(self) -> None:
        size = self.input_size
        if size is None:
            return
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"input_size must be an int or None, got {type(size).__name__}")
        if not INPUT_SIZES[0] <= size <= INPUT_SIZES[1]:
            raise CamvideoError(Hint("input_size"),
                                f" must be between {INPUT_SIZES[0]} and {INPUT_SIZES[1]} pixels, got {size}")

    def _check_three(self, name: str) -> None:
        values = getattr(self, name)
        if values is None:
            return
        try:
            values = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            values = ()
        if len(values) != 3:
            raise CamvideoError(Hint(name), f" must be three numbers R,G,B, got {getattr(self, name)!r}")
        if name == "std" and min(values) <= 0:
            raise CamvideoError(Hint(name), f" must be three positive numbers, got {values!r}")
        object.__setattr__(self, name, values)

    def load_kwargs(self) -> dict:
        """What ``camvideo.models.load_model`` takes besides the name and the device:
        the files, layer and preprocessing given (only those)."""
        given = {"weights": self.weights, "checkpoint": self.checkpoint, "labels": self.labels,
                 "layer": self.layer, "input_size": self.input_size, "mean": self.mean, "std": self.std,
                 "bgr": self.bgr or None}
        given = {key: value for key, value in given.items() if value is not None}
        if self.trust_checkpoint:
            given["trust_checkpoint"] = True
        return given


def _check_type(name: str, value, kind) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {getattr(kind, '__name__', 'str or path')}, got {type(value).__name__}")
