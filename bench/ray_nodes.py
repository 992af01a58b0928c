"""One long file on a one-node Ray cluster against the same file in segments on two nodes
(issue 28's figure; docs/batch.md).

    nice python bench/ray_nodes.py --seconds 120 --size 640x480 --segment-seconds 30 [--pin]

Makes a clip of the panning cat photograph (tests/clips.py), starts a Ray cluster on
127.0.0.1 (``ray.cluster_utils.Cluster``: a head and, for the second run, a second
raylet: two "nodes" of 1 CPU each), and runs ``camvideo process DIR --output-dir ...
--ray ADDRESS --cpus-per-job 1`` (one torch thread a job): first on the head alone (one
actor: the file whole), then with the second node added (two actors: the file in
segments). Prints and saves (bench/results/) the wall times, their ratio, the load
average around each run, and how the segmented run's outputs agree with the whole
run's: frames and times, top-1 class, and label changes at the seams that the whole
run does not have.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def run(source: Path, out: Path, address: str, *extra: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "camvideo", "process", str(source), "--output-dir", str(out),
                           "--ray", address, "--cpus-per-job", "1", "--no-progress", *extra],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"camvideo failed ({done.returncode}):\n{done.stderr}")
    return {"args": list(extra), "wall_s": round(wall, 2), "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2), "stderr": done.stderr.splitlines()[:4]}


def seam_changes(path: Path, seams: list[int]) -> list[int]:
    """The seams (first frames of segments) where the top-1 label differs from the frame before."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    top = [(line["detections"][:1] or [{}])[0].get("class_id") for line in lines]
    return [s for s in seams if 0 < s < len(top) and top[s] != top[s - 1]]


def main() -> None:
    from clips import make_cat_clip
    from ray.cluster_utils import Cluster

    from camvideo.batch.stitch import agreement

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--segment-seconds", type=float, default=30.0)
    parser.add_argument("--pin", action="store_true",
                        help="each node's processes on a core of their own (the head on core 0, the second "
                        "node on core 1, by the affinity they inherit): two 1-CPU nodes that share no core, "
                        "as two machines would; without it both share all the cores")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if args.pin and len(cores) < 2:
        raise SystemExit("--pin needs two cores")
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        make_cat_clip(folder / "long.mp4", frames=args.seconds * 30, size=(width, height))
        if args.pin:
            os.sched_setaffinity(0, {cores[0]})  # the head node (and its workers) inherit core 0
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        os.sched_setaffinity(0, cores)
        try:
            one = run(folder, Path(tmp) / "one", cluster.address, "--segment-seconds", str(args.segment_seconds))
            if args.pin:
                os.sched_setaffinity(0, {cores[1]})  # the second node on core 1
            cluster.add_node(num_cpus=1)
            os.sched_setaffinity(0, cores)
            cluster.wait_for_nodes()
            two = run(folder, Path(tmp) / "two", cluster.address, "--segment-seconds", str(args.segment_seconds))
        finally:
            cluster.shutdown()
        whole, split = Path(tmp) / "one" / "long.jsonl", Path(tmp) / "two" / "long.jsonl"
        figures = agreement(whole, split)
        record = json.loads((Path(tmp) / "two" / "camvideo-run.jsonl").read_text().splitlines()[-1])
        seams = [s["first"] for s in record.get("segments", [])][1:]
        result = {"clip": f"{args.seconds} s, {width}x{height}, 30 fps", "segment_seconds": args.segment_seconds,
                  "cores": os.cpu_count(), "pinned": args.pin, "machine": platform.node(), "one_node": one,
                  "two_nodes": two,
                  "speedup": round(one["wall_s"] / two["wall_s"], 3),
                  "agreement": {k: v for k, v in figures.items() if k != "differing"},
                  "differing_frames": figures["differing"][:50], "seams": seams,
                  "seam_label_changes": {"whole": seam_changes(whole, seams), "segments": seam_changes(split, seams)},
                  "segments": record.get("segments", [])}
    print(json.dumps(result, indent=1), flush=True)
    name = f"{time.strftime('%Y-%m-%d')}_cpu{os.cpu_count()}_ray2nodes{args.seconds}s{'_pinned' * args.pin}.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved bench/results/{name}")


if __name__ == "__main__":
    main()
