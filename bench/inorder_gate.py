"""Issue 24's precision rule for a change to the in-order half only, on the
development set's clips: the forward half once, the in-order half in each tree.

``forward``: the clips of ``camvideo eval --devset`` (both kinds, one split, its
default shots) through the forward half of ``eval``'s own localizer (the
``--devset`` defaults: torch, smoothing on), the evidence pickled to ``--cache``
(``Evidence`` pickles by its class's name, so any tree with the same ``Evidence``
reads it back). ``finish``: that evidence through this tree's in-order half, each
clip scored as ``eval --devset`` scores it (``evaluate_clip``) and written as one
``camvideo process --export``-style JSONL a clip under ``--out`` (for
``bench/agree.py``), the scores to ``--out``/scores.json. ``compare A B``: two
``finish`` outputs against each other: per clip the top-1 agreement and box IoU
(as ``bench/agree.py``), the scores' differences, and the rule's verdict.

    PYTHONPATH=/work/wt-s19-start python bench/inorder_gate.py forward --split tune --cache /tmp/tune.pkl
    PYTHONPATH=TREE python bench/inorder_gate.py finish --cache /tmp/tune.pkl --out /tmp/tune_TREE
    python bench/inorder_gate.py compare /tmp/tune_start /tmp/tune_new
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def forward(split: str, cache: str) -> None:
    import torch

    from camvideo.cli.options import load_model_from_args, localize_settings_from_args
    from camvideo.cli.parser import build_parser
    from camvideo.models import imagenet_labels
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.settings import SmoothingSettings
    from camvideo.tools.devset import devset_clips, devset_manifest, load_devset

    args = build_parser().parse_args(["eval", "--devset", "--split", split])
    settings = localize_settings_from_args(args)
    photos = load_devset(devset_manifest(None), imagenet_labels(), split)
    clips = devset_clips(photos, split, moving=True, shots=args.shots, frames=args.shot_frames)
    model = load_model_from_args(args)
    import dataclasses
    localizer = FrameLocalizer(model, dataclasses.replace(settings, smoothing=SmoothingSettings(extent=args.extent)))
    out = []
    with torch.inference_mode():
        for spec, frames, truth in clips:
            evidence = [_picklable(localizer.forward([f])[0]) for f in frames]
            out.append((spec.name, evidence, truth))
            print(spec.name, len(frames), flush=True)
    with open(cache, "wb") as fh:
        pickle.dump(out, fh)


def _picklable(evidence):
    """``evidence`` with its timings a dict (a read-only mapping does not pickle)."""
    first = None if evidence.first is None else _picklable(evidence.first)
    return evidence.but(timings=dict(evidence.timings), first=first)


def finish(cache: str, out_dir: str, patches=()) -> None:
    import importlib

    import torch

    for patch in patches:  # "camvideo.cam.motion.CORNERS=40": a candidate's constant, for a trial
        name, value = patch.split("=")
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable prefix, then attributes
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        setattr(owner, parts[-1], json.loads(value))

    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.tools.clipeval import evaluate_clip

    with open(cache, "rb") as fh:
        clips = pickle.load(fh)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model("lite0", device="cpu")
    scores = {}
    with torch.inference_mode():
        for name, evidence, truth in clips:
            localizer = FrameLocalizer(model, evidence[0].settings)
            pred = {}
            for index, ev in enumerate(evidence):
                (result,) = localizer.finish([ev], [index], [index / 30.0])
                pred[index] = {**result.to_dict(), "frame": index}
            with open(out / f"{name}.jsonl", "w") as fh:
                fh.writelines(json.dumps(p) + "\n" for p in pred.values())
            summary = evaluate_clip(pred, truth)
            scores[name] = {"mean_iou": summary.mean_iou, "class_accuracy": summary.class_accuracy,
                            "jitter_shot_px": summary.jitter_shot_px, "label_changes": summary.label_changes}
    (out / "scores.json").write_text(json.dumps(scores, indent=1))


def compare(before: str, after: str) -> None:
    from agree import iou, top1

    a_scores = json.loads((Path(before) / "scores.json").read_text())
    b_scores = json.loads((Path(after) / "scores.json").read_text())
    total = same_total = 0
    ious_all = []
    ok = True
    for name in a_scores:
        a, b = top1(str(Path(before) / f"{name}.jsonl")), top1(str(Path(after) / f"{name}.jsonl"))
        frames = sorted(set(a) & set(b))
        same = [f for f in frames if a[f][0] == b[f][0]]
        ious = [iou(a[f][1], b[f][1]) for f in same]
        total, same_total = total + len(frames), same_total + len(same)
        ious_all += ious
        sa, sb = a_scores[name], b_scores[name]
        d_iou = sb["mean_iou"] - sa["mean_iou"]
        d_acc = (sb["class_accuracy"] or 0) - (sa["class_accuracy"] or 0)
        ok &= d_iou >= -0.01 and d_acc >= -0.01
        print(f"{name}: {len(frames)} frames, top-1 same {100 * len(same) / len(frames):.1f}%, box IoU "
              f"{sum(ious) / max(1, len(ious)):.4f}; mean IoU {sa['mean_iou']:.4f} -> {sb['mean_iou']:.4f} "
              f"({d_iou:+.4f}), class acc {sa['class_accuracy']:.4f} -> {sb['class_accuracy']:.4f} ({d_acc:+.4f}), "
              f"jitter in shots {sa['jitter_shot_px']:.2f} -> {sb['jitter_shot_px']:.2f} px, "
              f"label changes {sa['label_changes']} -> {sb['label_changes']}")
    agree, box = same_total / total, sum(ious_all) / max(1, len(ious_all))
    ok &= agree >= 0.98 and box >= 0.95
    print(f"all: {total} frames, top-1 same {100 * agree:.2f}%, box IoU {box:.4f}; rule {'met' if ok else 'NOT met'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    f = sub.add_parser("forward")
    f.add_argument("--split", choices=("tune", "holdout"), required=True)
    f.add_argument("--cache", required=True)
    g = sub.add_parser("finish")
    g.add_argument("--cache", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=JSON", help="a constant for a trial")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = parser.parse_args(argv)
    if args.what == "forward":
        forward(args.split, args.cache)
    elif args.what == "finish":
        finish(args.cache, args.out, args.set)
    else:
        compare(args.before, args.after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
