"""The window at Top-k K and a W x H size on the demo clip, paused at 2.26 s after a scan,
screen taken with `import -window root` (Xvfb + openbox).
usage: look.py K W H OUT.png WORKDIR [SECONDS]"""
import subprocess
import sys
from pathlib import Path

from screen import start, wait

k, width, height, out, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
at = float(sys.argv[6]) if len(sys.argv) > 6 else 2.26
app, settings = start(sys.argv, work)
from camvideo.qt.dialogs import demo_clip  # noqa: E402
from camvideo.qt.window import MainWindow  # noqa: E402

settings.setValue("mode", "Top-k")
settings.setValue("topk", k)
w = MainWindow(settings=settings, source=str(demo_clip()), loop=True)
w.move(0, 0)
w.resize(width, height)
w.show()
wait(lambda: w.view.current is not None and w.session.model is not None, 90)
wait(lambda: False, 3)
w.toggle_pause()
w.session.seek(at)
wait(lambda: False, 2)
w.timeline.start_scan()
wait(lambda: w.timeline.scan is None or not w.timeline.scan.running, 240)
wait(lambda: False, 2)
w.timeline.refresh()
wait(lambda: False, 1)
subprocess.run(["import", "-window", "root", out], check=True)
w.close()
