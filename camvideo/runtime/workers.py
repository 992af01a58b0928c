"""Frame-level parallelism for file sources: several forward passes at once.

On a CPU the forward pass of a small network does not scale well over intra-op
threads, and OpenMP teams that spin while the decoder and the encoder want the
same cores make it worse. Worse still, libgomp switches every team to a short
spin (a futex sleep and wake-up per parallel region) as soon as its threads
outnumber the cores, which happens the moment a second thread (the pipeline's)
runs a 2-thread team while the main thread has one: measured on 2 cores, the
lite0 forward pass costs 16 ms with 2 threads in the main thread, 28 ms with 2
threads in a worker thread once the main thread has used OpenMP, 19 ms with 1.

So files run ``workers`` forward passes side by side, each at one intra-op
thread (two 1-thread passes at once: ~24 ms each, ~12 ms a frame), and the
pipeline puts the results back in frame order before anything that needs it
(smoothing, boxes, overlay, the sinks). Live sources do not use this: they keep
one frame in flight.

``torch.set_num_threads`` sets the calling thread's OpenMP team size (tested in
tests/runtime/test_workers.py) and the process-wide default that new threads start
with; each thread here sets its own and restores the default when it ends.

OpenCV's own thread pool (``cv2.setNumThreads``, process-wide) is set to one
thread while a file run goes on a machine of up to ``FEW_CORES`` cores
(``hold_opencv_threads``, ``file_opencv_threads``): the run's own threads (reader, forward passes, writer,
sinks, the encoder) already fill such a machine, and the pool's worker spins
(``sched_yield``) after each small parallel call (the overlay's, the recorder's
colour conversion, the resizes): on 2 cores ~0.3 CPU ms a frame, all of it kernel
time, for no gain (docs/measuring.md, The run's own threads).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

import torch

from camvideo.cam.methods import method_class
from camvideo.settings import MAX_WORKERS

log = logging.getLogger(__name__)

FEW_CORES = 4  # up to this many cores, a file run keeps OpenCV's pool at one thread

_cv_lock = threading.Lock()
_cv_users = 0  # holds of hold_opencv_threads not yet released
_cv_before = 0  # OpenCV's thread count before the first of them


def auto_workers(model, forward=None) -> int:
    """Forward passes side by side for files: 1 on a GPU and for a model whose CAM
    method is not ``parallel`` (Grad-CAM: one backward graph per model); as many
    as the requests of a ``forward`` that says how many it keeps in flight
    (``jobs``: OpenVINO's throughput mode); else one per core up to 2 (measured on
    2 cores: 2 beat 3, see docs/bench.md)."""
    if not method_class(model).parallel:
        return 1
    jobs = getattr(forward, "jobs", None) if getattr(forward, "mode", None) == "throughput" else None
    if jobs:
        return max(1, min(int(jobs), MAX_WORKERS))
    device = getattr(model, "device", torch.device("cpu"))
    if device.type != "cpu":
        return 1
    return max(1, min(os.cpu_count() or 1, 2))


FILE_BATCH = 4  # frames per forward pass for a file run on OpenVINO's throughput mode


def auto_batch(forward, live: bool) -> int:
    """Frames per forward pass when the caller names none: ``FILE_BATCH`` for a file
    (not ``live``) whose ``forward`` runs in OpenVINO's throughput mode on the CPU,
    else 1. Four frames a pass hand each frame between threads a quarter as often
    (measured on 2 CPU cores: 40-49 -> 21-26 context switches a frame, ~1.5 CPU ms a
    frame less), and run on a model compiled for exactly 4 frames (``openvino._Shape``:
    ~0.6 CPU ms a frame less than the IR's free batch). A live source keeps one frame
    a batch: a batch would wait for frames that have not come yet. Another OpenVINO
    device (GPU, NPU, AUTO:...) keeps one: a batch of 4 compiles a second model, which
    was not measured there (a file's last, partial batch runs a frame at a time)."""
    if live or getattr(forward, "mode", None) != "throughput":
        return 1
    if str(getattr(forward, "device", "CPU")).split(".")[0] != "CPU":
        return 1
    return FILE_BATCH


def localizer_batch(localizer, live: bool) -> int:
    """``auto_batch`` for ``localizer``'s forward pass (its method's ``forward``; a
    localizer without one, a plain one, gets 1): frames per pass of a run that names none."""
    return auto_batch(getattr(getattr(localizer, "method", None), "forward", None), live)


def live_threads(model, runtime: str = "torch") -> int | None:
    """Torch's intra-op threads for the live worker (one frame in flight): on a
    CPU, one core fewer than torch would use, at least 1, so that capture, overlay
    and painting keep a core and no OpenMP team waits on a busy one (measured on 2
    cores, 60 fps source, lite0: latency p50/p95 33/41 ms with 2 threads, 28/35 ms
    with 1). When another ``runtime`` runs the forward pass (OpenVINO, with its own
    threads: ``live_openvino_threads``), torch only makes the maps and boxes: 1,
    since an OpenMP team spinning after those small ops slows OpenVINO's next
    inference (measured on 2 cores: the 640x480 stage 10.6-12.6 ms with 2 threads,
    6.5-8.5 ms with 1). None (leave torch's setting) on a GPU."""
    device = getattr(model, "device", torch.device("cpu"))
    if device.type != "cpu":
        return None
    if runtime != "torch":
        return 1
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))


