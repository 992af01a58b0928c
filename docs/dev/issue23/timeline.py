"""The timeline's axis, score scale and damaged stretches, seen in the window of the tree on
PYTHONPATH; the screen taken with `import -window root` (Xvfb + openbox, a 1302x880 screen).
"one-class" retakes docs/timeline-one-class.png (the demo clip, One class espresso, scanned,
paused at 5.33 s); "damaged" opens a clip with a stretch lost mid-file (tests/clips.py
make_damaged_clip), lets it play to its end, and hovers over the stretch (xdotool) for its tooltip.
usage: timeline.py SCENARIO OUT.png WORKDIR"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from screen import start, take, wait  # noqa: E402

scenario, out, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
app, settings = start(sys.argv, work)
from camvideo.qt.window import MainWindow  # noqa: E402


def shot(crop=None):
    take(out, crop, settle=0.7)


if scenario == "one-class":
    from camvideo.qt.dialogs import demo_clip

    settings.setValue("mode", "One class")
    settings.setValue("class", "967")
    w = MainWindow(settings=settings, source=str(demo_clip()), loop=True)
    w.move(0, 0)
    w.resize(1202, 842)
    w.show()
    wait(lambda: w.view.current is not None and w.session.model is not None, 90)
    wait(lambda: False, 3)
    w.toggle_pause()
    w.session.seek(5.33)
    wait(lambda: False, 2)
    w.timeline.start_scan()
    wait(lambda: w.timeline.scan is None or not w.timeline.scan.running, 240)
    wait(lambda: False, 2)
    w.timeline.refresh()
    shot("1202x862+0+0")
elif scenario == "damaged":
    from clips import make_damaged_clip

    clip = make_damaged_clip(work, frames=90, size=(160, 120))
    settings.setValue("mode", "Top-k")
    settings.setValue("topk", 3)
    w = MainWindow(settings=settings, source=str(clip))
    w.move(0, 0)
    w.resize(1100, 700)
    w.show()
    wait(lambda: w.session.model is not None and w.session.pipeline is not None
         and w.session.pipeline.finished, 120)
    wait(lambda: False, 1.5)
    w.timeline.refresh()
    strip = w.timeline.strip
    span = strip.damaged[0]
    point = strip.mapToGlobal(strip.rect().topLeft())
    x = point.x() + int(strip.x_of((span.start + span.end) / 2))
    y = point.y() + strip.height() // 2
    subprocess.run(["xdotool", "mousemove", str(x), str(y - 4)], check=True)
    wait(lambda: False, 0.3)
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    wait(lambda: False, 2.5)  # the tooltip's delay
    shot()
w.close()
