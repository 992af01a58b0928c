"""Buffer policies through their one interface: what each keeps and drops, the pause, the end."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from clips import make_clip

from camvideo.video.pacing import Paced
from camvideo.video.policies import END, BlockingQueue, BufferPolicy, LatestFrame
from camvideo.video.reader import Frame, policy_for
from camvideo.video.sources import IterableSource, VideoFileSource, open_source

pytestmark = pytest.mark.timeout(60)


def _frame(i: int, fps: float = 30.0) -> Frame:
    return Frame(np.full((4, 4, 3), i % 256, np.uint8), i, i / fps, time.monotonic())


def _drain(policy: BufferPolicy, timeout: float = 0.2) -> list:
    got = []
    while True:
        try:
            item = policy.get(timeout)
        except TimeoutError:
            return got
        got.append(item)
        if item is END:
            return got


def _in_thread(fn, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    return thread, out


def test_policy_for_picks_by_kind():
    assert isinstance(policy_for(live=True), LatestFrame) and policy_for(live=True).name == "latest"
    assert isinstance(policy_for(live=True, realtime=True), LatestFrame)  # a camera is real time already
    assert isinstance(policy_for(live=False), BlockingQueue) and policy_for(live=False).name == "block"
    assert isinstance(policy_for(live=False, realtime=True), Paced) and policy_for(live=False, realtime=True).name == "paced"


def test_latest_frame_keeps_the_newest_and_counts_the_rest():
    policy, stop = LatestFrame(), threading.Event()
    for i in range(5):
        assert policy.put(_frame(i), stop)
    assert policy.get(0.1).index == 4 and policy.dropped == 4
    with pytest.raises(TimeoutError):
        policy.get(0.05)
    policy.put(_frame(5), stop)
    policy.end(stop)
    assert [getattr(x, "index", x) for x in _drain(policy)] == [5, END]
    assert policy.dropped == 4  # a frame taken before the next came is no drop


def test_blocking_queue_drops_nothing_and_makes_the_reader_wait():
    policy, stop = BlockingQueue(size=3), threading.Event()
    for i in range(3):
        assert policy.put(_frame(i), stop)
    thread, out = _in_thread(policy.put, _frame(3), stop)
    thread.join(0.3)
    assert thread.is_alive()  # full: the reader waits
    assert policy.get(0.1).index == 0
    thread.join(2)
    assert out == [True]
    assert [policy.get(0.1).index for _ in range(3)] == [1, 2, 3]
    policy.end(stop)
    assert _drain(policy) == [END] and policy.dropped == 0
    # a reader waiting on a full queue gives up when asked to stop
    for i in range(3):
        policy.put(_frame(i), stop)
    thread, out = _in_thread(policy.put, _frame(3), stop)
    stop.set()
    policy.wake()
    thread.join(2)
    assert out == [False]
    with pytest.raises(ValueError, match="size"):
        BlockingQueue(size=0)
    with pytest.raises(TypeError, match="size"):
        BlockingQueue(size=2.0)


def test_paced_hands_each_frame_over_when_it_is_due():
    policy, stop = Paced(), threading.Event()
    t0 = time.monotonic()
    for i in range(10):  # 10 frames at 30 fps, taken at once: ~0.3 s
        assert policy.put(_frame(i), stop)
        frame = policy.get(1)
        assert frame.index == i
        assert abs(frame.captured - time.monotonic()) < 0.05  # stamped when due, not when decoded
    assert 9 / 30 * 0.9 <= time.monotonic() - t0 < 2.0
    assert policy.dropped == 0


def test_paced_drops_late_frames_for_a_slow_consumer():
    policy, stop = Paced(), threading.Event()

    def reader():
        for i in range(30):
            if not policy.put(_frame(i), stop):
                return
        policy.end(stop)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    got = []
    while (item := policy.get(5)) is not END:
        got.append(item.index)
        time.sleep(0.1)  # a consumer 3x slower than the file
    thread.join(5)
    assert got == sorted(got) and got[-1] == 29
    assert policy.dropped >= 10 and len(got) + policy.dropped == 30


@pytest.mark.parametrize("make", [LatestFrame, lambda: BlockingQueue(4)], ids=["latest", "block"])
def test_pause_holds_frames_at_get_and_step_lets_one_through(make):
    policy, stop = make(), threading.Event()
    policy.pause()
    assert policy.paused
    policy.put(_frame(0), stop)
    with pytest.raises(TimeoutError):
        policy.get(0.1)
    policy.step()
    assert policy.get(0.1).index == 0
    policy.put(_frame(1), stop)
    with pytest.raises(TimeoutError):  # the step was taken
        policy.get(0.1)
    policy.end(stop)
    policy.step()
    policy.step()
    assert [getattr(x, "index", x) for x in _drain(policy)] == [1, END]  # the end waits for its own step
    policy.reset()
    assert policy.paused  # a reset (a seek) keeps the pause, forgets the rest
    policy.put(_frame(2), stop)
    with pytest.raises(TimeoutError):
        policy.get(0.1)
    policy.resume()
    assert not policy.paused and policy.get(0.1).index == 2


def test_a_step_is_only_taken_by_a_frame_handed_over():
    """A consumer that times out while paused does not use up the step."""
    policy, stop = BlockingQueue(), threading.Event()
    policy.pause()
    policy.step()
    with pytest.raises(TimeoutError):
        policy.get(0.05)  # nothing there yet
    policy.put(_frame(0), stop)
    assert policy.get(0.1).index == 0


def test_paused_paced_holds_the_reader_so_its_clock_stops():
    policy, stop = Paced(), threading.Event()
    handed: list[tuple[int, float]] = []  # (index, when its put returned)

    def reader():
        for i in range(6):
            if not policy.put(_frame(i), stop):
                return
            handed.append((i, time.monotonic()))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert policy.get(1).index == 0
    policy.pause()
    assert policy.get(1).index == 1  # the frame in flight still comes...
    time.sleep(0.5)  # ...and the next waits however long the pause is
    with pytest.raises(TimeoutError):
        policy.get(0.1)
    assert len(handed) == 1  # the reader waits in put, after frame 1
    policy.step()
    stepped = policy.get(0.2)  # at once, not paced
    assert stepped.index == 2
    with pytest.raises(TimeoutError):
        policy.get(0.2)
    policy.resume()  # frame 3 was due ~0.8 s ago: the clock restarts, nothing is dropped to catch up
    assert [policy.get(1).index for _ in range(3)] == [3, 4, 5] and policy.dropped == 0
    thread.join(2)
    stop.set()
    policy.pause()
    out = []
    late = threading.Thread(target=lambda: out.append(policy.put(_frame(6), stop)), daemon=True)
    late.start()
    late.join(2)
    assert out == [False]  # a paused reader sees the stop
    with pytest.raises(ValueError, match="speed"):
        Paced(speed=-1)


def test_a_source_uses_the_policy_it_is_given(tmp_path):
    path = tmp_path / "clip.mkv"
    make_clip(path, frames=12, size=(32, 32))
    policy = BlockingQueue(size=2)
    with VideoFileSource(path, policy=policy) as src:
        assert src.policy is policy
        src.pause()
        assert src.paused and policy.paused
        src.start()
        with pytest.raises(TimeoutError):
            src.read(timeout=0.2)
        src.step()
        assert src.read(timeout=5).index == 0
        src.seek(0.2)  # paused: the frame there comes once
        assert src.read(timeout=5).index == 6
        with pytest.raises(TimeoutError):
            src.read(timeout=0.2)
        src.resume()
        assert [f.index for f in src] == list(range(7, 12))
    with open_source(path, realtime=True) as src:
        assert src.policy.name == "paced" and not src.live
    with pytest.raises(TypeError, match="policy"):
        IterableSource([], policy="latest")
    with pytest.raises(ValueError, match="live"):
        IterableSource([], live=True, policy=Paced())
