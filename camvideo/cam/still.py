"""The photos' analysis (``StillSettings``), ``--quality best``'s for a photo: more
than a video frame gets, since a photo has no frame rate to keep.

Three parts, measured on the development set's photos (docs/eval.md, issue 25):

- **the classes** from the mean of the map model's probabilities and those of
  the ``class_models`` (built-in models' balanced passes, for lite0; none by
  default): a CAM can be made for any class, so the maps stay the map model's;
- **the coarse box** from the map model's balanced pass averaged with its mirror
  (``mirror``: the mirrored photo's features flipped back), at ``level`` of the
  map's maximum (25%: the mirror-averaged map is smoother than one pass's) unless
  the user chose a threshold or rule;
- **several objects**: a finer pass of the map model (short side 448: 14x19 cells
  on 4:3 instead of 7x9); when its map of a class, thresholded at ``split_level`` of
  its maximum, splits into two or more regions whose peaks reach ``split_peak``,
  and the next region's box is at least ``split_similar`` of the largest's area,
  the objects are told apart: the largest region is the primary box and every
  region is listed. Otherwise the coarse map's box stays (the finer map's threshold
  would also cut one object into parts: a bridge's two towers, a dome and its
  lantern);
- **the zoomed pass** (``zoom_below``; off by default): a coarse box (not the split's) smaller than
  ``zoom_below`` of the photo is enlarged (``zoom_scale``, at least ``zoom_least``
  of the short side), cropped and passed again (``camvideo.cam.zoom``); the same
  class's map on the crop, at ``zoom_level`` of its maximum, gives the box. With
  ``zoom_classes`` the top-1 class's crop joins the class mean first (its
  probabilities one more member), and the classes are chosen again.

The extra passes run in eager torch on the model's device, whatever runtime serves
the video path. Only exact CAM (GAP -> Linear) models get the analysis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from camvideo.cam.boxes import boxes_from_cam, normalize
from camvideo.cam.evidence import Evidence, evidence_maps
from camvideo.cam.multiscale import ScaledPasses
from camvideo.cam.regions import region_boxes
from camvideo.cam.zoom import box_area, crop_evidence, wanted, zoom_box, zoom_window
from camvideo.presets import StillSettings
from camvideo.results import Box, FrameResult
from camvideo.settings import BoxRule, LocalizeSettings, MapSettings

CLASS_PASS = MapSettings(input="aspect")  # the class models' pass: balanced's
MIRROR_PASS = MapSettings(input="aspect", flip=True)  # the coarse map's pass with ``mirror``


class StillAnalysis:
    """The photos' analysis of one map model (``method``, an exact CAM method) with
    ``class_methods`` (the methods of the models whose probabilities join its own;
    empty: its own classes)."""

    def __init__(self, method, settings: StillSettings, class_methods: Sequence = ()) -> None:
        if not method.smoothable:
            raise ValueError(f"the photos' analysis needs an exact-CAM model, not {method.name}")
        self.method, self.settings = method, settings
        self._passes = ScaledPasses(method)
        self._classes = [ScaledPasses(m) for m in class_methods]

    def classes(self, frame: np.ndarray, evidence: Evidence) -> Evidence:
        """``evidence`` with the probabilities the classes are chosen from: the mean
        of its own and each class model's on ``frame`` (unchanged without any)."""
        if not self._classes:
            return evidence
        request = LocalizeSettings(topk=1, maps=CLASS_PASS)
        probs = [evidence.probs]
        with torch.inference_mode():
            for passes in self._classes:
                probs.append(passes.evidence([frame], request)[0].probs.to(evidence.probs.device))
        mean = torch.stack(probs).mean(dim=0)
        return dataclasses.replace(evidence, probs=mean, logits=torch.log(mean.clamp_min(1e-12)))

    def mirrored(self, frame: np.ndarray, evidence: Evidence) -> Evidence:
        """``evidence`` (its classes kept) with the features of the map model's pass
        averaged with its mirror's (unchanged without ``mirror``)."""
        if not self.settings.mirror:
            return evidence
        with torch.inference_mode():
            both = self._passes.evidence([frame], LocalizeSettings(topk=1, maps=MIRROR_PASS))[0]
        return dataclasses.replace(evidence, features=both.features.to(evidence.features.device), first=None)

    def rule(self, rule: BoxRule) -> BoxRule:
        """The coarse box's rule: ``rule`` at ``level`` of the maximum for a rule of
        the maximum (``rule`` itself without ``level``)."""
        level = self.settings.level
        return rule if level is None or rule.method != "max" else dataclasses.replace(rule, threshold=level)

    def fine(self, frame: np.ndarray) -> Evidence | None:
        """The finer pass's evidence of ``frame`` (None without ``split_side``)."""
        side = self.settings.split_side
        if side is None:
            return None
        request = LocalizeSettings(topk=1, maps=MapSettings(input="aspect", map_side=side))
        with torch.inference_mode():
            return self._passes.evidence([frame], request)[0]

    def split(self, fine: Evidence | None, class_id: int, width: int, height: int, rule: BoxRule) -> list[Box]:
        """The regions of ``class_id``'s finer map, largest first, when it splits into
        several strong ones of similar size (``split_similar``); [] when it does not
        (the coarse box stays) and for ``rule.components`` "all" (every region of
        the coarse map is boxed)."""
        if fine is None or rule.components != "largest":
            return []
        with torch.inference_mode():
            cam = self.method.maps(fine, [class_id]).cpu().numpy()[0]
        level = dataclasses.replace(rule, threshold=self.settings.split_level, method="max")
        regions = region_boxes(normalize(cam), width, height, level, least_peak=self.settings.split_peak)
        if len(regions) < 2 or box_area(regions[1]) < self.settings.split_similar * box_area(regions[0]):
            return []
        return regions

    def zoom_rule(self, rule: BoxRule) -> BoxRule:
        """The crop map's rule: ``rule`` at ``zoom_level`` of the maximum for the
        preset's own rule (``rule`` itself where the user's threshold or rule holds:
        no ``level``, or not a rule of the maximum)."""
        level = self.settings.level
        return rule if level is None or rule.method != "max" else dataclasses.replace(rule, threshold=self.settings.zoom_level)

    def crop(self, frame: np.ndarray, box: Box | None, crops: dict) -> tuple[Box, Evidence] | None:
        """The zoomed pass's window on ``box`` and the crop's evidence (None: no zoom
        asked, or the box not small enough); ``crops`` keeps each window's evidence."""
        height, width = frame.shape[:2]
        if not wanted(box, width, height, self.settings.zoom_below):
            return None
        s = self.settings
        window = zoom_window(box, width, height, s.zoom_scale, s.zoom_least)
        if window not in crops:
            crops[window] = crop_evidence(self._passes, frame, window)
        return window, crops[window]

    def zoomed(self, frame: np.ndarray, class_id: int, box: Box | None, rule: BoxRule, crops: dict) -> Box | None:
        """``class_id``'s coarse ``box`` replaced by the zoomed pass's box (``box``
        itself when there is no zoom, or the crop's map has no region)."""
        found = self.crop(frame, box, crops) if rule.components == "largest" else None
        if found is None:
            return box
        return zoom_box(self.method, found[1], class_id, found[0], self.zoom_rule(rule)) or box

    def primary(self, frame: np.ndarray, evidence: Evidence, fine: Evidence | None, class_id: int,
                rule: BoxRule, crops: dict) -> list[Box]:
        """``class_id``'s boxes as the analysis gives them: the finer map's regions
        where it splits, else the coarse map's box (at ``rule``'s level), zoomed."""
        height, width = frame.shape[:2]
        regions = self.split(fine, class_id, width, height, rule)
        if regions:
            return regions
        heat = normalize(evidence_maps(self.method, evidence, [class_id])[0])
        boxes = boxes_from_cam(heat, width, height, self.rule(rule))[:1]
        return [self.zoomed(frame, class_id, boxes[0], rule, crops)] if boxes else []

    def joined(self, frame: np.ndarray, evidence: Evidence, fine: Evidence | None, rule: BoxRule,
               crops: dict) -> Evidence:
        """``evidence`` with the top-1 class's zoomed crop joined to the class mean (one
        more member); unchanged without ``zoom_classes`` or when that class's box
        gets no zoom (the finer map splits, or the box is too large)."""
        if not self.settings.zoom_classes or self.settings.zoom_below is None or rule.components != "largest":
            return evidence
        top = int(evidence.probs.argmax())
        height, width = frame.shape[:2]
        if self.split(fine, top, width, height, rule):
            return evidence
        boxes = boxes_from_cam(normalize(evidence_maps(self.method, evidence, [top])[0]), width, height,
                               self.rule(rule))
        found = self.crop(frame, boxes[0], crops) if boxes else None
        if found is None:
            return evidence
        members = 1 + len(self._classes)
        mean = (members * evidence.probs + found[1].probs.to(evidence.probs.device)) / (members + 1)
        return dataclasses.replace(evidence, probs=mean, logits=torch.log(mean.clamp_min(1e-12)))

    def refine(self, result: FrameResult, fine: Evidence | None, rule: BoxRule, frame: np.ndarray | None = None,
               crops: dict | None = None) -> FrameResult:
        """``result`` with each boxed detection's box and regions from the finer map
        where it splits into several objects, else (given ``frame``) its box zoomed."""
        detections = []
        for det in result.detections:
            regions = self.split(fine, det.class_id, result.width, result.height, rule) if det.box else []
            if regions:
                det = dataclasses.replace(det, box=regions[0], regions=tuple(regions))
            elif det.box and frame is not None:
                box = self.zoomed(frame, det.class_id, det.box, rule, {} if crops is None else crops)
                det = dataclasses.replace(det, box=box, regions=(box, *det.regions[1:]) if det.regions else ())
            detections.append(det)
        return dataclasses.replace(result, detections=tuple(detections))

    def __call__(self, localizer, frame: np.ndarray, index: int = 0) -> FrameResult:
        """One photo through ``localizer`` (a ``FrameLocalizer`` of the same model,
        no smoothing) with this analysis: its pass, the classes, the mirrored map at
        its level, the zoomed crop's classes joined, its boxes refined."""
        evidence = self.mirrored(frame, self.classes(frame, localizer.forward([frame])[0]))
        settings, rule = evidence.settings, localizer.settings.box_rule
        evidence = dataclasses.replace(evidence, settings=dataclasses.replace(
            settings, box_rule=self.rule(settings.box_rule)))
        fine, crops = self.fine(frame), {}
        evidence = self.joined(frame, evidence, fine, rule, crops)
        result = localizer.finish([evidence], indices=[index], times=[0.0])[0]
        return self.refine(result, fine, rule, frame, crops)


def still_analysis(model, settings: StillSettings | None, *, own_classes: bool = False,
                   device: str | None = None) -> StillAnalysis | None:
    """The analysis ``settings`` asks for on ``model`` (None: none asked, or the model
    is not an exact-CAM one). The class models join only when ``model`` is the
    built-in lite0 with its ImageNet classes (``own_classes`` False: no custom
    checkpoint or labels)."""
    from camvideo.cam.methods import cam_method
    from camvideo.models import load_model

    if settings is None:
        return None
    method = cam_method(model)
    if not method.smoothable:
        return None
    joins = getattr(model, "name", None) == "lite0" and not own_classes and model.num_classes == 1000
    where = device or str(getattr(model, "device", "cpu"))
    others = [cam_method(load_model(name, device=where)) for name in settings.class_models] if joins else []
    return StillAnalysis(method, settings, others)

