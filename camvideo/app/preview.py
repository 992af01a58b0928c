"""The source's frames as they are while the model loads: the window's first seconds.

A ``Pipeline`` needs torch and a model (seconds on two cores: torch's import, the
model's load). Until the session starts one, ``Preview`` reads the opened source in
a thread of its own and hands each frame to the window's sink with an empty result
and no overlay, so the video plays as soon as the source opens. It has the
pipeline's playback controls on the same source (``PlaybackControls``: pause,
step, seek, ``finished``);
``stop`` hands the source over where the preview left it (paused or not, a seek
still to do), and the pipeline reads on from there. While it plays it shows at
most ``PREVIEW_FPS`` frames a second (each frame paused, stepped or sought to):
the model's load wants the CPU more (measured on 2 busy cores: every frame shown
took ~10 ms of CPU each, and the load of lite0 half as long again). Nothing here
imports torch.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from camvideo.frames import ProcessedFrame
from camvideo.runtime.plain import NoLocalizer  # numpy only
from camvideo.video.controls import PlaybackControls

log = logging.getLogger(__name__)

POLL_S = 0.05  # a read waits this long before it looks for a stop or a seek again
PREVIEW_FPS = 12.0  # frames shown a second while playing (the rest are read and dropped)
STOP_WAIT_S = 0.1  # stop waits this long for the thread (a read polls every POLL_S); a busy one ends by itself


class Preview(PlaybackControls):
    """Plays ``source`` into ``sink`` (``write(ProcessedFrame)``) without a model,
    in a thread, until ``stop``. ``on_error(exc)`` and ``on_finished()`` run in
    that thread when the source fails or ends (``finished``: a seek plays it again)."""

    def __init__(self, source, sink, on_error: Callable[[BaseException], None] = lambda exc: None,
                 on_finished: Callable[[], None] = lambda: None, max_fps: float | None = PREVIEW_FPS) -> None:
        super().__init__(source)
        self.interval = 1.0 / max_fps if max_fps else 0.0  # seconds between frames shown while playing
        self._shown_at = -float("inf")  # time.monotonic() of the frame shown last
        self.sink = sink
        self.on_error = on_error
        self.on_finished = on_finished
        self.error: BaseException | None = None
        self.frames = 0  # frames handed to the sink
        self.last_time: float | None = None  # the time of the last frame read (shown or not)
        self._skipped = None  # the last frame read and not shown (playing faster than max_fps)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handing = threading.RLock()  # held while a frame or the end is handed on; stop waits for it
        self._gone = False  # stop has returned: nothing more is handed on
        self._seeking: float | None = None  # the seek the thread is doing now
        self._empty = NoLocalizer()

    def seek(self, seconds: float) -> None:
        """Continue from ``seconds`` (files; a negative time is 0; while paused the
        frame there shows once; after the end it plays again). NaN or an infinite
        time raises ValueError, as ``PlaybackControls.seek``."""
        seconds = float(seconds)
        super().seek(max(0.0, seconds) if math.isfinite(seconds) else seconds)

    # -- the thread ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="camvideo-preview", daemon=True)
            self._thread.start()

    def stop(self) -> float | None:
        """End the thread (the source stays open, as it is); returns a seek that
        was asked for and not done yet (seconds), for whoever reads on.

        It waits for the thread at most ``STOP_WAIT_S`` (the GUI thread calls it;
        a frame read meanwhile, a step's say, is still shown), and for a frame
        being handed to the sink (a conversion: milliseconds). A thread still busy
        then (a read or a seek of a slow source) ends by itself: it hands nothing
        on after ``stop`` (no frame, no end, no error); a frame it reads is lost
        to whoever reads on; a seek it is doing is returned too, to be done again."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        busy = thread is not None and thread is not threading.current_thread()
        if busy:
            thread.join(STOP_WAIT_S)
            busy = thread.is_alive()
            if busy:
                log.info("the preview thread is still busy; it ends by itself")
        with self._handing:  # from here on the thread hands nothing on
            self._gone = True
        with self._cond:
            pending, self._seek_to = self._seek_to, None
            return pending if pending is not None or not busy else self._seeking

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                target = self._take_seek()
                if target is None and self._done.is_set():
                    self._cond.wait(POLL_S)  # ended: only a seek (or the stop) goes on
                    continue
            if target is not None:
                self._done.clear()
                self._seeking = target
                self.source.seek(target)
                self._seeking = None
                self._shown_at, self._skipped = -float("inf"), None  # the frame there shows
                continue
            self._read_one()

    def _read_one(self) -> None:
        """One frame to the sink; at the end (or a failure) ``finished``. After
        ``stop`` has returned nothing is handed on (``_handing``)."""
        try:
            frame = self.source.read(timeout=POLL_S)
        except TimeoutError:  # paused, or no frame yet
            return
        except Exception as exc:  # noqa: BLE001 - told through on_error, as a pipeline does
            log.debug("preview: reading %s failed", self.source.name, exc_info=True)
            with self._handing:
                if not self._gone:
                    self.error = exc
                    self._done.set()
                    self.on_error(exc)
            return
        with self._handing:
            if not self._gone:
                self._hand_on(frame)

    def _hand_on(self, frame) -> None:
        """``frame`` to the sink (None: the end); while playing at most max_fps a
        second, and the last frame always (the end shows the file's last picture)."""
        if frame is None:
            if self._skipped is not None:
                self._show(self._skipped)
            self._done.set()
            self.on_finished()
            return
        self.last_time = frame.time
        if time.monotonic() - self._shown_at < self.interval and not self.source.paused:
            self._skipped = frame  # playing: at most max_fps frames shown a second
            return
        self._show(frame)

    def _show(self, frame) -> None:
        self._shown_at, self._skipped = time.monotonic(), None
        result = self._empty([frame.image], [frame.index], [frame.time])[0]
        self.sink.write(ProcessedFrame(frame, frame.image, result))
        self.frames += 1
