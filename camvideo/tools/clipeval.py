"""How predicted boxes and labels follow the truth through a clip.

Predictions and truth are per-frame objects of the export contract (``camvideo
process --export`` JSONL, or dicts of the same shape): ``{"frame": N, "detections":
[{"rank": 1, "class_id": C, "box": [x1, y1, x2, y2]}, ...]}``. A truth frame holds one
detection with the true ``box`` and, optionally, the true ``class_id`` or a list of
accepted ``class_ids`` (all the cat breeds for a cat).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camvideo.errors import InputError
from camvideo.tools.annotations import LOC_IOU, check_box, pick_box


def read_frames_jsonl(path: str | Path) -> dict[int, dict]:
    """Per-frame objects of a JSONL file (the export contract), by frame index."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    frames: dict[int, dict] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg}); expected one per-frame object a line") from None
        except RecursionError:  # nested deeper than Python's parser goes
            raise InputError(f"{where}: JSON nested too deeply; expected one per-frame object a line") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("frame"), int) or not isinstance(obj.get("detections"), list):
            raise InputError(f'{where}: expected {{"frame": N, "detections": [...]}}')
        if obj["frame"] in frames:
            raise InputError(f"{where}: frame {obj['frame']} appears twice")
        for det in obj["detections"]:
            if not isinstance(det, dict):
                raise InputError(f"{where}: each detection must be an object with a box")
            if det.get("box") is not None:
                det["box"] = check_box(det["box"], f"{where}: frame {obj['frame']}")
        frames[obj["frame"]] = obj
    if not frames:
        raise InputError(f"{path}: no frames")
    return frames


@dataclass(frozen=True)
class ClipSummary:
    """How predicted boxes follow a true box through a clip.

    ``jitter_px``: per pair of consecutive evaluated frames, the predicted box's
    change minus the true box's change, as the length of each corner's residual
    displacement, averaged over both corners and all pairs (0 for a box that moves
    exactly as the truth does, however far from it). ``jitter_shot_px``: the same
    without the pairs that span a cut, where the truth's classes change: there the
    box starts afresh on another object, which is no jitter, yet such a pair's
    residual (the new object's first box against the old one's last) is tens of
    pixels and can outweigh a clip's hundreds of steady pairs (without classes in the
    truth, every pair counts, as in ``jitter_px``). ``label_changes``: how often
    the top-1 class differs from the previous frame's; ``true_changes``: how often
    the true (accepted) classes differ from the previous frame's (None when the
    truth has no classes).
    """

    frames: int
    missing: int
    mean_iou: float
    iou50: float
    jitter_px: float
    label_changes: int
    class_accuracy: float | None
    true_changes: int | None = None
    jitter_shot_px: float | None = None
    per_frame: tuple[dict, ...] = field(repr=False, default=())

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "missing": self.missing,
            "mean_iou": round(self.mean_iou, 6),
            "iou50": round(self.iou50, 6),
            "jitter_px": round(self.jitter_px, 4),
            "jitter_shot_px": None if self.jitter_shot_px is None else round(self.jitter_shot_px, 4),
            "label_changes": self.label_changes,
            "class_accuracy": None if self.class_accuracy is None else round(self.class_accuracy, 6),
            "true_changes": self.true_changes,
        }


def evaluate_clip(pred: dict[int, dict], truth: dict[int, dict]) -> ClipSummary:
    """Compare predicted frames with true frames (both by frame index, as
    ``read_frames_jsonl`` gives). Truth frames without a box are skipped; a truth
    frame the prediction lacks counts as IoU 0. Of several top-1 boxes, the one
    closest to the truth is the frame's box. The top-1 class is right when it is
    the truth's ``class_id`` or one of its ``class_ids``."""
    rows, tally = [], _ClipTally()
    for index in sorted(truth):
        true_dets = [d for d in truth[index]["detections"] if d.get("box") is not None]
        if not true_dets:
            continue
        row, accepted = _frame_row(index, true_dets[0], pred.get(index, {}))
        tally.add(row, accepted)
        rows.append(row)
    if not rows:
        raise InputError("the truth has no frame with a box; nothing to compare")
    ious = np.array([r["iou"] for r in rows])
    return ClipSummary(
        frames=len(rows),
        missing=sum(r["frame"] not in pred for r in rows),
        mean_iou=float(ious.mean()),
        iou50=float((ious >= LOC_IOU).mean()),
        jitter_px=float(np.mean(tally.pairs)) if tally.pairs else 0.0,
        label_changes=int(tally.changes),
        class_accuracy=tally.hits / tally.known if tally.known else None,
        true_changes=tally.true_changes if tally.known else None,
        jitter_shot_px=float(np.mean(tally.shot_pairs)) if tally.shot_pairs else 0.0,
        per_frame=tuple(rows),
    )