def live_openvino_threads() -> int | None:
    """OpenVINO's inference threads for a live source (and a single image): None,
    its LATENCY hint's own choice, one stream over every physical core (its threads
    not pinned: ``OpenVINOForward``). Unlike torch's OpenMP team (``live_threads``),
    the forward pass then takes about half the time of one core, and with one frame
    in flight nothing else waits for a core meanwhile: measured on 2 cores (60 fps
    source, lite0 balanced top-3), docs/measuring.md, Live latency. Files keep the
    THROUGHPUT hint's streams of one thread each (``auto_workers``)."""
    return None


def check_workers(workers: int | None) -> int | None:
    """None (auto) or an int in [1, MAX_WORKERS]; ValueError/TypeError otherwise."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be None (auto) or an int, got {type(workers).__name__}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    return workers


@contextlib.contextmanager
def torch_threads(count: int | None, restore: int):
    """Run the body of a thread at ``count`` intra-op threads (None: leave them);
    afterwards set the process-wide default back to ``restore``."""
    if count is None:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(restore)


def file_opencv_threads() -> int | None:
    """OpenCV's threads for a file run: 1 on a machine of up to ``FEW_CORES`` cores,
    else None (OpenCV's own choice: there its parallel overlay shortens the
    in-order writer)."""
    return 1 if (os.cpu_count() or 1) <= FEW_CORES else None


def hold_opencv_threads(count: int | None = None, *, file_run: bool = False) -> Callable[[], None]:
    """Set OpenCV's pool to ``count`` threads (``file_run``: ``file_opencv_threads()``;
    None: leave it) until the returned function is called (once counts; later calls
    do nothing). ``cv2.setNumThreads`` is process-wide: runs that overlap share the
    setting, and the count from before the first is restored when the last lets go."""
    global _cv_users, _cv_before
    if file_run:
        count = file_opencv_threads()
    if count is None:
        return lambda: None
    import cv2

    with _cv_lock:
        if _cv_users == 0:
            _cv_before = cv2.getNumThreads()
        _cv_users += 1
        cv2.setNumThreads(count)
    held = [True]

    def release() -> None:
        global _cv_users
        with _cv_lock:
            if not held:
                return
            held.clear()
            _cv_users -= 1
            if _cv_users == 0:
                cv2.setNumThreads(_cv_before)

    return release


class ForwardPool:
    """``workers`` threads calling the functions given to ``submit``; a Future each.

    With more than one worker each thread runs torch at one intra-op thread.
    ``close`` cancels what has not started and joins every thread. The caller
    keeps the futures in submission order, which is the frame order."""

    def __init__(self, workers: int, *, join_timeout: float = 10.0) -> None:
        check_workers(workers)
        self.workers = workers
        self._threads_before = torch.get_num_threads()
        self._threads = 1 if workers > 1 else None
        self._join_timeout = join_timeout
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()  # C: no Python-level lock and condition a job
        self._closed = False
        self._pool = [threading.Thread(target=self._run, name=f"camvideo-forward-{i}", daemon=True) for i in range(workers)]
        for thread in self._pool:
            thread.start()

    def submit(self, fn: Callable, *args) -> Future:
        if self._closed:
            raise RuntimeError("this ForwardPool is closed")
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def _run(self) -> None:
        with torch_threads(self._threads, self._threads_before):
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                future, fn, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
                    future.set_exception(exc)

    def close(self) -> None:
        """Cancel the jobs not started, let the running ones end, join the threads."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._pool:
            self._jobs.put(None)
        for thread in self._pool:
            thread.join(self._join_timeout)
            if thread.is_alive():
                log.error("%s did not stop within %.0f s", thread.name, self._join_timeout)

    def __enter__(self) -> ForwardPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_END = object()  # HandOff's sentinel


class HandOff:
    """A thread (``name``) that calls ``fn(item)`` on each item ``put`` to it, in
    order, behind a ``block`` queue of ``size`` items: files run their sinks (the
    x264 encode, the export) here, so that the writer's in-order half of the next
    frames overlaps the encode of this one.

    ``end`` queues the end; the thread then calls ``on_end`` (also after an error)
    and stops. An exception from ``fn`` goes to ``on_error`` and ends the thread:
    ``put`` then says False, so that whoever feeds it stops too. ``join`` waits for
    the thread (with a timeout)."""

    def __init__(self, fn: Callable, size: int, *, name: str, on_error: Callable[[BaseException], None],
                 on_end: Callable[[], None], poll_s: float = 0.1) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._fn, self._on_error, self._on_end, self._poll_s = fn, on_error, on_end, poll_s
        self._queue: queue.Queue = queue.Queue(size)
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def is_current(self) -> bool:
        """True when called from this hand-off's own thread (in ``fn``, ``on_error``, ``on_end``)."""
        return threading.current_thread() is self._thread

    def put(self, item) -> bool:
        """Queue ``item`` (waits while the queue is full); False when the thread has ended."""
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=self._poll_s)
                return True
            except queue.Full:
                continue
        return False

    def end(self) -> None:
        """The last item: the thread calls ``on_end`` once it has done the ones before."""
        self.put(_END)

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                self._fn(item)
        except BaseException as exc:  # noqa: BLE001 - becomes on_error; put() says False from now on
            log.debug("%s failed", self._thread.name, exc_info=True)
            self._on_error(exc)
        finally:
            self._on_end()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("%s did not stop within %.0f s", self._thread.name, timeout)
