"""Two source trees of camvideo against each other, interleaved in one run: did a
change (a layout move, a refactor) cost speed?

    python bench/before_after.py --before ../old-checkout [--after .] [--pairs 3] [--json FILE]

``--before`` is another checkout of camvideo (e.g. ``git worktree add ../before
fcb99a5``); both run with this Python (its installed packages), each tree first on
the path. Rounds alternate before, after, before, after... so that a machine shared
with other jobs slows both alike. Per round, per tree:

- **stage**: ``camvideo bench --no-peers --no-live --no-e2e``: the inference stage
  at 640x480 (plain CAM's input: the ``fast`` preset on trees that have presets) as a
  ratio to the torchvision forward pass measured in the same bench run (``x floor``);
  a ratio carries across a noisy machine, milliseconds do not.
- **end to end**: ``camvideo process`` on the demo clip (its first ``--frames``
  frames, 640x360; or ``--clip FILE`` at ``--quality Q``) to an H.264 recording and a
  JSONL, plain CAM's input again (``fast``; ``--quality`` sets another); the
  CPU seconds per frame of that process (what the change costs the machine, which a
  share of the CPUs does not change), its wall-clock fps (the whole process: start,
  run and exit) and the fps the command prints itself (frames over its processing
  seconds: from the pipeline's start to the outputs closed, without the start-up).

Reported: the median of each figure per tree and after/before. The issue-12 figures
in README's "How it is built" come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch import make_clips  # bench/batch.py: the demo clip's first frames as H.264 files

ROOT = Path(__file__).resolve().parents[1]


def has_presets(tree: Path) -> bool:
    return (tree / "camvideo" / "settings.py").exists() and "QUALITY_PRESETS" in (
        tree / "camvideo" / "settings.py").read_text()


def run(tree: Path, *args: str, timeout: float) -> tuple[float, float, str]:
    """``python -m camvideo ARGS`` with ``tree`` first on the path: (wall s, CPU s, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "camvideo", *args], env=env, cwd=tree, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: camvideo {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stderr


def stage(tree: Path, work: Path, frames: int, rounds: int) -> float:
    """The 640x480 inference stage (plain CAM's input) as a multiple of the floor."""
    out = work / f"bench-{tree.name}-{time.monotonic_ns()}.json"
    run(tree, "bench", "--no-peers", "--no-live", "--no-e2e", "--frames", str(frames), "--rounds", str(rounds),
        "--json", str(out), timeout=1800)
    data = json.loads(out.read_text())
    key = "camvideo 640x480 [fast]" if "camvideo 640x480 [fast]" in data["results"] else "camvideo 640x480"
    return data["results"][key]["median_ms"] / data["floor_ms"]


def end_to_end(tree: Path, clip: Path, work: Path, frames: int, quality: str = "fast") -> tuple[float, float, float]:
    """``camvideo process`` on ``clip``: (CPU s per frame, wall fps, the fps it prints)."""
    stem = work / f"e2e-{tree.name}-{time.monotonic_ns()}"
    extra = ["--quality", quality] if has_presets(tree) else []
    wall, cpu, said = run(tree, "process", str(clip), "-o", f"{stem}.mkv", "--export", f"{stem}.jsonl", "--device", "cpu",
                    *extra, timeout=1800)
    lines = sum(1 for _ in open(f"{stem}.jsonl"))
    if lines != frames:
        raise SystemExit(f"{tree}: {lines} frames in the JSONL, {frames} in the clip")
    printed = re.search(r"frames in [\d.]+ s \(([\d.]+) fps\)", said)
    return cpu / frames, frames / wall, float(printed.group(1)) if printed else float("nan")


def summarize(figures: dict) -> tuple[dict, dict]:
    """The median of each figure per tree, and after / before."""
    medians = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in figures.items()}
    return medians, {k: medians["after"][k] / medians["before"][k] for k in medians["after"]}


def write_json(path: Path, trees: dict, frames: int, figures: dict, pairs: int) -> None:
    medians, ratios = summarize(figures)
    path.write_text(json.dumps({"trees": {n: str(t) for n, t in trees.items()}, "frames": frames, "pairs": pairs,
                                "load": os.getloadavg(), "runs": figures, "medians": medians, "ratios": ratios},
                               indent=1))


def tree_arguments(parser: argparse.ArgumentParser, pairs: int) -> None:
    """--before, --after and --pairs: the two checkouts and their interleaved rounds
    (bench/live_ab.py takes them too)."""
    parser.add_argument("--before", required=True, help="the other checkout of camvideo")
    parser.add_argument("--after", default=str(ROOT), help="this checkout (default: the one holding this script)")
    parser.add_argument("--pairs", type=int, default=pairs, help=f"rounds of before, after (default: {pairs})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    tree_arguments(parser, pairs=3)
    parser.add_argument("--frames", type=int, default=240, help="frames of the end-to-end clip (default: 240)")
    parser.add_argument("--bench-frames", type=int, default=24, help="bench frames per round (default: 24)")
    parser.add_argument("--no-stage", action="store_true", help="end to end only (no inference-stage bench)")
    parser.add_argument("--clip", help="the end-to-end clip (default: the demo clip's first --frames frames)")
    parser.add_argument("--quality", default="fast", help="the end-to-end run's --quality (default: fast)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    if args.pairs < 1 or args.frames < 10:
        parser.error("--pairs must be at least 1 and --frames at least 10")
    trees = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    for name, tree in trees.items():
        if not (tree / "camvideo" / "__init__.py").exists():
            parser.error(f"--{name} {tree}: not a camvideo checkout")
    figures: dict[str, dict[str, list[float]]] = {n: {"stage_x_floor": [], "cpu_s_per_frame": [], "fps": [],
                                                  "printed_fps": []}
                                                  for n in trees}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.clip:
            clip = Path(args.clip).resolve()
            import av

            with av.open(str(clip)) as container:
                frames = sum(1 for _ in container.decode(container.streams.video[0]))
        else:
            frames = make_clips(work, 1, args.frames)
            clip = work / "clip00.mp4"
        for k in range(args.pairs):
            for name, tree in trees.items():
                x = float("nan") if args.no_stage else stage(tree, work, args.bench_frames, 3)
                cpu, fps, printed = end_to_end(tree, clip, work, frames, args.quality)
                for key, value in (("stage_x_floor", x), ("cpu_s_per_frame", cpu), ("fps", fps),
                                   ("printed_fps", printed)):
                    figures[name][key].append(value)
                print(f"round {k + 1}/{args.pairs} {name}: stage {x:.3f}x floor, end to end {1000 * cpu:.1f} "
                      f"CPU ms/frame, {fps:.1f} fps ({printed:.1f} printed) (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            if args.json:  # after every pair: a run stopped part way keeps what it measured
                write_json(Path(args.json), trees, frames, figures, k + 1)
    load = os.getloadavg()
    medians, ratios = summarize(figures)
    print(f"before {trees['before']}  after {trees['after']}  ({args.pairs} pairs, {frames} frames, "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
    print("| figure | before | after | after / before |\n|---|---:|---:|---:|")
    for key, label in (("stage_x_floor", "inference stage 640x480, x floor"),
                       ("cpu_s_per_frame", "end to end, CPU ms per frame"), ("fps", "end to end, fps (wall)"),
                       ("printed_fps", "end to end, fps camvideo prints (processing only)")):
        scale = 1000 if key == "cpu_s_per_frame" else 1
        print(f"| {label} | {scale * medians['before'][key]:.3f} | {scale * medians['after'][key]:.3f} "
              f"| {ratios[key]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
