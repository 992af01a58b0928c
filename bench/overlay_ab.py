"""The overlay of two trees in one real file run: ``camvideo process`` with this tree's
code, its ``FrameAnnotator`` and the one of ``--before``'s ``camvideo/annotate.py``
taking turns frame by frame (A, B, A, B...), each call's thread CPU time noted, and
that of the recording's I420 conversion that follows it on the writer. Both draw with
the frames, caches and threads of the same run, so a machine shared with other jobs
slows both alike; the recording mixes the two overlays (a measurement, not an output).

    PYTHONPATH=. python bench/overlay_ab.py --before ../start CLIP [-- PROCESS-OPTIONS]

Prints, per tree, the frames drawn and the mean and median CPU ms a frame of the
annotate step and of the I420 conversion.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_annotate(tree: Path):
    """``tree``'s ``camvideo/annotate.py`` as a module of its own (its imports are this tree's)."""
    spec = importlib.util.spec_from_file_location("annotate_before", tree / "camvideo" / "annotate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def instrument(before) -> dict[str, dict[str, list[int]]]:
    """Patch ``FrameAnnotator.annotate`` and ``I420Pool.convert`` to alternate and time."""
    import camvideo.annotate as after
    import camvideo.video.yuv as yuv

    spent = {name: {"annotate": [], "i420": []} for name in ("before", "after")}
    own, convert = after.FrameAnnotator.annotate, yuv.I420Pool.convert
    twins: dict[int, object] = {}
    turn = ["after"]

    def annotate(self, frame, result):
        turn[0] = "before" if turn[0] == "after" else "after"
        twin = twins.get(id(self)) or twins.setdefault(id(self), before.FrameAnnotator(self.settings))
        start = time.thread_time_ns()
        out = twin.annotate(frame, result) if turn[0] == "before" else own(self, frame, result)
        spent[turn[0]]["annotate"].append(time.thread_time_ns() - start)
        return out

    def timed_convert(self, image):
        start = time.thread_time_ns()
        out = convert(self, image)
        spent[turn[0]]["i420"].append(time.thread_time_ns() - start)
        return out

    after.FrameAnnotator.annotate, yuv.I420Pool.convert = annotate, timed_convert
    return spent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the other checkout of camvideo")
    parser.add_argument("clip")
    parser.add_argument("extra", nargs="*", help="more `camvideo process` options (after --)")
    args = parser.parse_args(argv)
    spent = instrument(load_annotate(Path(args.before).resolve()))
    from camvideo.cli.parser import main as camvideo

    with tempfile.TemporaryDirectory() as tmp:
        code = camvideo(["process", args.clip, "-o", str(Path(tmp) / "run.mkv"), *args.extra])
    for name, parts in spent.items():
        line = [f"{name:6s} {len(parts['annotate'])} frames"]
        for part, ns in parts.items():
            if ns:
                line.append(f"{part} mean {sum(ns) / len(ns) / 1e6:.3f} median {statistics.median(ns) / 1e6:.3f}")
        print(", ".join(line) + " (CPU ms a frame)")
    return code


if __name__ == "__main__":
    sys.exit(main())
