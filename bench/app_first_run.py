"""What the app's first run on OpenVINO costs the stream: frames painted per second
in the window, torch only against ``auto`` with a cold cache and a warm one.

Each round starts the app three times in fresh processes (interleaved: the
machine's load drifts), on the demo clip, looping, for ``--seconds`` after the
first annotated frame:

- ``torch``: the Runtime box on torch (the baseline);
- ``cold``: auto, with an empty OpenVINO cache (the first run of a model);
- ``warm``: auto, with the cache the cold run left.

Per run: the first annotated frame after the Python process's first line (the
interpreter's own start not included) and after the window's creation, when the stream went over to OpenVINO,
the frames painted per second over the whole window, and its worst second (a
sliding 1-s window). Qt's offscreen platform unless ``DISPLAY`` is set (then the
window is a real one, e.g. under Xvfb)::

    python bench/app_first_run.py --rounds 3 --seconds 12 --json first_run.json
"""

from __future__ import annotations

import time

T0 = time.monotonic()  # the child's first line: the first frame is timed from here

import argparse  # noqa: E402 - after the clock
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

MODES = ("torch", "cold", "warm")


def child(args) -> None:
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from camvideo.app.resources import demo_clip_path as demo_clip
    from camvideo.qt import APPLICATION, ORGANIZATION
    from camvideo.qt.window import MainWindow

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, args.settings)
    app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    made = time.monotonic()
    import inspect

    # (a tree from before the Runtime box has no ``runtime``: the bench compares trees too)
    options = {"runtime": "torch" if args.runtime == "torch" else "auto"} \
        if "runtime" in inspect.signature(MainWindow).parameters else {}
    window = MainWindow(str(demo_clip()), loop=True, **options)
    window.show()
    samples: list[tuple[float, int]] = []
    state = {"first": None, "switch": None}
    deadline = time.monotonic() + 120  # bounded: a run that never shows a frame ends

    def sample() -> None:
        now = time.monotonic()
        shown = window.frames_shown
        if shown and state["first"] is None:
            state["first"] = now
        if state["switch"] is None and getattr(window.panel, "runtime_state", None) is not None \
                and window.panel.runtime_state.text() == "OpenVINO":
            state["switch"] = now
        if state["first"] is not None:
            samples.append((now, shown))
            if now - state["first"] >= args.seconds:
                window.close()
                app.quit()
        elif now > deadline:
            window.close()
            app.quit()

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(50)
    app.exec()
    first = state["first"]
    print(json.dumps({
        "first_frame_s": None if first is None else first - T0,
        "from_window_s": None if first is None else first - made,
        "switch_s": None if state["switch"] is None or first is None else state["switch"] - first,
        "samples": [(t - first, n) for t, n in samples] if first is not None else [],
    }))


def _rates(samples: list) -> tuple[float, float]:
    """(frames a second over the run, the worst 1-s window)."""
    if len(samples) < 2:
        return 0.0, 0.0
    (t_a, n_a), (t_b, n_b) = samples[0], samples[-1]
    mean = (n_b - n_a) / (t_b - t_a)
    worst = mean
    j = 0
    for t, n in samples:
        while j < len(samples) and samples[j][0] - t < 1.0:
            j += 1
        if j == len(samples):
            break
        worst = min(worst, (samples[j][1] - n) / (samples[j][0] - t))
    return mean, worst


def run_once(mode: str, cache: Path, seconds: float) -> dict:
    env = dict(os.environ, CAMVIDEO_CACHE=str(cache))
    env.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    with tempfile.TemporaryDirectory(prefix="camvideo-bench-settings-") as settings:
        cmd = [sys.executable, __file__, "--child", "--runtime", "torch" if mode == "torch" else "auto",
               "--settings", settings, "--seconds", str(seconds)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 180)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{mode}: the app run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(lines[-1])
    out["fps"], out["worst_fps"] = _rates(out.pop("samples"))
    out["mode"] = mode
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds of stream after the first frame")
    parser.add_argument("--json", type=Path, help="write every run here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.rounds < 1 or args.seconds < 2:
        parser.error("--rounds must be at least 1 and --seconds at least 2")
    runs = []
    with tempfile.TemporaryDirectory(prefix="camvideo-bench-cache-") as root:
        for r in range(args.rounds):
            cache = Path(root) / f"round{r}"  # empty: the cold run converts, the warm one finds it
            for mode in MODES:
                result = run_once(mode, cache, args.seconds)
                result["round"] = r
                runs.append(result)
                print(f"round {r} {mode:5s}: first frame {result['first_frame_s']:.2f} s "
                      f"({result['from_window_s']:.2f} s after the window's creation), "
                      f"OpenVINO after {result['switch_s'] if result['switch_s'] is None else round(result['switch_s'], 2)} s, "
                      f"{result['fps']:.1f} fps, worst second {result['worst_fps']:.1f} fps", flush=True)
                if args.json:
                    args.json.write_text(json.dumps(runs, indent=1))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        print(f"{mode:5s}: fps {statistics.median(r['fps'] for r in mine):.1f} (median of {len(mine)}), "
              f"worst second {min(r['worst_fps'] for r in mine):.1f}, first frame "
              f"{min(r['first_frame_s'] for r in mine):.2f}-{max(r['first_frame_s'] for r in mine):.2f} s "
              f"({min(r['from_window_s'] for r in mine):.2f}-{max(r['from_window_s'] for r in mine):.2f} s "
              "after the window's creation)")


if __name__ == "__main__":
    main()
