"""The named speed/quality presets (``--quality fast|balanced|best``, the window's
Quality choice) and the photos' analysis of each: settings of ``camvideo.settings``
combined, chosen on the development set (docs/eval.md).

Like ``camvideo.settings`` this module imports neither torch nor numpy nor Qt.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from camvideo.settings import BoxRule, LocalizeSettings, MapSettings

# Named speed/quality presets: ``camvideo ... --quality NAME`` and the app's Quality
# choice. Costs: the inference stage at 640x480 on the CPU against "fast" (plain CAM),
# figures on the development set: docs/eval.md.
QUALITY_PRESETS = ("fast", "balanced", "best")
DEFAULT_QUALITY = "balanced"
# The boxes' inset (BoxRule.inset) of balanced and best, chosen on the tune split of the
# development set (photos and clips; docs/eval.md): 0.03 did best on its photos, 0.05 on
# its clips.
BOX_INSET = 0.04


def quality_maps(name: str) -> tuple[MapSettings, BoxRule]:
    """The map inputs and box rule of a preset: ``"fast"`` is plain CAM (the frame
    squashed to the model's input, boxes at 20% of the maximum, the CAM paper's);
    ``"balanced"`` keeps the frame's aspect ratio within 1.3x the pixels; ``"best"``
    also makes the maps from a second pass at a short side of 288, combined with
    the first's (chosen on the development set: docs/eval.md; 30% of the maximum
    did better on its tune clips but not on its holdout clips, so the paper's 20%
    stays). Both move the box's sides inwards by ``BOX_INSET`` of its size."""
    if name == "fast":
        return MapSettings(), BoxRule()
    if name == "balanced":
        return MapSettings(input="aspect"), BoxRule(inset=BOX_INSET)
    if name == "best":
        return MapSettings(input="aspect", map_side=288, combine=True), BoxRule(inset=BOX_INSET)
    raise ValueError(f"quality must be one of {QUALITY_PRESETS}, got {name!r}")


