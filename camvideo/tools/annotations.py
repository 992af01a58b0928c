"""Ground truth for the localization metrics: annotated images (a JSON manifest or
Pascal VOC XML) and how a predicted box is matched to it.

Boxes are ``[x1, y1, x2, y2]`` in image pixels (x2, y2 exclusive); classes are the
ImageNet ids counted as correct, given as ids or as the model's class names. Every
problem is an ``InputError`` that names the entry, raised before a model loads.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from camvideo.cam.boxes import iou
from camvideo.errors import InputError

LOC_IOU = 0.5  # the IoU at which a box counts as a localization (CAM paper, ILSVRC)

FloatBox = tuple[float, float, float, float]

@dataclass(frozen=True)
class Annotation:
    """One annotated image: boxes [x1, y1, x2, y2] in image pixels (x2, y2 exclusive)
    and the class ids counted as correct. ``entry`` names it in error messages."""

    file: Path
    boxes: tuple[FloatBox, ...]
    classes: tuple[int, ...]
    entry: str


def load_annotations(path: str | Path, labels: Sequence[str]) -> list[Annotation]:
    """A JSON manifest, one VOC XML file, or a folder of VOC XML files.

    ``labels`` are the model's class names: classes may be given as ids (0..len-1)
    or as names. Every problem raises InputError naming the entry.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such manifest, VOC XML file or folder")
    if path.is_dir():
        xmls = sorted(path.glob("*.xml"))
        if not xmls:
            raise InputError(f"{path}: a folder without VOC .xml files; give a JSON manifest or VOC XML")
        return [_load_voc(p, labels) for p in xmls]
    if path.suffix.lower() == ".xml":
        return [_load_voc(path, labels)]
    return _load_manifest(path, labels)


def _load_manifest(path: Path, labels: Sequence[str]) -> list[Annotation]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:  # nested deeper than Python's parser goes
        raise InputError(f"{path}: JSON nested too deeply to be a manifest") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not images:
        raise InputError(f'{path}: expected {{"images": [{{"file": ..., "boxes": [[x1, y1, x2, y2]], "classes": [id]}}]}}')
    out = []
    for i, item in enumerate(images):
        entry = f"{path}: images[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{entry}: expected an object with file, boxes and classes")
        file = item.get("file")
        if not isinstance(file, str) or not file:
            raise InputError(f'{entry}: "file" must be an image path relative to the manifest')
        entry = f"{entry} ({file})"
        boxes = item.get("boxes")
        if not isinstance(boxes, list) or not boxes:
            raise InputError(f'{entry}: "boxes" must be a non-empty list of [x1, y1, x2, y2]')
        classes = item.get("classes")
        if not isinstance(classes, list) or not classes:
            raise InputError(f'{entry}: "classes" must be a non-empty list of class ids')
        out.append(
            Annotation(
                file=_existing(path.parent / file, entry),
                boxes=tuple(check_box(b, entry) for b in boxes),
                classes=_class_ids(classes, labels, entry),
                entry=entry,
            )
        )
    return out


def _load_voc(path: Path, labels: Sequence[str]) -> Annotation:
    """Pascal VOC: ``filename`` beside the XML (or in ../JPEGImages), objects with a
    ``name`` (class id or label) and a ``bndbox`` in the devkit's 1-based inclusive
    pixels, turned into 0-based [x1, y1, x2, y2) boxes. All objects' boxes count."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"{path}: not a readable VOC XML file ({exc})") from None
    name = (root.findtext("filename") or "").strip()
    if not name:
        raise InputError(f"{path}: no <filename> element")
    entry = f"{path} ({name})"
    candidates = [path.parent / name, path.parent.parent / "JPEGImages" / name]
    file = next((c for c in candidates if c.is_file()), candidates[0])
    boxes, names = [], []
    for k, obj in enumerate(root.iter("object")):
        where = f"{entry}: object {k}"
        names.append((obj.findtext("name") or "").strip())
        bnd = obj.find("bndbox")
        if bnd is None:
            raise InputError(f"{where}: no <bndbox>")
        try:
            x1, y1, x2, y2 = (float(bnd.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            raise InputError(f"{where}: <bndbox> needs numeric xmin, ymin, xmax, ymax") from None
        boxes.append(check_box([max(0.0, x1 - 1), max(0.0, y1 - 1), x2, y2], where))
    if not boxes:
        raise InputError(f"{entry}: no <object> with a <bndbox>")
    return Annotation(_existing(file, entry), tuple(boxes), _class_ids(names, labels, entry), entry)


def _existing(file: Path, entry: str) -> Path:
    if not file.is_file():
        raise InputError(f"{entry}: image {file} not found")
    return file


def check_box(box, entry: str) -> FloatBox:
    ok = (
        isinstance(box, (list, tuple))
        and len(box) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)
    )
    if not ok or box[0] < 0 or box[1] < 0 or box[2] <= box[0] or box[3] <= box[1]:
        raise InputError(f"{entry}: malformed box {box!r}; expected [x1, y1, x2, y2] pixels with 0 <= x1 < x2, 0 <= y1 < y2")
    return tuple(float(v) for v in box)


def _class_ids(values: Iterable, labels: Sequence[str], entry: str) -> tuple[int, ...]:
    """Class ids from ids or names (a name shared by several classes gives them all)."""
    by_name: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_name.setdefault(label.lower(), []).append(i)
    ids: list[int] = []
    for v in values:
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            if not 0 <= v < len(labels):
                raise InputError(f"{entry}: unknown class id {v}; class ids are 0..{len(labels) - 1}")
            found = [v]
        elif isinstance(v, str) and v.strip().lower() in by_name:
            found = by_name[v.strip().lower()]
        else:
            raise InputError(f"{entry}: unknown class {v!r}; give a class id 0..{len(labels) - 1} or a label the model knows")
        ids.extend(c for c in found if c not in ids)
    return tuple(ids)


def fit_boxes(ann: Annotation, width: int, height: int) -> tuple[FloatBox, ...]:
    """The annotation's boxes clipped to a ``width`` x ``height`` image; a box that
    reaches more than one pixel outside it is an error (wrong image or swapped axes)."""
    out = []
    for box in ann.boxes:
        if box[2] > width + 1 or box[3] > height + 1:
            raise InputError(f"{ann.entry}: box {list(box)} lies outside the {width}x{height} image")
        out.append((box[0], box[1], min(box[2], float(width)), min(box[3], float(height))))
    return tuple(out)


def best_iou(boxes: Iterable[Sequence[float]], gt_boxes: Sequence[Sequence[float]]) -> float:
    """The highest IoU between any box and any ground-truth box (0 without boxes)."""
    return max((iou(b, g) for b in boxes for g in gt_boxes), default=0.0)


def pick_box(boxes: list, gt_boxes) -> tuple[tuple | None, float]:
    """The box (of the rule's boxes) that best matches the ground truth, and its IoU."""
    if not boxes:
        return None, 0.0
    scored = [(best_iou([b], gt_boxes), b) for b in boxes]
    value, box = max(scored, key=lambda s: s[0])
    return tuple(box), value
