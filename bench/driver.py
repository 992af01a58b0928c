"""The lean driver's figures (docs/batch.md): a skip-only rerun of N done files, and the
driver's peak memory while it runs them.

    nice python bench/driver.py --files 100

Makes N tiny clips (tests/clips.py), runs ``camvideo process DIR --output-dir OUT
--jobs 1 --no-recording`` once (every file done), then the same command again (every
file skipped) ``--reruns`` times. Reports the rerun's wall time (median) and, for both,
the driver's peak resident memory (``VmHWM`` of the driver process alone, read from
/proc while it runs; the workers are other processes), and the load average.

    nice python bench/driver.py --files 100 --against /tmp/main-tree --reruns 15

``--against TREE`` also times the reruns of another checkout of camvideo (for example
``git archive main | tar -x -C /tmp/main-tree``) on the same archive, the two
interleaved round by round (this machine's load moves from minute to minute), and
``python -c pass`` (Python's own start, the floor of any command) in each round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def run(folder: Path, out: Path, tree: Path = ROOT) -> tuple[float, int]:
    """(wall seconds, the driver's peak RSS in bytes) of camvideo from ``tree``."""
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "camvideo", "process", str(folder), "--output-dir", str(out),
                             "--jobs", "1", "--no-recording", "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                peak = max([peak, *(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))])
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    wall = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read().decode())
    return wall, peak


def main() -> None:
    from clips import make_clip

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--against", type=Path, metavar="TREE", help="another checkout to time, interleaved")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        for n in range(args.files):
            make_clip(folder / f"clip{n:04d}.mp4", frames=2, size=(64, 48))
        first_s, first_peak = run(folder, out)
        loads, reruns, other, floor = [], [], [], []
        for n in range(args.reruns):
            loads.append(os.getloadavg()[0])
            if args.against and n % 2:  # alternate which goes first
                other.append(run(folder, out, args.against))
            reruns.append(run(folder, out))
            if args.against and not n % 2:
                other.append(run(folder, out, args.against))
            began = time.monotonic()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            floor.append(time.monotonic() - began)
        lines = (out / "camvideo-run.jsonl").read_text().count("\n")
    result = {"files": args.files, "first_run_s": round(first_s, 2), "first_run_driver_peak_mb": first_peak >> 20,
              "rerun_s": [round(w, 3) for w, _ in reruns], "rerun_median_s": round(statistics.median(w for w, _ in reruns), 3),
              "rerun_driver_peak_mb": max(p for _, p in reruns) >> 20, "summary_lines_after": lines,
              "python_start_median_s": round(statistics.median(floor), 3),
              "load_average": [round(x, 1) for x in loads], "cores": os.cpu_count()}
    if args.against:
        median = statistics.median(w for w, _ in other)
        result.update(against=str(args.against), against_rerun_s=[round(w, 3) for w, _ in other],
                      against_rerun_median_s=round(median, 3), against_driver_peak_mb=max(p for _, p in other) >> 20,
                      ratio_of_medians=round(result["rerun_median_s"] / median, 3),
                      ratio_per_round=[round(a / b, 3) for (a, _), (b, _) in zip(reruns, other)])
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
