"""What the screenshot scripts here share (look.py, replay.py, timeline.py): the Qt
application with its settings in WORKDIR, waiting while Qt runs, and the screen taken
with `import -window root` (Xvfb + openbox)."""
import subprocess
import time
from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication


def start(argv: list[str], work: Path) -> tuple[QApplication, QSettings]:
    """The application, and the window's settings in ``work/app.ini`` (never the user's)."""
    work.mkdir(parents=True, exist_ok=True)
    app = QApplication(argv)
    return app, QSettings(str(work / "app.ini"), QSettings.Format.IniFormat)


def wait(cond, timeout: float = 60.0) -> bool:
    """Run Qt's events until ``cond()`` holds (True) or ``timeout`` seconds pass (False)."""
    app, end = QApplication.instance(), time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    return False


def take(out: str, crop: str | None = None, settle: float = 0.5) -> None:
    """The screen (or its ``crop``, WxH+X+Y) into ``out``, after ``settle`` seconds of events."""
    wait(lambda: False, settle)
    subprocess.run(["import", "-window", "root", *(["-crop", crop] if crop else []), out], check=True)