def _frame_row(index: int, true_det: dict, predicted: dict) -> tuple[dict, frozenset[int]]:
    """Frame ``index``'s row of ``per_frame`` (its true box and class, the top-1 box closest
    to it, their IoU, the top-1 class) from its first true detection with a box and its
    ``predicted`` frame ({} when the prediction lacks it), and the true classes accepted."""
    true_box, true_class = true_det["box"], true_det.get("class_id")
    accepted = _accepted(true_det)
    if true_class is None and accepted:
        true_class = min(accepted)
    top = [d for d in predicted.get("detections", []) if d.get("rank", 1) == 1]
    box, value = pick_box([d["box"] for d in top if d.get("box") is not None], [true_box])
    pred_class = top[0].get("class_id") if top else None
    return {"frame": index, "true_box": true_box, "pred_box": box, "iou": value,
            "pred_class": pred_class, "true_class": true_class}, accepted  # fmt: skip


class _ClipTally:
    """``evaluate_clip``'s counts, a frame row at a time in frame order: each pair of
    consecutive boxed frames' jitter (``pairs``; ``shot_pairs``: those not across a cut,
    where the accepted classes change), the top-1 class's changes, the frames whose
    classes are known and those the top-1 class got right, and the cuts."""

    def __init__(self) -> None:
        self.pairs: list[float] = []
        self.shot_pairs: list[float] = []
        self.changes = self.hits = self.known = self.true_changes = 0
        self._prev: tuple | None = None  # the last frame's (predicted box, true box), None after one without a box
        self._last_class: int | None = None
        self._last_truth: frozenset[int] | None = None

    def add(self, row: dict, accepted: frozenset[int]) -> None:
        box, true_box, pred_class = row["pred_box"], row["true_box"], row["pred_class"]
        cut = bool(accepted) and self._last_truth is not None and accepted != self._last_truth
        if accepted:
            self.true_changes += cut
            self._last_truth = accepted
        if pred_class is not None:
            self.changes += self._last_class is not None and pred_class != self._last_class
            self._last_class = pred_class
        if accepted:
            self.known += 1
            self.hits += pred_class in accepted
        if box is not None and self._prev is not None:
            residual = (np.subtract(box, self._prev[0]) - np.subtract(true_box, self._prev[1])).reshape(2, 2)
            self.pairs.append(float(np.linalg.norm(residual, axis=1).mean()))
            if not cut:
                self.shot_pairs.append(self.pairs[-1])
        self._prev = (box, true_box) if box is not None else None


def source_mismatch(pred: dict[int, dict], truth: dict[int, dict]) -> dict:
    """What says the predictions and the truth may come from different videos: the
    frame sizes of each (``"WxH"``, from the objects' ``width`` and ``height``) when
    they differ (``frame_size``), and how many prediction frames have no truth frame
    (``prediction_frames_without_truth``). Empty when neither shows."""
    found: dict = {}
    sizes = _frame_sizes(pred), _frame_sizes(truth)
    if all(sizes) and sizes[0] != sizes[1]:
        found["frame_size"] = {"predictions": sizes[0], "truth": sizes[1]}
    unmatched = len(pred.keys() - truth.keys())
    if unmatched:
        found["prediction_frames_without_truth"] = unmatched
    return found


def mismatch_line(found: dict) -> str | None:
    """``source_mismatch``'s findings as one warning line, or None when it found nothing."""
    parts = []
    if "frame_size" in found:
        sizes = found["frame_size"]
        parts.append(f"frame size differs ({', '.join(sizes['predictions'])} predicted, "
                     f"{', '.join(sizes['truth'])} in the truth)")
    if "prediction_frames_without_truth" in found:
        count = found["prediction_frames_without_truth"]
        parts.append(f"{count} prediction frame{'s have' if count != 1 else ' has'} no truth")
    return "; ".join(parts) + ": are they of the same video?" if parts else None


def _frame_sizes(frames: dict[int, dict]) -> list[str]:
    """The distinct ``WxH`` of the frames that give an int width and height, in order."""
    sizes = {(o.get("width"), o.get("height")) for o in frames.values()}
    return [f"{w}x{h}" for w, h in sorted(s for s in sizes if all(type(v) is int for v in s))]


def _accepted(det: dict) -> frozenset[int]:
    """The classes a truth detection accepts: ``class_ids``, else ``class_id``."""
    ids = det.get("class_ids")
    if ids is None:
        ids = [] if det.get("class_id") is None else [det["class_id"]]
    if not isinstance(ids, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool) for c in ids):
        raise InputError(f"truth frame classes must be class ids, got {ids!r}")
    return frozenset(ids)
