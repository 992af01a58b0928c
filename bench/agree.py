"""Two ``camvideo process --export`` JSONL files against each other: on how many
frames they name the same top-1 class, and the mean IoU of their top-1 boxes where
they do (a frame where neither has a box counts 1, where one has none 0).

    python bench/agree.py BEFORE.jsonl AFTER.jsonl
"""

from __future__ import annotations

import json
import sys


def top1(path: str) -> dict[int, tuple]:
    """Each frame's top-1 (class id, box), (None, None) where it has no detection."""
    out = {}
    with open(path) as fh:
        for line in fh:
            result = json.loads(line)
            first = [d for d in result["detections"] if d["rank"] == 1]
            out[result["frame"]] = (first[0]["class_id"], first[0].get("box")) if first else (None, None)
    return out


def iou(a, b) -> float:
    if a is None or b is None:
        return float(a is None and b is None)
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union else 0.0


def main(before: str, after: str) -> None:
    a, b = top1(before), top1(after)
    frames = sorted(set(a) & set(b))
    same = [f for f in frames if a[f][0] == b[f][0]]
    ious = [iou(a[f][1], b[f][1]) for f in same]
    print(f"{len(frames)} frames; top-1 the same on {len(same)} ({100 * len(same) / max(1, len(frames)):.1f}%); "
          f"box IoU where the same {sum(ious) / max(1, len(ious)):.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
