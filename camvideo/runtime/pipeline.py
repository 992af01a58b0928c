"""The Qt-free engine: source -> worker (model, CAM, boxes, overlay) -> sinks.

Its parts are Protocols: a ``Localizer`` (images -> one ``FrameResult`` each; a
``SplitLocalizer`` also splits that into a parallel ``forward`` and an in-order
``finish``), ``Annotator``s applied in order (the overlay, a HUD line, ...) and
``Sink``s that take one ``ProcessedFrame`` (``camvideo.frames``) a frame.

Live sources: three threads overlap the work, with one frame in flight: the
source's reader (decode), the worker (every tensor operation of the model, then
the overlay) and the writer (the sinks: recorder, exporter, a window's view).
Files and folders: the worker only reads and hands each batch to ``workers``
forward threads (``camvideo.runtime.workers``: on a CPU two 1-thread forward
passes side by side beat one 2-thread pass); the writer takes the results in
frame order, does the in-order rest (``FrameLocalizer.finish``: smoothing, maps,
boxes; then the overlay) and hands each frame to the sinks thread (``HandOff``,
``SINK_QUEUE_SIZE`` frames: the encode overlaps the next frames' in-order half).
Between the threads are bounded queues with named policies: the source's own
(``latest`` for live sources, ``block`` for files, ``paced`` for a file played in
real time: ``camvideo.video.policies``) and a ``block`` queue of ``queue_size``
items to the writer (one item for a live source: no frame queues behind a slow
output, the encoder say; the worker waits and the source's slot keeps the
newest), so a file loses nothing and a camera never builds a backlog. Pause,
resume and step are the source's policy's (the one pause: see there why); the
controls are ``camvideo.video.controls``'s, the window's preview's too.

Threads stop through an event and a sentinel and are joined with a timeout.
An exception in a pipeline thread or the reader ends up in ``error`` and the
``on_error`` callback; a sink that fails is detached (its file kept as far as
written), reported through ``on_error`` as an ``OutputError``, and the other
sinks carry on. Every stage is timed: ``stats.stage_ms`` (``camvideo.runtime.stats``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import torch

from camvideo.errors import CamvideoError, OutputError
from camvideo.frames import Annotator, Localizer, ProcessedFrame, Sink, SplitLocalizer
from camvideo.results import FrameResult
from camvideo.runtime.stats import PipelineStats, RunningStats
from camvideo.runtime.workers import ForwardPool, HandOff, auto_workers, check_workers, live_threads, torch_threads
from camvideo.runtime.workers import hold_opencv_threads as _hold_opencv_threads
from camvideo.video.controls import PlaybackControls
from camvideo.video.sources import Frame, Source

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 10.0
_POLL_S = 0.1
LIVE_QUEUE_SIZE = 1  # annotated frames waiting for the writer of a live source
SINK_QUEUE_SIZE = 2  # files: finished frames waiting for the sinks thread (the encoder)
_END = object()  # sentinel through the writer queue
_RESET = object()  # a seek: the writer resets the temporal state, in frame order
_clock = time.perf_counter  # the annotators' and the sinks' spans (camvideo.timing's clock)


@dataclass(frozen=True, eq=False)
class _Forwarded:
    """A batch whose forward pass runs in the pool; the writer finishes it."""

    frames: list[Frame]
    localizer: SplitLocalizer
    evidence: Future  # of localizer.forward(images)


class Pipeline(PlaybackControls):
    """Runs ``source`` through ``localizer`` and ``annotators`` (in order) into ``sinks``.

    ``localizer`` and ``annotators`` are plain attributes: assigning new
    annotators or a new ``localizer.settings`` takes effect on the next
    frame. Callbacks (``on_error``, ``on_finished``) run in a pipeline thread:
    keep them quick, and do not call ``stop`` from them (set a flag instead).
    """

    def __init__(self, source: Source, localizer: Localizer, annotators: Sequence[Annotator],
                 sinks: Sequence[Sink] = (), batch_size: int = 1, *, queue_size: int = 4,
                 workers: int | None = None, max_frames: int | None = None) -> None:
        if not isinstance(source, Source):
            raise TypeError(f"source must be a camvideo.video.sources.Source, got {type(source).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        self.max_frames = max_frames  # the source ends after this many frames (None: its own end)
        self._frames_read = 0
        super().__init__(source)  # pause, resume, step, seek; _done: the run ended (finished)
        self.workers = check_workers(workers)  # forward threads for files; None: auto_workers
        self.localizer = localizer
        self.annotators: tuple[Annotator, ...] = tuple(annotators)
        self.batch_size = batch_size
        self.on_error: Callable[[BaseException], None] | None = None
        self.on_finished: Callable[[], None] | None = None
        self.error: BaseException | None = None
        self.sink_errors: list[OutputError] = []
        self._sinks: list = list(sinks)
        self._sink_lock = threading.Lock()
        self._queue_size = queue_size
        self._out: queue.Queue = queue.Queue(queue_size)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._pool: ForwardPool | None = None
        self._sinks_thread: HandOff | None = None
        self._opencv_release: Callable[[], None] = lambda: None  # a file run's OpenCV threads, given back
        self._threads_before = 1
        self._stats = RunningStats()
        self._stopped = False
        self._finished_called = False
        self._ending = False  # the worker read the end with no seek to take (under _cond)

    # -- control ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None and not self._done.is_set()

    @property
    def stats(self) -> PipelineStats:
        return self._stats.snapshot(self.source.dropped)

    @property
    def sinks(self) -> tuple:
        with self._sink_lock:
            return tuple(self._sinks)

    def start(self) -> None:
        """Start reading, inference and writing (each in its own thread)."""
        if self._stopped:
            raise RuntimeError("this pipeline was stopped; build a new one")
        if self._worker is not None:
            return
        self._launch()

    def _launch(self) -> None:
        self._done.clear()
        self._ending = False
        self._finished_called = False
        # Live: one annotated frame waits for the writer at most; a slow output holds the
        # worker back and the source's newest-frame slot drops the backlog instead.
        self._out = queue.Queue(LIVE_QUEUE_SIZE if self.source.live else self._queue_size)
        self._pool = self._sinks_thread = None
        if not self.source.live and isinstance(self.localizer, SplitLocalizer):
            workers = self.workers or auto_workers(self.localizer.model, self.localizer.method.forward)
            if not self.localizer.method.parallel:
                workers = 1  # e.g. Grad-CAM: one backward graph at a time on the model
            self._pool = ForwardPool(workers, join_timeout=JOIN_TIMEOUT_S)
            self._sinks_thread = HandOff(self._emit, SINK_QUEUE_SIZE, name="camvideo-sinks",
                                         on_error=self._failed, on_end=self._ended)
            self._opencv_release()
            self._opencv_release = _hold_opencv_threads(file_run=True)
        self._threads_before = torch.get_num_threads()
        try:
            self.source.start()
        except BaseException:
            self._unlaunch()
            raise
        self._worker = threading.Thread(target=self._work, name="camvideo-worker")
        self._writer = threading.Thread(target=self._write_loop, name="camvideo-writer")
        self._writer.start()
        self._worker.start()

    def _unlaunch(self) -> None:
        """A source that failed to start: end the sinks thread and the pool, give
        OpenCV's threads back; no finished callback (the caller gets the error)."""
        self._finished_called = True
        if self._sinks_thread is not None:
            self._sinks_thread.end()
            self._sinks_thread.join(JOIN_TIMEOUT_S)
        if self._pool is not None:
            self._pool.close()
        self._opencv_release()

    def seek(self, seconds: float) -> None:
        """Continue from ``seconds`` (files); resets temporal state. While paused,
        the frame there is processed once so a view can show it (``Source.seek``).
        After the end it runs again (while the run still writes its last frames,
        once they are written)."""
        with self._cond:
            super().seek(seconds)
            ending = self._ending
        if ending and not self._stopped and not self._in_pipeline_thread():
            self._done.wait(JOIN_TIMEOUT_S)  # the worker has left: the run ends, then runs again
        if self._done.is_set() and not self._stopped and self._worker is not None and self.error is None:
            self._join_threads()  # ended at the end of the file: run again from there
            self._launch()

    def add_sink(self, sink: Sink) -> None:
        with self._sink_lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Detach ``sink`` (after the frame being written) and close it."""
        with self._sink_lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
        sink.close()

    def stop(self) -> None:
        """Stop every thread, then close the source and the sinks (recordings are
        finalized and stay playable). Idempotent. Raises the first sink close error
        as ``OutputError`` after everything is closed (not logged: the caller says
        it); the others are logged."""
        if self._in_pipeline_thread():
            raise RuntimeError("stop() from a pipeline callback would deadlock; set a flag and stop from another thread")
        self._stopped = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._join_threads()
        self._opencv_release()  # once: a run that ended gave it back already
        self._done.set()
        first_error = None
        try:
            self.source.close()
        finally:
            with self._sink_lock:
                sinks, self._sinks = self._sinks, []
            for sink in sinks:
                try:
                    sink.close()
                except Exception as exc:  # noqa: BLE001 - keep closing the others
                    error = _as_output_error(sink, exc)
                    if first_error is None:
                        first_error = error  # raised: the front end words it once
                    else:
                        log.error("%s", error)  # not raised: said here
        if first_error is not None:
            raise first_error

    def _join_threads(self) -> None:
        for thread in (self._worker, self._writer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(JOIN_TIMEOUT_S)
                if thread.is_alive():
                    log.error("%s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_S)
        if self._sinks_thread is not None and not self._in_sinks_thread():
            self._sinks_thread.join(JOIN_TIMEOUT_S)
        if self._pool is not None:
            self._pool.close()  # after the writer: it may still wait on a forward pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source is exhausted and every frame written (or an error,
        or ``stop``); True when finished."""
        return self._done.wait(timeout)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- worker thread ----------------------------------------------------------
    def _next_frame(self, more: bool = False) -> Frame | None | bool:
        """A frame, None at the end (the source's, or ``max_frames``), False when
        stopping. Waits while the source is paused, handling seeks meanwhile; the
        next frame of a batch (``more``) is False instead when a seek or a pause
        comes first (the batch goes as it is)."""
        if self.max_frames is not None and self._frames_read >= self.max_frames:
            return None
        while not self._stop.is_set():
            if self._seek_to is not None or (more and self.source.paused):
                if more:
                    return False
                self._seek()
                continue
            try:
                frame = self.source.read(timeout=_POLL_S)
            except TimeoutError:
                continue
            if frame is not None:
                self._frames_read += 1
                return frame
            with self._cond:
                if self._seek_to is None:  # else a seek came with the end: it reads on from there
                    self._ending = True
                    return None
        return False

    def _seek(self) -> None:
        target = self._take_seek()
        if target is None:
            return
        self.source.seek(target)
        if self._pool is not None:
            self._put(_RESET)  # the writer finishes frames: it resets, in order
        else:
            self._reset_localizer()

    def _work(self) -> None:
        # Live: this thread runs the whole inference stage, one frame in flight.
        threads = self._live_threads() if self._pool is None else None
        try:
            with torch_threads(threads, self._threads_before):
                self._work_loop()
        except BaseException as exc:  # noqa: BLE001 - becomes error + on_error
            log.debug("pipeline worker failed", exc_info=True)
            self.error = exc
            self._call(self.on_error, exc)
        finally:
            self._put(_END, force=True)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            first = self._next_frame()
            if not first:  # None: the end; False: stopping
                break
            batch = [first]
            if not self.source.live and not self.source.paused:
                while len(batch) < self.batch_size:
                    more = self._next_frame(more=True)
                    if not more:
                        break
                    batch.append(more)
            if not self._dispatch(batch):
                break

    def _reset_localizer(self) -> None:
        reset = getattr(self.localizer, "reset", None)
        if callable(reset):
            reset()

    def _dispatch(self, batch: list[Frame]) -> bool:
        """Files: the forward pass to the pool, the rest to the writer. Live: all
        of it here (one frame in flight). False when stopping."""
        localizer = self.localizer
        images = [f.image for f in batch]
        if self._pool is not None:
            return self._put(_Forwarded(batch, localizer, self._pool.submit(localizer.forward, images)))
        threads = self._live_threads()  # the window may have switched runtimes
        if threads is not None and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        results = localizer(images, [f.index for f in batch], [f.time for f in batch])
        for item in self._annotate(batch, results):
            if not self._put(item):
                return False
        return True

    def _live_threads(self) -> int | None:
        return live_threads(getattr(self.localizer, "model", None), getattr(self.localizer, "runtime", "torch"))

    def _annotate(self, batch: list[Frame], results: list[FrameResult], pool=None):
        """A ``ProcessedFrame`` per frame, the annotators timed together; with an
        ``I420Pool`` (``_recording_pool``), its picture converted for the recorder
        here, while the annotators' picture is still in this core's cache."""
        annotators = self.annotators
        for frame, result in zip(batch, results):
            start = _clock()
            annotated = frame.image
            for annotator in annotators:
                annotated = annotator.annotate(annotated, result)
            if annotated is frame.image:  # no annotator: the sinks get a picture of their own
                annotated = frame.image.copy()
            # Beside the result (never in it: its timings were set when it was made).
            self._stats.add({**result.timings, "read": frame.read_ms, "annotate": (_clock() - start) * 1000.0})
            yield ProcessedFrame(frame, annotated, result, None if pool is None else pool.convert(annotated))

    def _put(self, item, force: bool = False) -> bool:
        """False when stopping or when the writer has ended (an error)."""
        while force or not self._stop.is_set():
            try:
                self._out.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                if self._writer is not None and not self._writer.is_alive():
                    return False
        return False

    # -- writer thread ----------------------------------------------------------
    def _write_loop(self) -> None:
        # Files: this thread also finishes the frames (small tensor ops): at one
        # intra-op thread, so that no second OpenMP team competes with the pool's.
        threads = 1 if self._pool is not None else None
        try:
            with torch_threads(threads, self._threads_before):
                while True:
                    item = self._out.get()
                    if item is _END:
                        break
                    if item is _RESET:
                        self._reset_localizer()
                    elif isinstance(item, _Forwarded):
                        if self._stop.is_set():
                            continue  # stopping: frames not finished yet are not written
                        if not self._finish(item):
                            break  # the sinks thread has ended (an error)
                    else:
                        self._emit(item)
        except BaseException as exc:  # noqa: BLE001
            log.debug("pipeline writer failed", exc_info=True)
            self._failed(exc)
        finally:
            # Files: the sinks thread ends the run once the frames before are written.
            (self._sinks_thread.end if self._sinks_thread is not None else self._ended)()

    def _finish(self, item: _Forwarded) -> bool:
        """A forwarded batch's in-order half and overlay, to the sinks thread; False if it ended.
        Where a sink exports JSON lines (``takes_lines``), each result's line is made here
        (``FrameResult.json_line``), the batch's one after another, while the results are in
        this core's cache (on the sinks thread they arrive cold: docs/measuring.md)."""
        batch = item.frames
        results = item.localizer.finish(item.evidence.result(), [f.index for f in batch], [f.time for f in batch])
        if any(getattr(sink, "takes_lines", False) for sink in list(self._sinks)):
            for result in results:  # the JSONL line made here, while the result is in this core's cache
                _ = result.json_line  # read once: kept in the result
        for ready in self._annotate(batch, results, self._recording_pool()):
            if not self._sinks_thread.put(ready):
                return False
        return True

    def _recording_pool(self):
        """The ``i420_pool`` of the first sink when it is the one sink that has one (a
        ``Recorder``), else None: files convert the recording's pictures on the writer
        (the sinks thread would read them from the other core's cache: ~0.1 CPU ms a
        frame more). A sink before the recorder may draw into the picture: then the
        recorder converts it itself."""
        pools = [getattr(sink, "i420_pool", None) for sink in list(self._sinks)]
        return pools[0] if pools and pools[0] is not None and pools.count(None) == len(pools) - 1 else None

    def _failed(self, exc: BaseException) -> None:
        self.error = self.error or exc
        self._call(self.on_error, exc)

    def _ended(self) -> None:
        """Every frame written (or an error): the run is done."""
        self._opencv_release()
        self._done.set()
        if not self._finished_called:
            self._finished_called = True
            self._call(self.on_finished)

    def _in_pipeline_thread(self) -> bool:
        """True in the worker, the writer or the sinks thread (a callback)."""
        return threading.current_thread() in (self._worker, self._writer) or self._in_sinks_thread()

    def _in_sinks_thread(self) -> bool:
        return self._sinks_thread is not None and self._sinks_thread.is_current()

    def _emit(self, item: ProcessedFrame) -> None:
        start = _clock()
        with self._sink_lock:
            for sink in list(self._sinks):
                try:
                    sink.write(item)
                except Exception as exc:  # noqa: BLE001 - one sink failing keeps the others
                    self._sink_failed(sink, exc)
        self._stats.written((time.monotonic() - item.frame.captured) * 1000.0, (_clock() - start) * 1000.0)

    def _sink_failed(self, sink, exc: Exception) -> None:
        """Called with the sink lock held: detach the sink, keep its file, report (to
        ``on_error`` and ``sink_errors``: the front end words it once)."""
        error = _as_output_error(sink, exc)
        log.debug("%s", error)
        self._sinks.remove(sink)
        try:
            sink.close()
        except Exception as close_exc:  # noqa: BLE001
            log.debug("closing the failed sink: %s", close_exc)
        self.sink_errors.append(error)
        self._call(self.on_error, error)

    def _call(self, callback, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a bad callback must not kill the pipeline
            log.exception("pipeline callback %r failed", callback)


def _as_output_error(sink, exc: BaseException) -> CamvideoError:
    if isinstance(exc, CamvideoError):
        return exc
    where = getattr(sink, "path", None) or type(sink).__name__
    if isinstance(exc, OSError):
        return OutputError(f"cannot write {where}: {exc.strerror or exc}")
    return OutputError(f"writing {where} failed: {exc}")
