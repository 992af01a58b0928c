"""Session: what plays stops off the GUI thread; the next source waits for that stop.

A source whose close blocks until the test lets it go stands for a pipeline whose
threads take seconds to join: the GUI thread must go on processing events meanwhile,
the next source must not play before the old recording is final, and closing the
window meanwhile must still finalize it. No timings: the gates are events.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import QTimer
from qt_helpers import WAIT_MS, count_frames

from camvideo.video.reader import IterableSource

GUARD_S = 60.0  # only against a hang: a close that blocked the GUI thread is caught by the ticks, not by this


def frames(n: int = 100_000):
    for i in range(n):
        yield np.full((48, 64, 3), (i * 7) % 255, np.uint8)


class GatedClose(IterableSource):
    """Plays endless frames; its close blocks until ``gate`` is set and records
    the thread it ran in."""

    def __init__(self, name: str, *, live: bool = False) -> None:
        super().__init__(frames(), live=live, name=name, fps=30.0)
        self.gate, self.closing, self.released = threading.Event(), threading.Event(), threading.Event()
        self.started = threading.Event()
        self.close_thread: threading.Thread | None = None

    def start(self) -> None:
        self.started.set()
        super().start()

    def _release(self) -> None:
        self.close_thread = threading.current_thread()
        self.closing.set()
        self.gate.wait(GUARD_S)
        self.released.set()


@pytest.fixture
def session(qtbot, fast_models):
    from camvideo.qt.session import Session

    made = []

    def make(sources: dict):
        s = Session(device="cpu")
        s._opener._open_fn = lambda spec, loop: sources[spec]
        made.append((s, sources))
        return s

    yield make
    for s, sources in made:
        for source in sources.values():
            if isinstance(source, GatedClose):
                source.gate.set()
        s.close()


def play(qtbot, s, spec: str) -> None:
    s.load_model("lite0")
    s.open(spec)
    qtbot.waitUntil(lambda: s.pipeline is not None and s.last_shown is not None, timeout=WAIT_MS)


def recording(qtbot, session, tmp_path, names=("a",), open_gates=("a", "b")):
    """A session over GatedClose sources ``names`` (those in ``open_gates`` close at once),
    playing the first and recording it, 3 frames recorded: (session, sources, path)."""
    sources = {name: GatedClose(name) for name in names}
    for name in open_gates:
        if name in sources:
            sources[name].gate.set()
    s = session(sources)
    play(qtbot, s, names[0])
    path = s.start_recording(tmp_path / "rec.mkv")
    qtbot.waitUntil(lambda: s.sink.recorded >= 3, timeout=WAIT_MS)
    return s, sources, path


def late_tasks(monkeypatch, name: str) -> None:
    """Tasks named ``name`` get their thread's turn only once their ``Tasks`` is closed
    (the real case on a busy machine: the thread was started, the window closed before
    it ran a line; close drops every task). The real ``Tasks.start`` and ``close`` run."""
    from camvideo.qt import tasks

    closed, run, close = {}, tasks.Tasks._run, tasks.Tasks.close  # a Tasks -> its closing's event

    def late_run(self, task, fn, after):
        if task.name == name:
            closed.setdefault(self, threading.Event()).wait(GUARD_S)
        run(self, task, fn, after)

    def closing(self):
        close(self)
        closed.setdefault(self, threading.Event()).set()

    monkeypatch.setattr(tasks.Tasks, "_run", late_run)
    monkeypatch.setattr(tasks.Tasks, "close", closing)


def ticks_while(qtbot, source: GatedClose) -> list:
    """Wait until ``source``'s close has begun, then let the event loop run a timer:
    what the timer saw (its close still blocked: the GUI thread was free)."""
    qtbot.waitUntil(source.closing.is_set, timeout=WAIT_MS)
    seen = []
    QTimer.singleShot(0, lambda: seen.append(source.released.is_set()))
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    return seen


def test_a_source_switch_stops_the_old_one_off_the_gui_thread_and_starts_the_new_one_after(qtbot, session,
                                                                                            tmp_path):
    a, b = GatedClose("a"), GatedClose("b")
    s = session({"a": a, "b": b})
    play(qtbot, s, "a")
    path = s.start_recording(tmp_path / "rec.mkv")
    qtbot.waitUntil(lambda: s.sink.recorded >= 3, timeout=WAIT_MS)
    finals = []
    s.recording_changed.connect(lambda running, p: finals.append((running, p, path.exists())))
    b_started_after_final, opening, saving = [], [], []
    s.opening.connect(opening.append)
    s.recording_saving.connect(saving.append)
    b.start = lambda: (b_started_after_final.append(path.exists()), GatedClose.start(b))
    s.open("b")
    assert ticks_while(qtbot, a) == [False]  # the event loop ran while a's close was blocked
    assert saving == [str(path)] and not s.recording  # stopped at the switch: being saved, no longer recording
    assert a.close_thread is not threading.main_thread()
    assert s.source is None and not b.started.is_set() and s.opening_spec == "b"
    assert opening == ["b", "b"]  # opened, waiting for the stop: the window says it is still opening
    a.gate.set()
    qtbot.waitUntil(lambda: s.pipeline is not None and s.source is b, timeout=WAIT_MS)
    assert finals == [(False, str(path), True)] and b_started_after_final[:1] == [True]
    assert count_frames(path) >= 3 and s.last_error == ""


def test_closing_while_a_stop_is_in_flight_still_finalizes_the_recording(qtbot, session, tmp_path):
    s, sources, path = recording(qtbot, session, tmp_path, ("a", "b"), open_gates=("b",))
    a, b = sources["a"], sources["b"]
    s.open("b")
    qtbot.waitUntil(a.closing.is_set, timeout=WAIT_MS)
    threading.Thread(target=a.gate.set).start()  # whenever it comes, close waits for it
    s.close()
    assert a.released.is_set() and path.exists() and count_frames(path) >= 3
    assert not b.started.is_set() and b.released.is_set()  # never played: closed unshown
    assert not list(tmp_path.glob("*.partial.*"))


def test_closing_finalizes_the_recording_of_a_switch_whose_stop_task_never_ran(qtbot, session, tmp_path,
                                                                               monkeypatch):
    """A stop task whose thread gets to run only after the window closed (close drops
    every task) still finalizes the recording and closes the old source (``always``)."""
    s, sources, path = recording(qtbot, session, tmp_path, ("a", "b"))
    late_tasks(monkeypatch, "camvideo-stop")
    s.open("b")
    qtbot.waitUntil(lambda: s.source is None and bool(s._stopping), timeout=WAIT_MS)
    assert not s.recording and not path.exists() and not sources["a"].closing.is_set()  # its stop has not run
    s.close()
    assert sources["a"].released.is_set() and path.exists() and count_frames(path) >= 3
    assert not list(tmp_path.glob("*.partial.*"))


def test_a_stop_that_finishes_after_the_window_closed_posts_nothing_to_it(qtbot, session, tmp_path, monkeypatch):
    """Close waits for the stops in flight only so long; one that ends later still
    finalizes its recording, and tells the closed window nothing."""
    from PyQt6.QtCore import QCoreApplication

    from camvideo.qt import session as session_module

    s, _, path = recording(qtbot, session, tmp_path, ("a", "b"))
    gate, closing = gate_close(s.sink.recorder)
    changed = []
    s.recording_changed.connect(lambda running, p: changed.append((running, p)))
    s.open("b")
    qtbot.waitUntil(closing.is_set, timeout=WAIT_MS)  # the switch's stop task is finalizing the recording
    (stop,) = s._stopping.values()
    monkeypatch.setattr(session_module, "CLOSE_JOIN_S", 0.0)  # close gives up on it at once
    s.close()
    gate.set()
    stop.thread.join(GUARD_S)
    assert not stop.thread.is_alive()
    QCoreApplication.processEvents()  # what it posted would run now
    assert changed == [] and path.exists() and count_frames(path) >= 3


def test_a_camera_opens_only_after_the_old_camera_is_closed(qtbot, session):
    a = GatedClose("0", live=True)
    order = []

    def open_camera_one(spec, loop):
        order.append(("open", a.released.is_set()))
        return IterableSource(frames(), live=True, name="1")

    s = session({"0": a})
    s._opener._open_fn = lambda spec, loop: a if spec == "0" else open_camera_one(spec, loop)
    play(qtbot, s, "0")
    s.open("1")
    assert ticks_while(qtbot, a) == [False]
    assert order == []  # the new camera waits for the old one's close
    a.gate.set()
    qtbot.waitUntil(lambda: s.source is not None and s.source.name == "1" and s.pipeline is not None,
                    timeout=WAIT_MS)
    assert order == [("open", True)]


def test_a_seek_to_no_time_is_ignored(qtbot, session):
    a = GatedClose("a")
    a.gate.set()
    s = session({"a": a})
    play(qtbot, s, "a")
    s.seek(float("nan"))
    s.seek(float("inf"))
    assert s.pipeline.error is None and s.last_error == ""


def failing(n: int):
    """A live source's frames: ``n``, then the device is gone."""
    for i in range(n):
        yield np.full((48, 64, 3), i, np.uint8)
    raise OSError("the camera was unplugged")


