"""Work off the GUI thread (``camvideo.qt.tasks``), and the window on top of it:
the newest request wins, a failure is a message, order where asked, nothing
delivered after close, settings before the model, no thread left after close."""

from __future__ import annotations

import threading
import time

import pytest
from qt_helpers import WAIT_MS, wait_frames

from camvideo.errors import InputError
from camvideo.qt.tasks import Tasks


@pytest.fixture
def tasks(qtbot):
    runner = Tasks()
    yield runner
    runner.close()
    runner.join(WAIT_MS / 1000)
    for task in runner.running():  # daemon tasks too: nothing may outlive the test
        task.thread.join(WAIT_MS / 1000)


def test_the_value_comes_on_the_gui_thread(qtbot, tasks):
    got = []
    tasks.start(lambda: threading.current_thread().name, name="t-value",
                done=lambda value: got.append((value, threading.current_thread() is threading.main_thread())))
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == [("t-value", True)]
    assert tasks.join(WAIT_MS / 1000) and not tasks.running()


def test_a_failure_becomes_a_one_line_message(qtbot, tasks):
    messages, values = [], []

    def fail():
        raise ValueError("bad frame size\nsecond line")

    tasks.start(fail, name="t-fail", done=values.append, failed=messages.append)
    tasks.start(lambda: (_ for _ in ()).throw(InputError("no such file: x.mp4")), name="t-fail2",
                failed=messages.append)
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=WAIT_MS)
    assert "ValueError: bad frame size" in messages and "no such file: x.mp4" in messages
    assert values == [] and all("\n" not in m for m in messages)


def test_a_newer_task_in_a_lane_wins_and_the_older_result_is_discarded(qtbot, tasks):
    gate = threading.Event()
    done, discarded = [], []

    def slow():
        gate.wait(WAIT_MS / 1000)
        return "old"

    first = tasks.start(slow, name="t-old", lane="open", done=done.append, discard=discarded.append)
    second = tasks.start(lambda: "new", name="t-new", lane="open", done=done.append, discard=discarded.append)
    assert first.dropped and not second.dropped
    qtbot.waitUntil(lambda: done == ["new"], timeout=WAIT_MS)
    assert tasks.current("open") is None  # delivered: nothing in flight
    gate.set()  # the older one returns late: its result is discarded in its thread, never delivered
    qtbot.waitUntil(lambda: discarded == ["old"], timeout=WAIT_MS)
    qtbot.wait(100)
    assert done == ["new"]


def test_a_result_returned_but_not_yet_delivered_is_discarded_when_dropped(qtbot, tasks):
    done, discarded = [], []
    task = tasks.start(lambda: "value", name="t-drop", lane="model", done=done.append, discard=discarded.append)
    task.thread.join(WAIT_MS / 1000)  # returned; its delivery waits for the event loop
    assert tasks.drop("model") is task and discarded == ["value"]  # discarded here, on the GUI thread
    qtbot.wait(100)
    assert done == []


def test_after_waits_for_earlier_threads_and_a_task_dropped_meanwhile_never_runs(qtbot, tasks):
    gate = threading.Event()
    order, done = [], []

    def first():
        gate.wait(WAIT_MS / 1000)
        order.append("first")

    one = tasks.start(first, name="t-first", daemon=True)
    two = tasks.start(lambda: order.append("second"), name="t-second", daemon=True, after=[one.thread],
                      lane="camera", done=done.append)
    three = tasks.start(lambda: order.append("third"), name="t-third", daemon=True, after=[one.thread, two.thread],
                        lane="camera", done=done.append)  # drops "second" while it waits
    assert two.dropped and not three.dropped
    gate.set()
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    assert order == ["first", "third"]  # "second" was dropped before it ran: never called


def test_an_always_task_dropped_before_it_ran_is_still_called_but_not_delivered(qtbot, tasks):
    gate = threading.Event()
    called, done = [], []
    one = tasks.start(lambda: gate.wait(WAIT_MS / 1000), name="t-gate")
    two = tasks.start(lambda: called.append(True), name="t-always", after=[one.thread], always=True,
                      done=done.append)
    tasks.close()  # drops both before "t-always" got to its call
    gate.set()
    assert tasks.join(WAIT_MS / 1000)
    qtbot.wait(10)
    assert two.dropped and called == [True] and done == []
    from camvideo import exiting  # the process's exit waits for an always task, not for another

    assert exiting.marked(two.thread) is True and exiting.marked(one.thread) is False