@dataclass(frozen=True)
class StillSettings:
    """The photos' analysis (``camvideo image``, ``camvideo eval``'s photos;
    ``camvideo.cam.still``): a photo has no frame rate, so it may cost more than a
    video frame. ``class_models``: built-in models whose balanced-pass probabilities
    are averaged with the map model's to choose the classes (used when the map
    model is the built-in lite0; the maps stay the map model's; none: the map
    model's own classes). ``split_side``: the
    short side of a finer pass of the map model (None: no such pass); when that
    pass's map of a class, at ``split_level`` of its maximum, splits into two or
    more regions whose peaks reach ``split_peak`` of it, and the next region's box
    is at least ``split_similar`` of the largest's area (two objects, not one
    object's large part and a small one), the largest region is the
    primary box and the regions are listed (several objects), else the coarse box
    stays. ``mirror``: the coarse box's map from a pass that also sees the mirrored
    photo (``MapSettings.flip``; the classes stay those of the unmirrored passes).
    ``level``: the coarse box's threshold, a fraction of its map's maximum, when the
    box rule is the preset's own (no ``--threshold`` or ``--rule`` given; None: the
    rule's). ``zoom_below``: a coarse box (not the split's) whose area is under this
    fraction of the photo's gets a zoomed second pass (``camvideo.cam.zoom``: the
    box enlarged ``zoom_scale`` times a side, at least ``zoom_least`` of the short
    side, cropped and passed again; the crop's map at ``zoom_level`` of its maximum
    gives the box; None: no zoom, the default); ``zoom_classes``:
    with the zoom, the top-1 class's crop also joins the class mean. Chosen on the
    development set's tune split (docs/eval.md)."""

    class_models: tuple[str, ...] = ()
    split_side: int | None = 448
    split_level: float = 0.3
    split_peak: float = 0.7
    split_similar: float = 0.5
    mirror: bool = True
    level: float | None = 0.25
    zoom_below: float | None = None
    zoom_scale: float = 1.5
    zoom_least: float = 0.25
    zoom_level: float = 0.2
    zoom_classes: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_models", tuple(self.class_models))
        if not all(isinstance(m, str) and m for m in self.class_models):
            raise ValueError(f"class_models must be model names, got {self.class_models!r}")
        if self.split_side is not None and (isinstance(self.split_side, bool) or not isinstance(self.split_side, int)
                                            or not 32 <= self.split_side <= 1024):
            raise ValueError(f"split_side must be None or a side of 32..1024 pixels, got {self.split_side!r}")
        for name in ("split_level", "split_peak"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.split_similar <= 1.0:
            raise ValueError(f"split_similar must be in [0, 1], got {self.split_similar}")
        if not isinstance(self.mirror, bool):
            raise TypeError(f"mirror must be a bool, got {self.mirror!r}")
        if self.level is not None and not 0.0 < self.level <= 1.0:
            raise ValueError(f"level must be None or in (0, 1], got {self.level}")
        self._check_zoom()

    def _check_zoom(self) -> None:
        if self.zoom_below is not None and not 0.0 < self.zoom_below <= 1.0:
            raise ValueError(f"zoom_below must be None or in (0, 1], got {self.zoom_below}")
        if not self.zoom_scale >= 1.0 or not 0.0 <= self.zoom_least <= 1.0 or not 0.0 < self.zoom_level <= 1.0:
            raise ValueError(f"zoom_scale must be >= 1, zoom_least in [0, 1], zoom_level in (0, 1], got "
                             f"{self.zoom_scale}, {self.zoom_least}, {self.zoom_level}")
        if not isinstance(self.zoom_classes, bool):
            raise TypeError(f"zoom_classes must be a bool, got {self.zoom_classes!r}")


def still_settings(name: str) -> StillSettings | None:
    """The photos' analysis of preset ``name``: ``StillSettings()`` for ``"best"``;
    None (the preset's own pass, as a video frame gets) for ``"fast"`` and
    ``"balanced"``: on the grown development set the analysis gained no photo over
    ``balanced``'s pass at about ten times its cost (docs/eval.md)."""
    if name not in QUALITY_PRESETS:
        raise ValueError(f"quality must be one of {QUALITY_PRESETS}, got {name!r}")
    return StillSettings() if name == "best" else None


# A box rule's usual level when the user picks another rule than the preset's
# without a --threshold (the CAM paper's 20% for max; Otsu ignores it).
RULE_LEVELS = {"max": 0.2, "percentile": 0.8, "otsu": 0.2, "mean": 1.0}


def quality_rule(name: str, *, threshold: float | None = None, method: str | None = None,
                 inset: float | None = None, **fields) -> BoxRule:
    """The box rule of preset ``name`` with what the user set (None: the preset's):
    the one place the command line, the window and ``quality_settings`` combine a
    preset with a threshold, rule or inset. Another ``method`` than the preset's
    without a ``threshold`` gets that method's usual level (``RULE_LEVELS``);
    ``fields`` (components, min_area, max_side) replace the rule's own."""
    rule = quality_maps(name)[1]
    method = rule.method if method is None else method
    if threshold is None:
        threshold = rule.threshold if method == rule.method else RULE_LEVELS.get(method, rule.threshold)
    return dataclasses.replace(rule, threshold=threshold, method=method,
                               inset=rule.inset if inset is None else inset, **fields)


def quality_settings(name: str, base: LocalizeSettings | None = None) -> LocalizeSettings:
    """``base`` (default: ``LocalizeSettings()``) with the preset's map inputs and box
    rule; the rest (classes, smoothing, intensity) is kept. The window's Quality
    choice pushes ``quality_settings(name, current)`` to the localizer."""
    base = LocalizeSettings() if base is None else base
    own = base.box_rule
    rule = quality_rule(name, min_area=own.min_area, max_side=own.max_side, components=own.components)
    return dataclasses.replace(base, maps=quality_maps(name)[0], box_rule=rule)