def test_a_live_source_that_failed_in_the_preview_is_not_started_as_ended_and_opens_again(qtbot, session):
    dead = IterableSource(failing(2), live=True, name="0")
    sources = {"0": dead}
    s = session(sources)
    failed, ended = [], []
    s.source_failed.connect(failed.append)
    s.finished.connect(lambda: ended.append(True))
    s.open("0")  # no model yet: the preview plays it
    qtbot.waitUntil(lambda: bool(failed), timeout=WAIT_MS)
    assert failed == ["0"] and "unplugged" in s.last_error and s.source_dead
    with qtbot.waitSignal(s.model_ready, timeout=WAIT_MS):
        s.load_model("lite0")
    assert s.pipeline is None and s.source_dead and not ended  # no pipeline reads the dead source's end
    sources["0"] = IterableSource(frames(), live=True, name="0")  # plugged in again: Retry opens it
    s.open("0")
    qtbot.waitUntil(lambda: s.pipeline is not None and s.last_shown is not None and s.source is sources["0"],
                    timeout=WAIT_MS)
    assert not s.source_dead and failed == ["0"]


def test_a_live_source_that_fails_while_the_model_runs_offers_retry(qtbot, open_window, fast_models, cat_clip):
    from camvideo.qt import status

    w = open_window(cat_clip, loop=True)
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.last_shown is not None, timeout=WAIT_MS)
    again = IterableSource(frames(), live=True, name="0")
    opened = iter([IterableSource(failing(3), live=True, name="0"), again])
    w.session._opener._open_fn = lambda spec, loop: next(opened)
    w.open("0")
    qtbot.waitUntil(lambda: w.top_bars.retry_button.isVisibleTo(w), timeout=WAIT_MS)
    assert "unplugged" in w.error_label.text() and "camera 0" in w.top_bars.retry_button.toolTip()
    # the pipeline tells its error before its end: the status field follows the end
    qtbot.waitUntil(lambda: status.StatusLine.state(w.session, w.view) == "source failed", timeout=WAIT_MS)
    w.top_bars.retry_button.click()
    qtbot.waitUntil(lambda: w.session.source is again and w.session.last_shown is not None, timeout=WAIT_MS)


