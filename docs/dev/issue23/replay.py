"""Replays findings 1-4 of issue 23 in the window of the tree on PYTHONPATH, one scenario per run,
and takes the screen with `import -window root` (Xvfb + openbox; docs/app.md, Before and after);
"main" retakes docs/screenshot.png (a 1302x880 screen).
usage: replay.py SCENARIO OUT.png WORKDIR"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
import cv2  # noqa: E402
from clips import make_cat_clip  # noqa: E402
from PyQt6.QtCore import Qt, QTimer  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402
from screen import start, take, wait  # noqa: E402

scenario, out, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
app, settings = start(sys.argv, work)
from camvideo.qt.window import MainWindow  # noqa: E402


def pause_for(seconds):
    wait(lambda: False, seconds)


def shot():
    take(out)


def window(**kw):
    w = MainWindow(settings=settings, **kw)
    w.resize(1100, 700)
    w.move(0, 0)
    w.show()
    return w


clip = work / "cat.mp4"
if not clip.exists():
    make_cat_clip(clip, frames=45, size=(320, 214))

if scenario == "1":  # a model loaded while a file has ended never reaches playback
    import torch  # noqa: E401
    import torchvision
    weights = work / "resnet18-random.pth"
    if not weights.exists():
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), weights)
    w = window(source=str(clip))
    wait(lambda: w.session.pipeline is not None and w.session.pipeline.finished, 90)
    w.session.load_model("resnet18", weights=str(weights))
    wait(lambda: w.session.model_name == "resnet18", 90)
    pause_for(1)
    w.seek_to(0.3)  # seek back into the file and step: which model runs?
    pause_for(1.5)
    w.step()
    pause_for(2)
    shot()
elif scenario == "2":  # "Weights file…" after an offline model failed
    w = window(source=str(clip), loop=True, model="resnet18")
    wait(lambda: w.session.model_name is not None and w.errors, 120)
    pause_for(2)

    def grab_and_close():
        shot()
        d = QApplication.activeModalWidget()
        if d is not None:
            d.reject()

    QTimer.singleShot(2500, grab_and_close)
    w.panel.weights_file_clicked.emit()
    pause_for(1)
elif scenario == "3":  # a slideshow with one unreadable image traps ◀
    folder = work / "slides"
    folder.mkdir(exist_ok=True)
    data = Path(__file__).resolve().parents[3] / "tests" / "data"
    for i, name in enumerate(["chelsea", "coffee", "astronaut"]):
        cv2.imwrite(str(folder / f"{i}-{name}.png"), cv2.resize(cv2.imread(str(data / f"{name}.png")), (320, 240)))
    (folder / "1-coffee.png").write_bytes(b"not a png")
    w = window(source=str(folder))
    wait(lambda: w.view.current is not None and w.session.model is not None, 90)
    pause_for(1.5)
    w.activateWindow()
    w.view.setFocus()
    for _ in range(2):
        QTest.keyClick(w.view, Qt.Key.Key_Right)
        pause_for(1.5)
    for _ in range(2):
        QTest.keyClick(w.view, Qt.Key.Key_Left)
        pause_for(1.5)
    shot()
elif scenario == "4":  # One class: the timeline while playing
    settings.setValue("mode", "One class")
    settings.setValue("class", "Egyptian cat")
    w = window(source=str(clip), loop=True)
    wait(lambda: w.view.current is not None and w.session.model is not None, 90)
    pause_for(5)
    shot()
elif scenario == "main":  # docs/screenshot.png: the demo clip, Top-k 3, paused at 2.26 s, scanned
    from camvideo.qt.dialogs import demo_clip

    settings.setValue("mode", "Top-k")
    settings.setValue("topk", 3)
    w = MainWindow(settings=settings, source=str(demo_clip()), loop=True)
    w.move(0, 0)
    w.resize(1302, 858)
    w.show()
    wait(lambda: w.view.current is not None and w.session.model is not None, 90)
    pause_for(3)
    w.toggle_pause()
    w.session.seek(2.26)
    pause_for(2)
    w.timeline.start_scan()
    wait(lambda: w.timeline.scan is None or not w.timeline.scan.running, 240)
    pause_for(2)
    w.timeline.refresh()
    shot()
w.close()
