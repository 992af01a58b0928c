"""The recorder's CPU cost in two source trees, interleaved: the demo clip's first 240
frames (640x360, decoded once per run) through ``Recorder.write_image`` to an H.264
.mkv at its defaults, CPU ms a frame (``time.process_time``: encoding and the
conversion to yuv420p), ROUNDS rounds of before, after.

    python bench/recorder_ab.py --before /tmp/before [--after .] [--rounds 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = r'''
import os, sys, tempfile, time
import av
sys.path.insert(0, sys.argv[1])
from camvideo.video.recorder import Recorder
frames = []
with av.open(sys.argv[2]) as c:
    for f in c.decode(video=0):
        frames.append(f.to_ndarray(format="bgr24"))
        if len(frames) == 240:
            break
with tempfile.TemporaryDirectory() as d:
    t = time.process_time()
    with Recorder(os.path.join(d, "x.mkv")) as rec:
        for i, f in enumerate(frames):
            rec.write_image(f, i / 30)
    print(1000 * (time.process_time() - t) / len(frames))
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", default=str(ROOT))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    demo = ROOT / "camvideo" / "resources" / "demo.mp4"
    runs = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name in runs:
            tree = getattr(args, name)
            out = subprocess.run([sys.executable, "-c", CODE, tree, str(demo)], capture_output=True, text=True,
                                 check=True, env={**os.environ, "PYTHONPATH": tree}).stdout
            runs[name].append(float(out))
    median = {k: statistics.median(v) for k, v in runs.items()}
    report = {"load": os.getloadavg(), "runs": runs, "median_ms": median,
              "after_over_before": median["after"] / median["before"]}
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