def test_a_model_that_fails_on_a_live_source_says_so_without_retry(qtbot, session, monkeypatch):
    """The model's forward pass raises on a camera's frames: the banner names the model
    and why; no ``source_failed`` (Retry would open the camera again to the same failure)."""
    from camvideo.qt import status
    from camvideo.runtime.localizer import FrameLocalizer

    s = session({"0": IterableSource(frames(), live=True, name="0")})
    play(qtbot, s, "0")
    failed, errors = [], []
    s.source_failed.connect(failed.append)
    s.error.connect(errors.append)

    def broken(self, *args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x960 and 1280x1000)")

    monkeypatch.setattr(FrameLocalizer, "__call__", broken)
    qtbot.waitUntil(lambda: s.pipeline.finished and bool(errors), timeout=WAIT_MS)
    assert errors == [s.last_error] and "the model lite0 failed on a frame" in s.last_error
    assert "mat1 and mat2" in s.last_error  # no Retry offered: ``failed`` (the banner's Retry) stays empty
    assert failed == [] and not s.source_dead and s.model_dead
    assert status.StatusLine.state(s, None) == "model failed"


def gate_close(recorder) -> tuple[threading.Event, threading.Event]:
    """``recorder``'s close blocks until the returned gate is set; (gate, closing)."""
    gate, closing, real = threading.Event(), threading.Event(), recorder.close

    def close() -> None:
        closing.set()
        gate.wait(GUARD_S)
        real()

    recorder.close = close
    return gate, closing


def test_stop_recording_finalizes_the_file_off_the_gui_thread(qtbot, session, tmp_path):
    s, _, path = recording(qtbot, session, tmp_path)
    gate, closing = gate_close(s.sink.recorder)
    saving, changed = [], []
    s.recording_saving.connect(saving.append)
    s.recording_changed.connect(lambda running, p: changed.append((running, p)))
    assert s.stop_recording() == path
    assert saving == [str(path)] and not s.recording and changed == []
    qtbot.waitUntil(closing.is_set, timeout=WAIT_MS)
    seen = []
    QTimer.singleShot(0, lambda: seen.append(path.exists()))
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert seen == [False]  # the event loop ran while the file was being finalized
    gate.set()
    qtbot.waitUntil(lambda: bool(changed), timeout=WAIT_MS)
    assert changed == [(False, str(path))] and count_frames(path) >= 3 and s.last_error == ""


def test_closing_while_a_recording_saves_still_finalizes_it(qtbot, session, tmp_path):
    s, _, path = recording(qtbot, session, tmp_path)
    gate, closing = gate_close(s.sink.recorder)
    s.stop_recording()
    qtbot.waitUntil(closing.is_set, timeout=WAIT_MS)
    threading.Thread(target=gate.set).start()  # whenever it comes, close waits for it
    s.close()
    assert path.exists() and count_frames(path) >= 3 and not list(tmp_path.glob("*.partial.*"))


def test_closing_finalizes_a_recording_whose_save_task_never_ran(qtbot, session, tmp_path, monkeypatch):
    """Stop in the Record box, then the window closes before the save task's thread
    ran a line (close drops every task): the save runs all the same (``always``)."""
    s, _, path = recording(qtbot, session, tmp_path)
    late_tasks(monkeypatch, "camvideo-save")
    assert s.stop_recording() == path
    assert not s.recording and not path.exists()  # its save has not run
    s.close()
    assert path.exists() and count_frames(path) >= 3 and not list(tmp_path.glob("*.partial.*"))