def test_close_drops_everything_and_join_is_bounded(qtbot, tasks):
    gate = threading.Event()
    done, discarded = [], []

    def slow():
        gate.wait(WAIT_MS / 1000)
        return "late"

    tasks.start(slow, name="t-slow", lane="model", done=done.append, discard=discarded.append)
    tasks.close()
    t0 = time.monotonic()
    assert not tasks.join(0.2)  # still running: join gives up, bounded
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(RuntimeError, match="closed"):
        tasks.start(lambda: None, name="t-after")
    gate.set()
    assert tasks.join(WAIT_MS / 1000)
    qtbot.wait(100)
    assert done == [] and discarded == ["late"]


def test_post_runs_on_the_gui_thread_in_order(qtbot, tasks):
    calls = []

    def worker():
        for i in range(5):
            tasks.post(lambda i=i: calls.append((i, threading.current_thread() is threading.main_thread())))

    thread = threading.Thread(target=worker, name="t-post")
    thread.start()
    thread.join(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: len(calls) == 5, timeout=WAIT_MS)
    assert calls == [(i, True) for i in range(5)]


def test_nothing_posted_runs_after_close(qtbot, tasks):
    """A thread that posts after close posts nothing; a call posted before close that
    has not run yet does not run after it (the window is closing: nobody to tell)."""
    from PyQt6.QtCore import QCoreApplication

    calls, posted = [], []

    def post(what: str) -> None:
        thread = threading.Thread(target=lambda: posted.append(tasks.post(calls.append, what)), name="t-post")
        thread.start()
        thread.join(WAIT_MS / 1000)

    post("before")  # queued for the GUI thread: no event loop has run since
    tasks.close()
    post("after")
    QCoreApplication.processEvents()
    assert posted == [True, False] and calls == []


# -- the window on top of it -----------------------------------------------------------

def test_settings_set_before_the_model_loads_make_its_first_frame(qtbot, open_window, fast_models, cat_clip):
    """Settings need no torch: the window pushes them at once, and the first frame
    after the load is made with them (no wait for the core)."""
    shown = []
    w = open_window(cat_clip, loop=True)
    w.session.frame_shown.connect(shown.append)
    assert w.session.model is None and not w.session.core_loaded  # nothing is loaded yet
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(3)
    w.panel.threshold.setValue(45)
    assert w.session.localize_settings.topk == 3  # at once, not when the core comes
    assert w.session.localize_settings.box_rule.threshold == pytest.approx(0.45)
    assert w.session.model is None
    # the frames before the model are the preview's, as they are (no result); the first after it
    qtbot.waitUntil(lambda: any(f.result.detections for f in shown), timeout=WAIT_MS)
    first = next(f for f in shown if f.result.detections)
    assert all(not f.result.detections for f in shown[:shown.index(first)])
    assert len(first.result.map_class_ids) == 3 and len(first.result.detections) >= 3
    assert w.session.localizer.settings.box_rule.threshold == pytest.approx(0.45)


def test_a_load_that_raises_becomes_a_message_and_the_stream_goes_on(qtbot, open_window, fast_models, cat_clip,
                                                                     monkeypatch):
    import camvideo.models

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    loading = camvideo.models.load_model

    def load(name="lite0", **kwargs):
        if name == "resnet18":
            raise RuntimeError("CUDA driver exploded\nwith a traceback below")
        return loading(name, **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", load)
    w.session.load_model("resnet18")
    qtbot.waitUntil(lambda: any("CUDA driver exploded" in e for e in w.errors), timeout=WAIT_MS)
    assert w.error_label.text() == "RuntimeError: CUDA driver exploded" and w.banner.isVisible()
    assert w.panel.model_state.text() == "resnet18 could not load; still lite0 on cpu"
    wait_frames(qtbot, w, 3)  # lite0 goes on


def test_closing_while_a_load_is_in_flight_waits_for_it_and_leaves_no_thread(qtbot, open_window, fast_models,
                                                                             cat_clip, monkeypatch):
    import camvideo.models

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    started, release = threading.Event(), threading.Event()
    loading = camvideo.models.load_model

    def slow(name="lite0", **kwargs):
        if name == "resnet18":
            started.set()
            release.wait(WAIT_MS / 1000)
        return loading("lite0", **kwargs)

    monkeypatch.setattr(camvideo.models, "load_model", slow)
    w.session.load_model("resnet18")
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    painted = w.view.painted
    qtbot.waitUntil(lambda: w.view.painted - painted >= 3, timeout=WAIT_MS)  # a load never blocks painting...
    assert w.session.loading and not release.is_set()  # ...it is still in flight
    threading.Timer(0.5, release.set).start()  # the load returns while close waits for it
    w.close()
    names = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    assert not any(n.startswith("camvideo-") for n in names), names
    assert not w.session.loading and w.session.model_name == "lite0"  # the late model was dropped unseen
