"""Live sources: cameras (OpenCV) and network streams (PyAV).

Both give times counted from opening and, by their kind, the newest-frame policy
(``camvideo.video.policies.LatestFrame``): a slow consumer gets the newest frame,
never a backlog. A stream that stalls or ends is reopened with growing backoff; a
camera that stops giving pictures ends with an ``InputError``. ``open_stream``
opens a URL once, for ``open_source`` to tell a live stream from a file on an
http server (the container has a duration).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import cv2

from camvideo.errors import InputError, reason
from camvideo.video.decoding import PacketDecoder, av_image, bgr_reformatter
from camvideo.video.policies import BufferPolicy
from camvideo.video.reader import Frame, Source

log = logging.getLogger(__name__)


class CameraSource(Source):
    """A camera through OpenCV; times count from opening. Latest-frame policy."""

    kind = "camera"

    def __init__(self, index: int, *, policy: BufferPolicy | None = None) -> None:
        if index < 0:
            raise InputError(f"camera index must be 0 or more, got {index}")
        with _quiet_opencv():  # the user gets one clear line, not backend chatter
            cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"camera {index}: no camera there (is it plugged in, and free?); "
                             "try another index, a video file or a stream URL")
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise InputError(f"camera {index}: opened but gave no picture; is another program using it?")
        self._cap = cap
        self._first = image
        super().__init__(f"camera {index}", live=True, size=(image.shape[1], image.shape[0]), policy=policy)

    def _frames(self, start: float) -> Iterator[Frame]:
        t0 = time.monotonic()
        index = 0
        if self._first is not None:
            yield Frame(self._first, 0, 0.0)
            self._first = None
            index = 1
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                raise InputError(f"{self.name}: the camera stopped giving pictures (unplugged?)")
            yield Frame(image, index, time.monotonic() - t0)
            index += 1

    def _release(self) -> None:
        self._cap.release()


STREAM_RETRIES = 5  # reopen attempts in a row before a stream is given up on (the command line)
STALL_S = 5.0  # a stream that sends no frame for this long is given up on (opening) or reopened


def open_stream(url: str, stall_s: float = STALL_S):
    """The PyAV container of a network stream (or of a file on an http server),
    or an InputError that says what happened: no answer at all, or an answer that
    is no stream (``camvideo.video.netcheck``), or FFmpeg's reason."""
    import av

    options = {"rtsp_transport": "tcp"} if url.lower().startswith("rtsp") else {}
    began = time.monotonic()
    try:
        return av.open(url, options=options, timeout=(stall_s, stall_s))
    except (av.FFmpegError, OSError) as exc:
        waited = time.monotonic() - began >= 0.9 * stall_s
        cannot_open = InputError(f"{url}: cannot open the stream ({reason(exc)}); check the address and the network")
        # "Invalid data" can come at once or at the wait, depending on what the
        # first bytes of an answer that is no stream happen to be (CI saw both):
        # either way the server's own answer says more than FFmpeg's reason.
        if not waited and not isinstance(exc, av.error.InvalidDataError):
            raise cannot_open from None
    # FFmpeg's reason ("invalid data", "immediate exit") reads the same whether
    # the server was silent or sent what is no stream: ask the server.
    from camvideo.video.netcheck import server_answer

    answer = server_answer(url, min(2.0, stall_s))
    if answer is None and not waited:
        raise cannot_open
    if answer is None:
        raise InputError(f"{url}: no answer from the stream within {stall_s:g} s; check the address, "
                         "that the camera or server is on, and the network")
    when = f" within {stall_s:g} s" if waited else ""
    raise InputError(f"{url}: no video{when}: {answer}; check the address (scheme, port and path)")


class StreamSource(Source):
    """A network stream (RTSP, HTTP, ...) through PyAV, decoded packet by packet (a
    bad packet is skipped, ``skipped`` counts them). Latest-frame policy; a stream
    that gives no frame for ``stall_s`` seconds is reopened with growing backoff
    (up to ``max_wait_s`` between attempts), ``max_retries`` times in a row (None:
    for as long as the source runs, the window's way: a camera that reboots comes back)."""

    kind = "stream"

    def __init__(self, url: str, stall_s: float = STALL_S, max_retries: int | None = STREAM_RETRIES, *,
                 policy: BufferPolicy | None = None, container=None, max_wait_s: float = 8.0) -> None:
        """``container``: the stream already opened by ``open_stream`` (else opened here)."""
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more (or None), got {max_retries}")
        if not max_wait_s > 0:
            raise ValueError(f"max_wait_s must be positive, got {max_wait_s}")
        self.url = url
        self.stall_s = stall_s
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self._skipped_at: set = set()
        container = container if container is not None else open_stream(url, stall_s)
        if not container.streams.video:
            container.close()
            raise InputError(f"{url}: the stream has no video")
        self._container = container
        super().__init__(url, live=True, policy=policy)

    @property
    def skipped(self) -> int:
        return len(self._skipped_at)

    def _facts(self) -> dict:
        return {"location": self.url}

    def _open(self):
        import av

        options = {"rtsp_transport": "tcp"} if self.url.lower().startswith("rtsp") else {}
        return av.open(self.url, options=options, timeout=(self.stall_s, self.stall_s))

    def _frames(self, start: float) -> Iterator[Frame]:
        import av

        index, retries, t0 = 0, 0, time.monotonic()
        container = self._container
        while not self._stop.is_set():
            try:
                if container is None:
                    container = self._open()
                    self._container = container
                decoder = PacketDecoder(container, container.streams.video[0], self.url, retry_demux=False,
                                        skipped=self._skipped_at, on_warning=self._warn)
                reformatter = bgr_reformatter()  # one swscale context for the connection (av_image)
                for frame in decoder:
                    retries = 0
                    yield Frame(av_image(frame, reformatter), index, time.monotonic() - t0)
                    index += 1
                    if self._stop.is_set():
                        return
                self._warn(f"{self.url}: the stream ended; reopening", log)
            except (av.FFmpegError, OSError) as exc:
                self._warn(f"{self.url}: {_why_lost(exc, self.stall_s)}; reopening", log)
            if container is not None:
                container.close()
                container = None
                self._container = None
            retries += 1
            if self.max_retries is not None and retries > self.max_retries:
                raise InputError(f"{self.url}: the stream gave no frame after {self.max_retries} reopen attempts")
            self._stop.wait(min(0.5 * 2 ** min(retries, 8), self.max_wait_s))

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _why_lost(exc: Exception, stall_s: float) -> str:
    """Why a stream stopped, in words: the timeout that ends a silent read is FFmpeg's
    "Immediate exit requested" (AVERROR_EXIT); anything else is its own reason."""
    import av

    if isinstance(exc, av.error.ExitError):
        return f"nothing came for {stall_s:g} s"
    return reason(exc)


@contextlib.contextmanager
def _quiet_opencv():
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)
